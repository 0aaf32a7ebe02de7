//! The GitOps Lab engine: the brain behind the UI, the desktop shell, web mode and the headless CLI.
//!
//! An [`Engine`] is one learner's session. It connects to a cluster (the sandbox as a supervised
//! child process, minikube, or any kubeconfig context) and reaches it only through the Kubernetes
//! API with kube-rs — never into the sandbox's internals — so what works on the sandbox works on a
//! real cluster. Shells send it [`protocol::Command`]s with [`Engine::handle`] and forward the
//! [`protocol::Event`]s it publishes ([`Engine::subscribe`]).
//!
//! Parts, bottom-up: [`cluster`] (connections), then the parts that use a cluster, composed in
//! `engine.rs`. It is not a UI and holds no process globals: web mode and the planned workshop mode
//! run one engine per session in one process.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bus;
pub mod ci;
pub mod cluster;
mod config;
pub mod diff;
mod engine;
mod error;
pub mod exercises;
pub mod gitops;
pub mod kubectl;
pub mod live;
pub mod operator;

pub use bus::{EventBus, Subscription};
pub use config::EngineConfig;
pub use engine::Engine;
pub use error::{Error, Result};
pub use gitops_lab_protocol as protocol;

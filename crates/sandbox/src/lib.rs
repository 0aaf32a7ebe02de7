//! The GitOps Lab sandbox: an embedded Kubernetes cluster on loopback.
//!
//! It speaks the real Kubernetes REST API — discovery, CRUD, patch, watch, tables, OpenAPI, and the
//! pod streams (logs, exec, attach, port-forward) — so that the real `kubectl` and kube-rs work
//! against it unchanged, and it keeps its objects in a durable embedded store. This crate is the
//! HTTP side and the composition root: [`server::run`] builds the node and the controllers over a
//! [`Sandbox`] (from `gitops-lab-sandbox-core`) and serves the [`api`] over [`tls`] until shutdown;
//! [`kubeconfig`] writes what clients need to find it.
//!
//! It is not a client library and knows nothing of the lab engine: the engine reaches it, like any
//! other cluster, through the Kubernetes API.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod addons;
pub mod api;
pub mod in_pod_kubectl;
pub mod kubeconfig;
pub mod server;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;

pub use gitops_sandbox_core::Sandbox;
pub use gitops_sandbox_core::cluster::SandboxError;
/// The node's pace (`instant` or `realistic`), which `sandbox serve --pace` sets.
pub use gitops_sandbox_node::pace;

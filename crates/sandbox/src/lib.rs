//! The GitOps Lab sandbox: an embedded Kubernetes cluster on loopback.
//!
//! It speaks the real Kubernetes REST API — discovery, CRUD, patch, watch, tables, OpenAPI — so
//! that the real `kubectl` and kube-rs work against it unchanged, and it keeps its objects in a
//! durable embedded store. The main types are [`Sandbox`] (shared state: registry, store, watch
//! fan-out) and [`server::run`], which serves it on a listener until shutdown.
//!
//! It is not a client library and knows nothing of the lab engine: the engine reaches it, like any
//! other cluster, through the Kubernetes API.
#![deny(missing_docs)]

pub mod admission;
pub mod auth;
pub mod api;
pub mod controllers;
pub mod cron;
pub mod errors;
pub mod events;
pub mod kubeconfig;
pub mod names;
pub mod openapi;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod service_ip;
pub mod table;
pub mod tls;
pub mod store;
pub mod watch;
pub mod cluster;
pub mod lifecycle;
pub mod in_pod_kubectl;
pub mod node;

pub use cluster::Sandbox;

//! kubectl's behaviour over kube-rs: the commands a learner types in chapter 2, carried out through
//! the Kubernetes API with kubectl's requests and printing what kubectl prints.
//!
//! [`manifest`] reads files (file/line errors), [`resolve`] maps kinds to resources through
//! discovery, [`apply`] is client-side apply byte for byte ([`last_applied`] is the annotation),
//! [`rest`] the plain requests, [`output`] what is printed. A [`Kubectl`] is cheap: make one per
//! cluster handle.

pub mod apply;
pub mod last_applied;
pub mod manifest;
pub mod output;
pub mod resolve;
pub mod rest;
pub mod rollout;

pub use apply::{Applied, ApplyAction, ApplyOptions, PatchPlan, plan_patch};
pub use manifest::{Manifest, ManifestError, parse};
pub use output::CommandOutput;

use crate::cluster::ClusterHandle;
use resolve::Resolver;
use std::sync::Arc;

/// Runs kubectl-like commands against one cluster.
#[derive(Clone)]
pub struct Kubectl {
    client: kube::Client,
    default_namespace: String,
    resolver: Arc<Resolver>,
}

impl Kubectl {
    /// A runner for the cluster of `handle`.
    pub fn new(handle: &ClusterHandle) -> Kubectl {
        Kubectl::from_client(handle.client.clone(), handle.default_namespace.clone())
    }

    /// A runner for a client, with the namespace used for objects that name none.
    pub fn from_client(client: kube::Client, default_namespace: String) -> Kubectl {
        Kubectl { client, default_namespace, resolver: Arc::new(Resolver::default()) }
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The namespace for objects that name none.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }
}

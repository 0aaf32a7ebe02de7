//! kubectl's behaviour over kube-rs: the commands a learner types in chapter 2, carried out through
//! the Kubernetes API with kubectl's requests and printing what kubectl prints.
//!
//! [`manifest`] reads files (file/line errors), [`resolve`] maps kinds to resources through
//! discovery, [`apply`] is client-side apply byte for byte ([`last_applied`] is the annotation),
//! [`rest`] the plain requests, [`output`] what is printed; [`command_line`] parses the lines a
//! learner (or an exercise) writes and [`run`] carries them out. A [`Kubectl`] is cheap: make one per
//! cluster handle.

pub mod apply;
pub mod command_line;
mod create;
mod exec;
pub mod get;
pub mod imperative;
pub mod last_applied;
pub mod manifest;
mod objects;
pub mod output;
pub mod resolve;
pub mod rest;
pub mod rollout;
pub mod run;
mod types;
mod words;
pub mod yaml;

pub use apply::{Applied, ApplyAction, ApplyOptions, PatchPlan, plan_patch};
pub use command_line::{CommandLine, Verb, parse_command_line};
pub use manifest::{Manifest, ManifestError, parse};
pub use output::CommandOutput;
pub use run::{DirectoryFiles, FileSource, Outcome, RunOptions};

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

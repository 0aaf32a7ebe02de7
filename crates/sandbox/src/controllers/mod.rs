//! The controllers that make the sandbox act like a cluster, each a reconcile function driven by
//! watch events and requeues through [`runtime`].

pub mod cronjob;
pub mod deployment;
pub mod deployment_status;
mod deployment_sync;
pub mod garbage_collector;
pub mod job;
pub mod namespace;
pub mod owners;
pub mod replicaset;
pub mod rollout;
pub mod runtime;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod workload_tests;

pub use runtime::{Action, Controller, ObjectRef};

use crate::cluster::Sandbox;
use std::sync::Arc;

/// Every controller the sandbox runs, in start order.
pub fn all() -> Vec<Arc<dyn Controller>> {
    vec![
        Arc::new(replicaset::ReplicaSetController),
        Arc::new(deployment::DeploymentController),
        Arc::new(garbage_collector::GarbageCollector::default()),
        Arc::new(namespace::NamespaceController),
        Arc::new(job::JobController),
        Arc::new(cronjob::CronJobController),
        Arc::new(crate::node::heartbeat::NodeStatus),
        Arc::new(crate::node::scheduler::Scheduler),
        Arc::new(crate::node::kubelet::Kubelet),
        Arc::new(crate::node::kubelet::ConfigMapVolumes),
    ]
}

/// Starts every controller as a task; they stop when `shutdown` turns true.
pub fn start(sandbox: &Arc<Sandbox>, shutdown: tokio::sync::watch::Receiver<bool>) {
    sandbox.node().attach(sandbox);
    for controller in all() {
        tokio::spawn(runtime::run(sandbox.clone(), controller, shutdown.clone()));
    }
}

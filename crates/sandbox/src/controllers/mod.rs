//! The controllers that make the sandbox act like a cluster, each a reconcile function driven by
//! watch events and requeues through [`runtime`]. The node's own controllers (scheduler, kubelet)
//! live with the node; the composition root (`server::run`) starts both sets.

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

use std::sync::Arc;

/// The workload controllers, in start order.
pub fn all() -> Vec<Arc<dyn Controller>> {
    vec![
        Arc::new(replicaset::ReplicaSetController),
        Arc::new(deployment::DeploymentController),
        Arc::new(garbage_collector::GarbageCollector::default()),
        Arc::new(namespace::NamespaceController),
        Arc::new(job::JobController),
        Arc::new(cronjob::CronJobController),
    ]
}

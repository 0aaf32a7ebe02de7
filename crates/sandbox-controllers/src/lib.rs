//! The controllers that make the sandbox act like a cluster: a runtime ([`runtime`]: a
//! de-duplicating work queue fed by store events, requeue timers and outside triggers) and the
//! workload controllers it drives, each a `reconcile(target) -> Action` function ([`Controller`]).
//!
//! They change objects only through the core's [`Sandbox`](gitops_sandbox_core::Sandbox)
//! operations, like any API client. The node's own controllers (scheduler, kubelet) live with the
//! node and use this runtime; the composition root (`server::run` in `gitops-lab-sandbox`) starts
//! both sets. This crate imports only the core.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod autoscaler;
pub mod autoscaler_math;
#[cfg(test)]
mod autoscaler_tests;
pub mod clusterrole_aggregation;
pub mod crd_cleanup;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod deployment_status;
mod deployment_sync;
mod endpoint_slices;
pub mod endpoints;
pub mod garbage_collector;
pub mod job;
#[cfg(test)]
mod kinds_tests;
pub mod namespace;
pub mod owners;
pub mod provisioner;
pub mod replicaset;
pub mod revisions;
pub mod rollout;
pub mod runtime;
pub mod statefulset;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod workload_tests;

pub use runtime::{Action, Controller, ObjectRef};

use std::sync::Arc;

/// The workload controllers, in start order. The HorizontalPodAutoscaler's
/// ([`autoscaler::Autoscaler`]) is not among them: it needs the node's image table, which the
/// composition root hands it.
pub fn all() -> Vec<Arc<dyn Controller>> {
    vec![
        Arc::new(replicaset::ReplicaSetController),
        Arc::new(replicaset::ReplicationManager),
        Arc::new(deployment::DeploymentController),
        Arc::new(garbage_collector::GarbageCollector::default()),
        Arc::new(namespace::NamespaceController),
        Arc::new(job::JobController),
        Arc::new(cronjob::CronJobController),
        Arc::new(endpoints::EndpointsController),
        Arc::new(provisioner::Provisioner),
        Arc::new(statefulset::StatefulSetController),
        Arc::new(daemonset::DaemonSetController),
        Arc::new(clusterrole_aggregation::ClusterRoleAggregation),
        Arc::new(crd_cleanup::CrdCleanup),
    ]
}

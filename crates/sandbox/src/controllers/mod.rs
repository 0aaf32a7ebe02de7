//! The controllers that make the sandbox act like a cluster, each a reconcile function driven by
//! watch events and requeues through [`runtime`].

pub mod cronjob;
pub mod job;
pub mod runtime;

pub use runtime::{Action, Controller, ObjectRef};

use crate::cluster::Sandbox;
use std::sync::Arc;

/// Every controller the sandbox runs, in start order.
pub fn all() -> Vec<Arc<dyn Controller>> {
    vec![
        Arc::new(job::JobController),
        Arc::new(cronjob::CronJobController),
    ]
}

/// Starts every controller as a task; they stop when `shutdown` turns true.
pub fn start(sandbox: &Arc<Sandbox>, shutdown: tokio::sync::watch::Receiver<bool>) {
    for controller in all() {
        tokio::spawn(runtime::run(sandbox.clone(), controller, shutdown.clone()));
    }
}

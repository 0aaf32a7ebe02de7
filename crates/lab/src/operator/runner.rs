//! The operator as the learner (or an exercise) starts it: one at a time, following the lab to
//! whichever cluster is current, stopped with the engine.

use super::NginxOperator;
use crate::bus::EventBus;
use crate::cluster::{ClusterHandle, Connection};
use crate::error::Result;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch};

/// Runs at most one NGINX operator for an engine.
pub struct OperatorRunner {
    connection: Arc<Connection>,
    bus: EventBus,
    run: Mutex<Option<Run>>,
}

struct Run {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl OperatorRunner {
    /// No operator running yet.
    pub fn new(connection: Arc<Connection>, bus: EventBus) -> OperatorRunner {
        OperatorRunner { connection, bus, run: Mutex::new(None) }
    }

    /// Starts the operator in `namespace` (the cluster's default namespace when empty), replacing
    /// one already running. It needs a cluster now, and follows the lab when it switches cluster.
    pub async fn start(&self, namespace: String) -> Result<()> {
        self.connection.require()?;
        self.stop().await;
        let (stop, stopped) = oneshot::channel();
        let namespace = Some(namespace).filter(|n| !n.trim().is_empty());
        let task = tokio::spawn(follow_cluster(self.connection.watch(), namespace, self.bus.clone(), stopped));
        *self.run.lock().unwrap_or_else(|e| e.into_inner()) = Some(Run { stop, task });
        Ok(())
    }

    /// Stops the operator, if one runs.
    pub async fn stop(&self) {
        let run = self.run.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(run) = run {
            let _ = run.stop.send(());
            let _ = run.task.await;
        }
    }
}

/// Runs the operator against the current cluster, and again against the next one after a switch.
async fn follow_cluster(
    mut clusters: watch::Receiver<Option<ClusterHandle>>,
    namespace: Option<String>,
    bus: EventBus,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let current = clusters.borrow_and_update().clone();
        let running = current.map(|handle| {
            let namespace = namespace.clone().unwrap_or(handle.default_namespace);
            NginxOperator::start(handle.client, &namespace, bus.clone())
        });
        let ended = tokio::select! {
            changed = clusters.changed() => changed.is_err(),
            _ = &mut stop => true,
        };
        if let Some(operator) = running {
            operator.stop().await;
        }
        if ended {
            return;
        }
    }
}

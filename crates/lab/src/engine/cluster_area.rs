//! The cluster area: the cluster bar's commands (list, connect, minikube) and the Rust operator.

use super::{Context, not_available};
use crate::cluster::{ClusterHandle, list_contexts};
use crate::error::Result;
use crate::operator::NginxOperator;
use gitops_lab_protocol::{ClusterChoice, ClusterOption, Command, Reply, Text};
use std::sync::Mutex;
use tokio::sync::{oneshot, watch};

/// The state behind the cluster bar.
pub(super) struct ClusterArea {
    context: Context,
    operator: Mutex<Option<OperatorRun>>,
}

/// The operator as the learner started it: it follows the lab to whichever cluster is current.
struct OperatorRun {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ClusterArea {
    pub(super) fn new(context: &Context) -> ClusterArea {
        ClusterArea { context: context.clone(), operator: Mutex::new(None) }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        match command {
            Command::ListClusters => Ok(Reply::Clusters(self.options())),
            Command::Connect { cluster } => Ok(Reply::Cluster(self.context.connection.connect(cluster).await?)),
            Command::OperatorStart { namespace } => self.start_operator(namespace).await,
            Command::OperatorStop => {
                self.stop_operator().await;
                Ok(Reply::Done)
            }
            other => Err(not_available(&other)),
        }
    }

    fn options(&self) -> Vec<ClusterOption> {
        let mut options = vec![
            ClusterOption {
                choice: ClusterChoice::Sandbox,
                label: Text::new("Sandbox (built in)", "沙盒（内置）"),
                available: true,
                note: None,
            },
            ClusterOption {
                choice: ClusterChoice::Minikube,
                label: Text::same("minikube"),
                available: true,
                note: None,
            },
        ];
        if let Ok(path) = crate::cluster::user_kubeconfig(self.context.config.kubeconfig.as_deref()) {
            for context in list_contexts(&path).unwrap_or_default() {
                options.push(ClusterOption {
                    choice: ClusterChoice::Context { name: context.name.clone() },
                    label: Text::same(format!("{} ({})", context.name, context.server.unwrap_or_default())),
                    available: true,
                    note: None,
                });
            }
        }
        options
    }

    /// Starts the operator in `namespace` (the cluster's default namespace when empty), replacing
    /// one already running. It needs a cluster now, and follows the lab when it switches cluster.
    async fn start_operator(&self, namespace: String) -> Result<Reply> {
        self.context.connection.require()?;
        self.stop_operator().await;
        let (stop, stopped) = oneshot::channel();
        let namespace = Some(namespace).filter(|n| !n.trim().is_empty());
        let watch = self.context.connection.watch();
        let task = tokio::spawn(follow_cluster(watch, namespace, self.context.bus.clone(), stopped));
        *self.operator.lock().unwrap_or_else(|e| e.into_inner()) = Some(OperatorRun { stop, task });
        Ok(Reply::Done)
    }

    async fn stop_operator(&self) {
        let run = self.operator.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(run) = run {
            let _ = run.stop.send(());
            let _ = run.task.await;
        }
    }

    pub(super) async fn shutdown(&self) {
        self.stop_operator().await;
    }
}

/// Runs the operator against the current cluster, and again against the next one after a switch.
async fn follow_cluster(
    mut clusters: watch::Receiver<Option<ClusterHandle>>,
    namespace: Option<String>,
    bus: crate::bus::EventBus,
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

//! The cluster area: the cluster bar's commands (list, connect, minikube) and the Rust operator.

use super::{Context, not_available};
use crate::cluster::list_contexts;
use crate::error::Result;
use gitops_lab_protocol::{ClusterChoice, ClusterOption, Command, Reply, Text};

/// The state behind the cluster bar.
pub(super) struct ClusterArea {
    context: Context,
}

impl ClusterArea {
    pub(super) fn new(context: &Context) -> ClusterArea {
        ClusterArea { context: context.clone() }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        match command {
            Command::ListClusters => Ok(Reply::Clusters(self.options())),
            Command::Connect { cluster } => Ok(Reply::Cluster(self.context.connection.connect(cluster).await?)),
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

    pub(super) async fn shutdown(&self) {}
}

//! The engine: one learner's session, composed from its parts, answering commands and publishing events.
//!
//! This file is the composition root: it builds the parts bottom-up (event bus, cluster connection,
//! then what uses the cluster) and routes each [`Command`] to the part that owns it. It holds no
//! Kubernetes or exercise logic of its own.

use crate::bus::{EventBus, Subscription};
use crate::cluster::{Connection, list_contexts};
use crate::config::EngineConfig;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ClusterChoice, ClusterOption, Command, ErrorView, Reply, Response, Text};
use std::sync::Arc;

/// One learner's session. Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    bus: EventBus,
    connection: Connection,
}

impl Engine {
    /// Builds the engine and connects to the configured cluster. A cluster that cannot be reached
    /// does not stop the engine: the status says why and the learner can pick another.
    pub async fn start(config: EngineConfig) -> Engine {
        let bus = EventBus::new();
        let connection = Connection::new(config.clone(), bus.clone());
        let engine = Engine { inner: Arc::new(Inner { config: config.clone(), bus, connection }) };
        let _ = engine.inner.connection.connect(config.cluster.clone()).await;
        engine
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The cluster connection.
    pub fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    /// Subscribes to the engine's events.
    pub fn subscribe(&self) -> Subscription {
        self.inner.bus.subscribe()
    }

    /// Answers one command.
    pub async fn handle(&self, command: Command) -> Response {
        self.dispatch(command).await.map_err(|error| error.view())
    }

    async fn dispatch(&self, command: Command) -> Result<Reply> {
        match command {
            Command::Hello => Ok(Reply::Hello {
                cluster: self.inner.connection.status(),
                exercises: Vec::new(),
                resume: None,
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
            Command::ListClusters => Ok(Reply::Clusters(self.cluster_options())),
            Command::Connect { cluster } => Ok(Reply::Cluster(self.inner.connection.connect(cluster).await?)),
            other => Err(not_available(&other)),
        }
    }

    fn cluster_options(&self) -> Vec<ClusterOption> {
        let mut options = vec![ClusterOption {
            choice: ClusterChoice::Sandbox,
            label: Text::new("Sandbox (built in)", "沙盒（内置）"),
            available: true,
            note: None,
        }];
        options.push(ClusterOption {
            choice: ClusterChoice::Minikube,
            label: Text::same("minikube"),
            available: true,
            note: None,
        });
        if let Ok(path) = crate::cluster::user_kubeconfig(self.inner.config.kubeconfig.as_deref()) {
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

    /// Stops everything the engine started (the sandbox process, port-forwards, streams).
    pub async fn shutdown(&self) {
        self.inner.connection.shutdown().await;
    }
}

fn not_available(command: &Command) -> Error {
    let name = serde_json::to_value(command)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
        .unwrap_or_default();
    Error::from(ErrorView::new(
        "not-available",
        Text::new(
            format!("This version of the lab cannot do \"{name}\" yet."),
            format!("此版本的实验室暂时还不能执行“{name}”。"),
        ),
    ))
}

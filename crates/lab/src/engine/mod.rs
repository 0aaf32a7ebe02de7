//! The engine: one learner's session, composed from its parts, answering commands and publishing events.
//!
//! This module is the composition root: it builds the parts bottom-up (event bus, cluster
//! connection, then the areas that use the cluster) and routes each [`Command`] to the area that
//! owns it. Each area lives in its own file here (`cluster_area.rs`, `live_area.rs`,
//! `exercise_area.rs`, `gitops_area.rs`) and only translates commands into calls on the engine's
//! parts; no Kubernetes or exercise logic lives in this module.

mod cluster_area;
mod exercise_area;
mod gitops_area;
mod live_area;

use crate::bus::{EventBus, Subscription};
use crate::cluster::Connection;
use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::live::Live;
use crate::operator::OperatorRunner;
use gitops_lab_protocol::{Command, ErrorView, Reply, Response, Text};
use std::sync::Arc;

/// What every area gets when it is built: the settings, the bus and the cluster connection.
#[derive(Clone)]
pub(crate) struct Context {
    /// The engine's settings.
    pub config: EngineConfig,
    /// Where events go.
    pub bus: EventBus,
    /// The cluster connection.
    pub connection: Arc<Connection>,
    /// The live model (watches, streams, port-forwards), shared by the areas that reach into pods.
    pub live: Arc<Live>,
    /// The Rust NGINX operator, started from the cluster bar or by an exercise.
    pub operator: Arc<OperatorRunner>,
}

/// One learner's session. Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    cluster: cluster_area::ClusterArea,
    live: live_area::LiveArea,
    exercises: exercise_area::ExerciseArea,
    gitops: Arc<gitops_area::GitOpsArea>,
}

impl Engine {
    /// Builds the engine and connects to the configured cluster. A cluster that cannot be reached
    /// does not stop the engine: the status says why and the learner can pick another.
    pub async fn start(config: EngineConfig) -> Engine {
        let bus = EventBus::new();
        let connection = Arc::new(Connection::new(config.clone(), bus.clone()));
        let live = Arc::new(Live::start(bus.clone(), connection.clone()));
        let operator = Arc::new(OperatorRunner::new(connection.clone(), bus.clone()));
        let context = Context { config: config.clone(), bus, connection, live, operator };
        let gitops = Arc::new(gitops_area::GitOpsArea::new(&context));
        let inner = Inner {
            cluster: cluster_area::ClusterArea::new(&context),
            live: live_area::LiveArea::new(&context),
            exercises: exercise_area::ExerciseArea::new(&context, gitops.clone()),
            gitops,
            context,
        };
        let engine = Engine { inner: Arc::new(inner) };
        let _ = engine.inner.context.connection.connect(config.cluster).await;
        engine
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.context.config
    }

    /// The cluster connection.
    pub fn connection(&self) -> &Connection {
        &self.inner.context.connection
    }

    /// The learner's exercises (the headless CLI drives them directly).
    pub fn exercises(&self) -> std::sync::Arc<crate::exercises::Exercises> {
        self.inner.exercises.exercises()
    }

    /// Subscribes to the engine's events.
    pub fn subscribe(&self) -> Subscription {
        self.inner.context.bus.subscribe()
    }

    /// Answers one command.
    pub async fn handle(&self, command: Command) -> Response {
        self.dispatch(command).await.map_err(|error| error.view())
    }

    async fn dispatch(&self, command: Command) -> Result<Reply> {
        use Command as C;
        let inner = &self.inner;
        match command {
            C::Hello => {
                let exercises = inner.exercises.summaries();
                let resume = inner.exercises.resume_point();
                Ok(Reply::Hello {
                    cluster: inner.context.connection.status(),
                    exercises,
                    resume,
                    version: env!("CARGO_PKG_VERSION").to_string(),
                })
            }
            c @ (C::ListClusters
            | C::Connect { .. }
            | C::MinikubeStart { .. }
            | C::MinikubeStop
            | C::MinikubeDelete
            | C::Cancel { .. }
            | C::OperatorStart { .. }
            | C::OperatorStop) => inner.cluster.handle(c).await,
            c @ (C::ListExercises
            | C::OpenExercise { .. }
            | C::GoToStep { .. }
            | C::RunStep { .. }
            | C::Predict { .. }
            | C::ResetExercise { .. }
            | C::Apply { .. }
            | C::Diff { .. }
            | C::Kubectl { .. }) => inner.exercises.handle(c).await,
            c @ (C::Graph
            | C::WatchNamespaces { .. }
            | C::Events
            | C::GetYaml { .. }
            | C::FollowLogs { .. }
            | C::ExecStart { .. }
            | C::ExecInput { .. }
            | C::ExecResize { .. }
            | C::StopStream { .. }
            | C::PortForwardStart { .. }
            | C::PortForwardStop { .. }
            | C::PortForwards) => inner.live.handle(c).await,
            c @ (C::Repos
            | C::RepoLog { .. }
            | C::RepoFile { .. }
            | C::RepoCommit { .. }
            | C::SyncConfigure { .. }
            | C::SyncNow
            | C::SyncStatus
            | C::SyncHistory
            | C::CiBump { .. }) => inner.gitops.handle(c).await,
        }
    }

    /// Stops everything the engine started (the sandbox process, port-forwards, streams, loops).
    pub async fn shutdown(&self) {
        self.inner.gitops.shutdown().await;
        self.inner.live.shutdown().await;
        self.inner.cluster.shutdown().await;
        self.inner.context.connection.shutdown().await;
    }
}

/// The error for a command this build cannot carry out.
pub(crate) fn not_available(command: &Command) -> Error {
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

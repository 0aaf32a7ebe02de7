//! The cluster area: the cluster bar's commands (list, connect, minikube) and the Rust operator.

use super::{Context, not_available};
use crate::cluster::list_contexts;
use crate::cluster::minikube::{DEFAULT_PROFILE, Ended, Minikube};
use crate::error::{Error, Result};
use gitops_lab_protocol::{
    ClusterChoice, ClusterOption, Command, Event, MinikubeOptions, OperationId, OperationOutcome, Reply, Text,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long the cluster bar waits for `minikube status` before listing minikube without it.
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// The state behind the cluster bar.
pub(super) struct ClusterArea {
    context: Context,
    operations: Arc<Operations>,
    /// The minikube profile of the last start, used by stop and delete.
    profile: Mutex<String>,
}

/// Long operations in flight (minikube start, stop, delete), each cancellable by its id.
#[derive(Default)]
struct Operations {
    next: AtomicU64,
    /// Dropping a sender cancels its operation too: the engine's shutdown interrupts them all.
    cancels: Mutex<HashMap<OperationId, oneshot::Sender<()>>>,
}

impl Operations {
    fn begin(&self) -> (OperationId, impl Future<Output = ()> + Send + 'static) {
        let id = OperationId(self.next.fetch_add(1, Ordering::Relaxed) + 1);
        let (cancel, cancelled) = oneshot::channel();
        self.cancels.lock().unwrap_or_else(|e| e.into_inner()).insert(id, cancel);
        (id, async move {
            let _ = cancelled.await;
        })
    }

    fn finish(&self, id: OperationId) {
        self.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn cancel(&self, id: OperationId) -> Result<()> {
        let cancel = self.cancels.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        match cancel {
            Some(cancel) => {
                let _ = cancel.send(());
                Ok(())
            }
            None => Err(Error::explained(
                "no-operation",
                Text::new(
                    format!("Operation {} is not running (it may have finished already).", id.0),
                    format!("操作 {} 没有在运行（它可能已经结束）。", id.0),
                ),
                None,
            )),
        }
    }
}

/// Which minikube command an operation runs.
#[derive(Clone, Copy)]
enum MinikubeVerb {
    Start,
    Stop,
    Delete,
}

impl ClusterArea {
    pub(super) fn new(context: &Context) -> ClusterArea {
        ClusterArea {
            context: context.clone(),
            operations: Arc::default(),
            profile: Mutex::new(DEFAULT_PROFILE.to_string()),
        }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        match command {
            Command::ListClusters => Ok(Reply::Clusters(self.options().await)),
            Command::Connect { cluster } => Ok(Reply::Cluster(self.context.connection.connect(cluster).await?)),
            Command::MinikubeStart { options } => self.minikube(MinikubeVerb::Start, options),
            Command::MinikubeStop => self.minikube(MinikubeVerb::Stop, MinikubeOptions::default()),
            Command::MinikubeDelete => self.minikube(MinikubeVerb::Delete, MinikubeOptions::default()),
            Command::Cancel { operation } => self.operations.cancel(operation).map(|()| Reply::Done),
            Command::OperatorStart { namespace } => self.context.operator.start(namespace).await.map(|()| Reply::Done),
            Command::OperatorStop => {
                self.context.operator.stop().await;
                Ok(Reply::Done)
            }
            other => Err(not_available(&other)),
        }
    }

    /// The minikube program: the configured one, else the one on `PATH`.
    fn find_minikube(&self) -> Result<Minikube> {
        match &self.context.config.minikube_binary {
            Some(path) => Minikube::at(path),
            None => Minikube::find(),
        }
    }

    async fn options(&self) -> Vec<ClusterOption> {
        let mut options = vec![
            ClusterOption {
                choice: ClusterChoice::Sandbox,
                label: Text::new("Sandbox (built in)", "沙盒（内置）"),
                available: true,
                note: None,
            },
            self.minikube_option().await,
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

    /// minikube in the cluster bar: unavailable with install guidance when missing, else its state.
    async fn minikube_option(&self) -> ClusterOption {
        let (available, note) = match self.find_minikube() {
            Err(error) => (false, error.view().hint),
            Ok(minikube) => {
                let profile = self.profile.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let status = tokio::time::timeout(STATUS_TIMEOUT, minikube.status(&profile)).await;
                (true, status.ok().and_then(Result::ok).map(|s| s.describe()))
            }
        };
        ClusterOption { choice: ClusterChoice::Minikube, label: Text::same("minikube"), available, note }
    }

    /// Starts a minikube command as a long operation: its lines arrive as progress events, it ends
    /// with a finished event, and a successful start connects the lab to the new cluster.
    fn minikube(&self, verb: MinikubeVerb, options: MinikubeOptions) -> Result<Reply> {
        let minikube = self.find_minikube()?;
        let profile = {
            let mut remembered = self.profile.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(chosen) = options.profile.clone().filter(|p| !p.is_empty()) {
                *remembered = chosen;
            }
            remembered.clone()
        };
        let options = MinikubeOptions { profile: Some(profile.clone()), ..options };
        let (id, cancel) = self.operations.begin();
        let context = self.context.clone();
        let operations = self.operations.clone();
        tokio::spawn(async move {
            let bus = context.bus.clone();
            let progress = move |line: &str| bus.publish(Event::OperationProgress { id, line: line.to_string() });
            let ended = match verb {
                MinikubeVerb::Start => minikube.start(&options, progress, cancel).await,
                MinikubeVerb::Stop => minikube.stop(&profile, progress, cancel).await,
                MinikubeVerb::Delete => minikube.delete(&profile, progress, cancel).await,
            };
            let outcome = match (ended, verb) {
                (Ok(Ended::Cancelled), _) => OperationOutcome::Cancelled,
                (Ok(_), MinikubeVerb::Start) => connect_after_start(&context, &profile).await,
                (Ok(_), _) => OperationOutcome::Succeeded { message: finished(verb, &profile) },
                (Err(error), _) => OperationOutcome::Failed { error: error.view() },
            };
            operations.finish(id);
            context.bus.publish(Event::OperationFinished { id, outcome });
        });
        Ok(Reply::Operation(id))
    }

    pub(super) async fn shutdown(&self) {
        self.context.operator.stop().await;
        // Dropping the cancel senders interrupts minikube commands still running.
        self.operations.cancels.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// After `minikube start`: connect the lab through the context minikube wrote for the profile.
async fn connect_after_start(context: &Context, profile: &str) -> OperationOutcome {
    let choice = if profile == DEFAULT_PROFILE {
        ClusterChoice::Minikube
    } else {
        ClusterChoice::Context { name: Minikube::context(profile) }
    };
    match context.connection.connect(choice).await {
        Ok(status) => OperationOutcome::Succeeded { message: status.message },
        Err(error) => OperationOutcome::Failed { error: error.view() },
    }
}

fn finished(verb: MinikubeVerb, profile: &str) -> Text {
    match verb {
        MinikubeVerb::Stop => Text::new(
            format!("minikube \"{profile}\" is stopped; start it again to continue where you left off."),
            format!("minikube“{profile}”已停止；再次启动即可从上次的位置继续。"),
        ),
        _ => Text::new(
            format!("minikube \"{profile}\" is deleted, with everything that ran in it."),
            format!("minikube“{profile}”已删除，其中运行的一切也随之删除。"),
        ),
    }
}

//! Cluster connections: the sandbox as a supervised child process, minikube, or any kubeconfig
//! context — one switch that moves the whole lab between them.
//!
//! Every other part of the engine gets a [`ClusterHandle`] (a kube-rs client and what kubectl would
//! need to reach the same cluster) from the [`Connection`], or follows its changes with
//! [`Connection::watch`]; none of them knows which kind of cluster it talks to.

pub mod access;
pub mod diagnose;
mod kubeconfig;
pub mod minikube;
mod sandbox;

pub use kubeconfig::{ContextInfo, list_contexts, user_kubeconfig};
pub use minikube::{Minikube, MinikubeStatus};
pub use sandbox::SandboxSupervisor;

use crate::bus::EventBus;
use crate::config::EngineConfig;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ClusterChoice, ClusterPhase, ClusterStatus, ErrorView, Event, Text};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long to wait for an API server's `/version` when connecting.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to talk to the current cluster.
#[derive(Clone)]
pub struct ClusterHandle {
    /// The kube-rs client.
    pub client: kube::Client,
    /// Which cluster it is.
    pub choice: ClusterChoice,
    /// The API server's URL.
    pub server: String,
    /// The namespace for objects that name none (the context's, else `default`).
    pub default_namespace: String,
    /// The kubeconfig file kubectl would use for this cluster.
    pub kubeconfig: PathBuf,
    /// The context kubectl would use (`--context`), when not the file's current one.
    pub context: Option<String>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle").field("choice", &self.choice).field("server", &self.server).finish()
    }
}

/// The connection's published state: one place that updates the status and tells the UI.
#[derive(Debug)]
pub struct StatusBoard {
    status: Mutex<ClusterStatus>,
    bus: EventBus,
}

impl StatusBoard {
    fn new(bus: EventBus, choice: ClusterChoice) -> StatusBoard {
        let status = ClusterStatus {
            choice,
            phase: ClusterPhase::Disconnected,
            server: None,
            version: None,
            message: Text::new("Not connected to a cluster yet.", "尚未连接到集群。"),
            error: None,
        };
        StatusBoard { status: Mutex::new(status), bus }
    }

    /// The current status.
    pub fn get(&self) -> ClusterStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the status with `edit` and publishes it.
    pub fn update(&self, edit: impl FnOnce(&mut ClusterStatus)) {
        let status = {
            let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
            edit(&mut status);
            status.clone()
        };
        self.bus.publish(Event::Cluster(status));
    }

    /// Publishes a notice for the learner.
    pub fn notice(&self, level: &str, message: Text) {
        self.bus.publish(Event::Notice { level: level.into(), message });
    }
}

/// What keeps the current cluster alive, if anything.
enum Keeper {
    /// Nothing: an external cluster.
    None,
    /// The supervised sandbox process.
    Sandbox(SandboxSupervisor),
}

/// The engine's connection to one cluster at a time.
pub struct Connection {
    config: EngineConfig,
    board: Arc<StatusBoard>,
    handle: watch::Sender<Option<ClusterHandle>>,
    /// Serialises connects; held across the whole switch (stop the old, start the new), which awaits.
    keeper: tokio::sync::Mutex<Keeper>,
}

impl Connection {
    /// A connection not yet connected.
    pub fn new(config: EngineConfig, bus: EventBus) -> Connection {
        let board = Arc::new(StatusBoard::new(bus, config.cluster.clone()));
        Connection { config, board, handle: watch::channel(None).0, keeper: tokio::sync::Mutex::new(Keeper::None) }
    }

    /// The current status.
    pub fn status(&self) -> ClusterStatus {
        self.board.get()
    }

    /// The current cluster, if connected.
    pub fn handle(&self) -> Option<ClusterHandle> {
        self.handle.borrow().clone()
    }

    /// Follows the current cluster: `None` while disconnected, a new value on each switch.
    pub fn watch(&self) -> watch::Receiver<Option<ClusterHandle>> {
        self.handle.subscribe()
    }

    /// The current cluster, or an error saying how to connect.
    pub fn require(&self) -> Result<ClusterHandle> {
        self.handle().ok_or_else(|| {
            let status = self.status();
            match status.error {
                Some(error) => Error::from(error),
                None => Error::explained(
                    "not-connected",
                    Text::new("The lab is not connected to a cluster.", "实验室尚未连接到集群。"),
                    Some(Text::new(
                        "Pick a cluster in the cluster bar (the sandbox needs nothing installed).",
                        "请在集群栏中选择一个集群（沙盒集群无需安装任何东西）。",
                    )),
                ),
            }
        })
    }

    /// Connects to `choice`, stopping whatever ran before (the sandbox process, if any).
    pub async fn connect(&self, choice: ClusterChoice) -> Result<ClusterStatus> {
        let mut keeper = self.keeper.lock().await;
        if let Keeper::Sandbox(supervisor) = std::mem::replace(&mut *keeper, Keeper::None) {
            supervisor.stop().await;
        }
        self.handle.send_replace(None);
        self.board.update(|s| {
            s.choice = choice.clone();
            s.phase = ClusterPhase::Connecting;
            s.server = None;
            s.version = None;
            s.error = None;
            s.message = Text::new("Connecting…", "正在连接…");
        });
        let attempt = self.open(&choice).await;
        match attempt {
            Ok((handle, new_keeper, version)) => {
                *keeper = new_keeper;
                let server = handle.server.clone();
                self.handle.send_replace(Some(handle));
                self.board.update(|s| {
                    s.phase = ClusterPhase::Connected;
                    s.server = Some(server.clone());
                    s.version = Some(version.clone());
                    s.message = Text::new(
                        format!("Connected to {server} (Kubernetes {version})."),
                        format!("已连接到 {server}（Kubernetes {version}）。"),
                    );
                });
                Ok(self.status())
            }
            Err(error) => {
                let view = error.view();
                self.board.update(|s| {
                    s.phase = ClusterPhase::Failed;
                    s.message = view.message.clone();
                    s.error = Some(view.clone());
                });
                Err(error)
            }
        }
    }

    async fn open(&self, choice: &ClusterChoice) -> Result<(ClusterHandle, Keeper, String)> {
        let (handle, keeper) = match choice {
            ClusterChoice::Sandbox => {
                let binary = self.config.resolve_sandbox_binary().ok_or_else(missing_binary)?;
                let (supervisor, kubeconfig) =
                    SandboxSupervisor::start(binary, self.config.sandbox_dir(), self.board.clone()).await?;
                let handle = kubeconfig::connect(choice.clone(), &kubeconfig, None).await?;
                (handle, Keeper::Sandbox(supervisor))
            }
            ClusterChoice::Minikube => {
                let file = kubeconfig::user_kubeconfig(self.config.kubeconfig.as_deref())?;
                (kubeconfig::connect(choice.clone(), &file, Some("minikube")).await?, Keeper::None)
            }
            ClusterChoice::Context { name } => {
                let file = kubeconfig::user_kubeconfig(self.config.kubeconfig.as_deref())?;
                (kubeconfig::connect(choice.clone(), &file, Some(name)).await?, Keeper::None)
            }
        };
        let version = match tokio::time::timeout(VERSION_TIMEOUT, handle.client.apiserver_version()).await {
            Ok(Ok(info)) => info.git_version,
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => return Err(timeout_view(&handle.server).into()),
        };
        Ok((handle, keeper, version))
    }

    /// Stops the sandbox process, if one runs.
    pub async fn shutdown(&self) {
        let mut keeper = self.keeper.lock().await;
        if let Keeper::Sandbox(supervisor) = std::mem::replace(&mut *keeper, Keeper::None) {
            supervisor.stop().await;
        }
        self.handle.send_replace(None);
    }
}

fn missing_binary() -> Error {
    Error::explained(
        "sandbox-missing",
        Text::new(
            "The sandbox cluster's program (gitops-lab) cannot be found beside this program.",
            "在本程序旁边找不到沙盒集群的程序（gitops-lab）。",
        ),
        Some(Text::new(
            "Build it with `cargo build -p gitops-lab` (scripts/lab does), or set GITOPS_LAB_BIN to its path.",
            "请用 `cargo build -p gitops-lab` 构建它（scripts/lab 会自动构建），或把 GITOPS_LAB_BIN 设为它的路径。",
        )),
    )
}

fn timeout_view(server: &str) -> ErrorView {
    ErrorView::new(
        "timeout",
        Text::new(
            format!("The API server at {server} did not answer within 10 seconds."),
            format!("位于 {server} 的 API 服务器在 10 秒内没有响应。"),
        ),
    )
    .with_hint(Text::new(
        "Check that the cluster is running and reachable from this machine, then reconnect.",
        "请确认集群正在运行且本机可以访问，然后重新连接。",
    ))
}

//! The GitOps area: the learner's repositories, the git server that serves them, the lab's sync
//! loop and the CI bump. It only translates commands into calls on [`crate::gitops`] and
//! [`crate::ci`].
//!
//! The git server starts with the engine on loopback, port 0. For minikube, whose pods cannot reach
//! the host's loopback, set `GITOPS_LAB_GIT_LISTEN` to the host's address on minikube's network
//! (e.g. `192.168.49.1:0`) and `GITOPS_LAB_GIT_HOST=host.minikube.internal`: clone URLs then name
//! the host the way minikube's pods resolve it.

use super::Context;
use crate::ci::{self, CiDeps};
use crate::error::{Error, Result};
use crate::exercises::gitops_port::{CiReport, GitOpsPort};
use crate::gitops::templates::{CONFIG_REPO, NAMES};
use crate::gitops::{GitServer, Repos, SyncController, SyncDeps, SyncSettings};
use futures::future::BoxFuture;
use gitops_lab_protocol::{
    Command, CommitView, Event, FileChange, OperationId, OperationOutcome, Reply, RepoView, SyncRunView, SyncView, Text,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a remote repository's head is asked for (local ones are never polled).
const REMOTE_POLL: Duration = Duration::from_secs(15);

/// The area's state.
pub(super) struct GitOpsArea {
    context: Context,
    repos: Arc<Repos>,
    server: Mutex<Option<GitServer>>,
    /// The sync configuration; commands clone the `Arc` out, so no lock is held across a sync run.
    sync: Mutex<Option<Arc<SyncController>>>,
    ci: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    ci_ids: AtomicU64,
}

impl GitOpsArea {
    pub(super) fn new(context: &Context) -> GitOpsArea {
        let repos = Arc::new(Repos::new(context.config.repos_dir()));
        let server = match start_server(&repos) {
            Ok(server) => Some(server),
            Err(error) => {
                context.bus.publish(Event::Notice { level: "warning".into(), message: error.view().message });
                None
            }
        };
        let area = GitOpsArea {
            context: context.clone(),
            repos,
            server: Mutex::new(server),
            sync: Mutex::new(None),
            ci: Mutex::new(Vec::new()),
            ci_ids: AtomicU64::new(1),
        };
        // A loop the learner set up before the lab restarted goes on where it was.
        if let Some(settings) = load_settings(&area.deps().state_dir) {
            match SyncController::start(settings, area.deps()) {
                Ok(controller) => *area.sync.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(controller)),
                Err(error) => {
                    context.bus.publish(Event::Notice { level: "warning".into(), message: error.view().message })
                }
            }
        }
        area
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        match command {
            Command::Repos => Ok(Reply::Repos(NAMES.iter().map(|n| self.repo_view(n)).collect::<Result<_>>()?)),
            Command::RepoLog { repo, limit } => Ok(Reply::Commits(self.repos.log(&repo, limit)?)),
            Command::RepoFile { repo, path } => Ok(Reply::File(self.repos.read(&repo, &path)?)),
            Command::RepoCommit { repo, changes, message } => {
                Ok(Reply::Commit(self.repos.commit(&repo, &changes, &message)?))
            }
            Command::SyncConfigure { repo, path, prune, auto } => {
                let settings = SyncSettings { repo, path, prune, auto, poll: REMOTE_POLL };
                Ok(Reply::Sync(self.configure(settings)?))
            }
            Command::SyncNow => Ok(Reply::SyncRun(self.controller()?.sync_now().await?)),
            Command::SyncStatus => Ok(Reply::Sync(self.current().map(|c| c.view()).unwrap_or_else(unconfigured))),
            Command::SyncHistory => {
                Ok(Reply::SyncHistory(self.current().map(|c| c.history()).transpose()?.unwrap_or_default()))
            }
            Command::CiBump { message } => Ok(Reply::Operation(self.start_ci(message).await?)),
            other => Err(super::not_available(&other)),
        }
    }

    pub(super) async fn shutdown(&self) {
        for task in self.ci.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            task.abort();
        }
        if let Some(controller) = self.sync.lock().unwrap_or_else(|e| e.into_inner()).take() {
            controller.stop();
        }
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            server.stop().await;
        }
    }

    fn repo_view(&self, name: &str) -> Result<RepoView> {
        Ok(RepoView {
            name: name.to_string(),
            url: self.url(name),
            head: self.repos.head(name)?,
            files: self.repos.files(name)?,
        })
    }

    fn url(&self, name: &str) -> String {
        self.server.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.url(name)).unwrap_or_default()
    }

    fn deps(&self) -> SyncDeps {
        let config = &self.context.config;
        SyncDeps {
            bus: self.context.bus.clone(),
            connection: self.context.connection.clone(),
            repos: self.repos.clone(),
            state_dir: config.data_dir.join("sync").join(&config.learner),
        }
    }

    fn configure(&self, settings: SyncSettings) -> Result<SyncView> {
        let controller = Arc::new(SyncController::start(settings.clone(), self.deps())?);
        save_settings(&self.deps().state_dir, &settings)?;
        let view = controller.view();
        if let Some(old) = self.sync.lock().unwrap_or_else(|e| e.into_inner()).replace(controller) {
            old.stop();
        }
        self.context.bus.publish(Event::Sync(view.clone()));
        Ok(view)
    }

    fn current(&self) -> Option<Arc<SyncController>> {
        self.sync.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn controller(&self) -> Result<Arc<SyncController>> {
        self.current().ok_or_else(|| {
            Error::explained(
                "sync-not-configured",
                Text::new("The sync loop has no repository yet.", "同步循环还没有配置仓库。"),
                Some(Text::new(
                    "Choose a repository and a directory first (for example the config repository, directory \".\").",
                    "请先选择仓库和目录（例如 config 仓库，目录“.”）。",
                )),
            )
        })
    }

    /// What a CI run needs, gathered before it starts (so a missing cluster fails the command at once).
    async fn prepare_ci(&self) -> Result<CiJob> {
        let handle = self.context.connection.require()?;
        let sandbox = ci::image::is_sandbox(&handle.client).await;
        let builder = ci::image::for_cluster(&handle.choice, sandbox)?;
        let config_dir = self.repos.dir(CONFIG_REPO)?;
        // The configured loop when it syncs the config repository; otherwise a one-off one.
        let sync = match self.current().filter(|c| c.syncs_from(&config_dir)) {
            Some(controller) => controller,
            None => {
                let settings = SyncSettings {
                    repo: CONFIG_REPO.into(),
                    path: ".".into(),
                    prune: false,
                    auto: false,
                    poll: REMOTE_POLL,
                };
                Arc::new(SyncController::start(settings, self.deps())?)
            }
        };
        let id = self.ci_ids.fetch_add(1, Ordering::Relaxed);
        Ok(CiJob { id, builder, sync, client: handle.client, repos: self.repos.clone(), bus: self.context.bus.clone() })
    }

    /// Starts the CI bump in the background; its stages arrive as [`Event::Ci`].
    async fn start_ci(&self, message: Option<String>) -> Result<OperationId> {
        let job = self.prepare_ci().await?;
        let id = job.id;
        let bus = self.context.bus.clone();
        let task = tokio::spawn(async move {
            let outcome = match job.run(message).await {
                Ok(done) => OperationOutcome::Succeeded {
                    message: Text::new(
                        format!("The sample app now runs version {}.", done.version),
                        format!("示例应用现在运行的版本是 {}。", done.version),
                    ),
                },
                Err(error) => OperationOutcome::Failed { error: error.view() },
            };
            bus.publish(Event::OperationFinished { id: OperationId(id), outcome });
        });
        let mut tasks = self.ci.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(OperationId(id))
    }
}

/// A CI run ready to go.
struct CiJob {
    id: u64,
    builder: Box<dyn ci::image::ImageBuilder>,
    sync: Arc<SyncController>,
    client: kube::Client,
    repos: Arc<Repos>,
    bus: crate::bus::EventBus,
}

impl CiJob {
    async fn run(self, message: Option<String>) -> Result<ci::CiOutcome> {
        let deps = CiDeps {
            repos: &self.repos,
            builder: self.builder.as_ref(),
            sync: &self.sync,
            client: self.client,
            bus: self.bus,
        };
        ci::bump(self.id, message, deps).await
    }
}

impl GitOpsPort for GitOpsArea {
    fn read(&self, repo: &str, path: &str) -> Result<String> {
        self.repos.read(repo, path)
    }

    fn commit<'a>(&'a self, repo: &'a str, changes: Vec<FileChange>, message: &'a str) -> Result<CommitView> {
        self.repos.commit(repo, &changes, message)
    }

    fn revert_head<'a>(&'a self, repo: &'a str) -> Result<CommitView> {
        let head = self.repos.head(repo)?.ok_or_else(|| {
            Error::explained(
                "empty-repo",
                Text::new(format!("{repo} has no commit yet."), format!("{repo} 还没有任何提交。")),
                None,
            )
        })?;
        self.repos.revert(repo, &head.sha)
    }

    fn head(&self, repo: &str) -> Option<String> {
        self.repos.head(repo).ok().flatten().map(|c| c.sha)
    }

    fn url(&self, repo: &str) -> String {
        GitOpsArea::url(self, repo)
    }

    fn sync<'a>(&'a self, repo: &'a str, path: &'a str, prune: bool, auto: bool) -> BoxFuture<'a, Result<SyncRunView>> {
        Box::pin(async move {
            let settings = SyncSettings { repo: repo.into(), path: path.into(), prune, auto, poll: REMOTE_POLL };
            self.configure(settings)?;
            self.controller()?.sync_now().await
        })
    }

    fn ci_bump(&self, message: Option<String>) -> BoxFuture<'_, Result<CiReport>> {
        Box::pin(async move {
            let done = self.prepare_ci().await?.run(message).await?;
            let stages = done.run.stages.iter().map(|s| format!("{:?}: {}", s.stage, s.detail)).collect();
            Ok(CiReport { version: done.version, answer: done.answer, stages })
        })
    }

    fn commits(&self) -> tokio::sync::broadcast::Receiver<crate::gitops::CommitNotice> {
        self.repos.subscribe()
    }
}

/// The sync loop's settings as saved between runs of the lab.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedSettings {
    version: u32,
    repo: String,
    path: String,
    prune: bool,
    auto: bool,
}

const SETTINGS_FILE: &str = "settings.json";

fn save_settings(dir: &std::path::Path, settings: &SyncSettings) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let saved = SavedSettings {
        version: 1,
        repo: settings.repo.clone(),
        path: settings.path.clone(),
        prune: settings.prune,
        auto: settings.auto,
    };
    let bytes = serde_json::to_vec_pretty(&saved).unwrap_or_default();
    crate::exercises::progress::write_atomically(&dir.join(SETTINGS_FILE), &bytes)
}

fn load_settings(dir: &std::path::Path) -> Option<SyncSettings> {
    let saved: SavedSettings = serde_json::from_slice(&std::fs::read(dir.join(SETTINGS_FILE)).ok()?).ok()?;
    (saved.version == 1).then_some(SyncSettings {
        repo: saved.repo,
        path: saved.path,
        prune: saved.prune,
        auto: saved.auto,
        poll: REMOTE_POLL,
    })
}

/// Before the learner configures a loop: the settings the chapter uses (the config repository,
/// its root), offered as the form's starting values; no run yet says nothing is synced.
fn unconfigured() -> SyncView {
    SyncView { repo: CONFIG_REPO.into(), path: ".".into(), prune: false, auto: false, last: None }
}

/// Starts the git server on `GITOPS_LAB_GIT_LISTEN` (default `127.0.0.1:0`).
fn start_server(repos: &Repos) -> Result<GitServer> {
    let listen = std::env::var("GITOPS_LAB_GIT_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let host = std::env::var("GITOPS_LAB_GIT_HOST").ok().filter(|h| !h.is_empty());
    let place = PathBuf::from(&listen);
    let listener = std::net::TcpListener::bind(&listen).map_err(|e| Error::io(&place, e))?;
    listener.set_nonblocking(true).map_err(|e| Error::io(&place, e))?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| Error::io(&place, e))?;
    std::fs::create_dir_all(repos.root()).map_err(|e| Error::io(repos.root(), e))?;
    GitServer::start(listener, repos.root().to_path_buf(), host)
}

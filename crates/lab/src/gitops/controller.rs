//! The lab's own sync loop, composed: on a new commit (announced by the lab, seen through the
//! repository's refs, or found by polling a remote URL) it reads the commit's manifests, syncs them,
//! records the run, and watches the synced objects for drift until the next run.

use super::drift::{self, Change, DriftWatch};
use super::source::{self, Desired, Location};
use super::store::SyncStore;
use super::sync::{self, SyncOptions, Tracked};
use super::trigger::{RefWatcher, watch_refs};
use super::{Repos, diff};
use crate::bus::EventBus;
use crate::cluster::Connection;
use crate::error::{Error, Result};
use crate::kubectl::Kubectl;
use gitops_lab_protocol::{Event, ResourceSyncState, SyncRunView, SyncView, Text};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, mpsc};

/// The label every object applied by a sync configuration carries (its value names the configuration).
pub const SYNC_LABEL: &str = "gitops-lab.dev/sync";

/// What the learner chose.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    /// A lab repository's name, a path to a git repository, or a URL.
    pub repo: String,
    /// The directory of manifests inside it (`.` for the root).
    pub path: String,
    /// Whether to delete what was removed from git.
    pub prune: bool,
    /// Whether to sync on every new commit.
    pub auto: bool,
    /// How often a remote URL is asked for its head (local repositories are never polled).
    pub poll: Duration,
}

/// What the loop needs from the engine.
#[derive(Clone)]
pub struct SyncDeps {
    /// Where its events go.
    pub bus: EventBus,
    /// The cluster.
    pub connection: Arc<Connection>,
    /// The learner's repositories (their commits are announced here).
    pub repos: Arc<Repos>,
    /// Where the loop keeps its history, inventory and fetched remotes.
    pub state_dir: PathBuf,
}

/// A running sync configuration.
pub struct SyncController {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    _refs: Option<RefWatcher>,
}

struct Shared {
    settings: SyncSettings,
    location: Location,
    options: SyncOptions,
    store: SyncStore,
    bus: EventBus,
    connection: Arc<Connection>,
    kubectl: Mutex<Option<(String, Kubectl)>>,
    state: Mutex<State>,
    /// Serialises runs: held for a whole run, which awaits the API server, so a commit seen twice
    /// (announced and through the refs) is synced once.
    runs: tokio::sync::Mutex<()>,
    changes: mpsc::UnboundedSender<Change>,
}

#[derive(Default)]
struct State {
    last: Option<SyncRunView>,
    generation: u64,
    tracked: Vec<Tracked>,
    watch: Option<DriftWatch>,
}

impl SyncController {
    /// Starts a configuration: checks the repository, loads its history, and (with `auto`) syncs
    /// the head at once and then every new commit.
    pub fn start(settings: SyncSettings, deps: SyncDeps) -> Result<SyncController> {
        let cache = deps.state_dir.join("remotes");
        let location = Location::parse(&settings.repo, &deps.repos, &cache)?;
        let identity = match &location {
            Location::Local(dir) => dir.display().to_string(),
            Location::Remote { url, .. } => url.clone(),
        };
        let id = source::short_id(&format!("{identity}\n{}", settings.path.trim_matches('/')));
        let store = SyncStore::new(deps.state_dir.join(&id));
        let last = store.history()?.into_iter().next();
        let options = SyncOptions {
            prune: settings.prune,
            label: (SYNC_LABEL.to_string(), id),
            repo: settings.repo.clone(),
            dir: settings.path.clone(),
        };
        let (changes, drift_rx) = mpsc::unbounded_channel();
        let kick = Arc::new(Notify::new());
        let refs = match (&location, settings.auto) {
            (Location::Local(_), true) => location.git_dir().map(|dir| watch_refs(&dir, kick.clone())).transpose()?,
            _ => None,
        };
        let shared = Arc::new(Shared {
            settings,
            location,
            options,
            store,
            bus: deps.bus,
            connection: deps.connection,
            kubectl: Mutex::new(None),
            state: Mutex::new(State { last, ..State::default() }),
            runs: tokio::sync::Mutex::new(()),
            changes,
        });
        if shared.settings.auto {
            kick.notify_one();
        }
        let task = tokio::spawn(drive(shared.clone(), kick, deps.repos.subscribe(), drift_rx));
        Ok(SyncController { shared, task, _refs: refs })
    }

    /// Syncs the head now, even if it was synced before (re-applies, re-checks drift).
    pub async fn sync_now(&self) -> Result<SyncRunView> {
        self.shared.run(true).await
    }

    /// Makes sure the head is synced: returns the last run if it already covered the head.
    pub async fn sync_head(&self) -> Result<SyncRunView> {
        self.shared.run(false).await
    }

    /// The loop's state.
    pub fn view(&self) -> SyncView {
        self.shared.view()
    }

    /// Past runs, newest first.
    pub fn history(&self) -> Result<Vec<SyncRunView>> {
        self.shared.store.history()
    }

    /// Whether this configuration syncs from `dir` (a lab repository's directory).
    pub fn syncs_from(&self, dir: &std::path::Path) -> bool {
        matches!(&self.shared.location, Location::Local(d) if Some(d.clone()) == std::fs::canonicalize(dir).ok())
    }

    /// Stops the loop and its watches.
    pub fn stop(&self) {
        self.task.abort();
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner()).watch = None;
    }
}

async fn drive(
    shared: Arc<Shared>,
    kick: Arc<Notify>,
    mut commits: broadcast::Receiver<super::CommitNotice>,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    let remote = matches!(shared.location, Location::Remote { .. });
    let mut poll = tokio::time::interval(shared.settings.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut announced = true;
    loop {
        tokio::select! {
            _ = kick.notified() => shared.on_commit().await,
            notice = commits.recv(), if announced => match notice {
                Ok(notice) if shared.is_local(&notice.dir) => shared.on_commit().await,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => shared.on_commit().await,
                Err(broadcast::error::RecvError::Closed) => announced = false,
            },
            Some(change) = changes.recv() => shared.on_change(change),
            _ = poll.tick(), if remote && shared.settings.auto => shared.on_commit().await,
        }
    }
}

impl Shared {
    fn view(&self) -> SyncView {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        SyncView {
            repo: self.settings.repo.clone(),
            path: self.settings.path.clone(),
            prune: self.settings.prune,
            auto: self.settings.auto,
            last: state.last.clone(),
        }
    }

    fn is_local(&self, dir: &std::path::Path) -> bool {
        matches!(&self.location, Location::Local(d) if Some(d.clone()) == std::fs::canonicalize(dir).ok())
    }

    async fn on_commit(&self) {
        if !self.settings.auto {
            return;
        }
        if let Err(error) = self.run(false).await {
            let view = error.view();
            self.bus.publish(Event::Notice { level: "error".into(), message: sync_failed(&view.message) });
        }
    }

    fn kubectl(&self) -> Result<Kubectl> {
        let handle = self.connection.require()?;
        let mut cached = self.kubectl.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((server, kubectl)) = cached.as_ref()
            && *server == handle.server
        {
            return Ok(kubectl.clone());
        }
        let kubectl = Kubectl::new(&handle);
        *cached = Some((handle.server.clone(), kubectl.clone()));
        Ok(kubectl)
    }

    /// One run; without `force`, a head that was already synced returns the last run unchanged.
    async fn run(&self, force: bool) -> Result<SyncRunView> {
        let _serial = self.runs.lock().await;
        let location = self.location.clone();
        let dir = self.settings.path.clone();
        let (head, files) = tokio::task::spawn_blocking(move || -> Result<_> {
            let head = location.head()?;
            let files = match source::read_commit(&location.open()?, &head, &dir) {
                Ok(files) => files,
                Err(Error::Explained(view)) if view.code == "no-manifests" => Vec::new(),
                Err(other) => return Err(other),
            };
            Ok((head, files))
        })
        .await
        .map_err(|e| Error::io(std::path::Path::new("sync"), std::io::Error::other(e)))??;
        let last = self.state.lock().unwrap_or_else(|e| e.into_inner()).last.clone();
        if !force && let Some(last) = last.filter(|l| l.commit == head) {
            return Ok(last);
        }
        let desired: Desired = source::parse_files(&head, files);
        let kubectl = self.kubectl()?;
        let mut inventory = self.store.inventory()?;
        let outcome = sync::run(&kubectl, &desired, &mut inventory, &self.options).await;
        self.store.save_inventory(&inventory)?;
        self.store.record(&outcome.run)?;
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.generation += 1;
            state.watch =
                Some(drift::watch(kubectl.client(), state.generation, &outcome.tracked, self.changes.clone()));
            state.tracked = outcome.tracked;
            state.last = Some(outcome.run.clone());
        }
        self.bus.publish(Event::Sync(self.view()));
        Ok(outcome.run)
    }

    /// A synced object changed in the cluster: compare it with git again.
    fn on_change(&self, change: Change) {
        let view = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if change.generation != state.generation {
                return;
            }
            let Some(tracked) = state.tracked.iter().find(|t| t.index == change.index) else { return };
            let labels = BTreeMap::from([self.options.label.clone()]);
            let verdict = diff::compare(&tracked.desired, change.live.as_ref(), &labels);
            let Some(resource) = state.last.as_mut().and_then(|l| l.resources.get_mut(change.index)) else { return };
            let live_states = [ResourceSyncState::Synced, ResourceSyncState::OutOfSync];
            if !live_states.contains(&resource.state) || resource.state == verdict.state {
                return;
            }
            resource.state = verdict.state;
            resource.message = format!("{}: {}", resource.object.kubectl_name(), verdict.reason);
            drop(state);
            self.view()
        };
        self.bus.publish(Event::Sync(view));
    }
}

fn sync_failed(cause: &Text) -> Text {
    Text::new(format!("The sync loop could not sync: {}", cause.en), format!("同步循环未能完成同步：{}", cause.zh))
}

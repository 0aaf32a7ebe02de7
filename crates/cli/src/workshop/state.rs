//! The workshop as a whole: the instructor's token, the learners (each a web-mode session with
//! its own engine, and a board line), joining, and the saved class list.

use super::capacity::{self, Limits};
use super::learners::{LearnerRecord, Roster, RosterFile, validate_name};
use super::provider::SandboxProvider;
use super::rate::CommandRate;
use super::tracker::{self, Tracker};
use super::upstream::UpstreamCache;
use crate::web::guard::{Guard, same_token};
use crate::web::sessions::{Session, Sessions, StartCheck, StartHook, new_token};
use gitops_lab::Engine;
use gitops_lab::protocol::Text;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One learner: who they are, their session, their board line.
pub struct Learner {
    /// Id, name, token.
    pub record: LearnerRecord,
    /// Their engine, started on first use.
    pub session: Arc<Session>,
    /// Their progress as the board shows it.
    pub tracker: Arc<Tracker>,
    /// Their commands' share of the server.
    pub rate: CommandRate,
    /// Their kubectl door's way to their sandbox (address, credentials, idle connections).
    pub upstream: UpstreamCache,
    /// Whether their cluster may be running (a Kubernetes-backed one may be, even when their
    /// engine never started, its readiness wait having failed).
    cluster: Arc<ClusterUse>,
}

/// A learner's cluster as the provider's steps left it.
#[derive(Default)]
struct ClusterUse {
    /// Set when it was prepared, cleared when it is stopped.
    up: AtomicBool,
    /// Preparations under way (a readiness wait is activity, not idleness).
    preparing: AtomicUsize,
    /// When the last preparation ended.
    last_ended: Mutex<Option<Instant>>,
}

impl ClusterUse {
    /// Counts a preparation from now until the value is dropped (also when its request is).
    fn preparing(self: &Arc<Self>) -> impl Drop + Send + use<> {
        struct Ends(Arc<ClusterUse>);
        impl Drop for Ends {
            fn drop(&mut self) {
                *self.0.last_ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                self.0.preparing.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.up.store(true, Ordering::SeqCst);
        self.preparing.fetch_add(1, Ordering::SeqCst);
        Ends(self.clone())
    }

    /// Quiet for `idle`: no preparation under way or ended within it.
    fn quiet_for(&self, idle: Duration) -> bool {
        let ended = *self.last_ended.lock().unwrap_or_else(|e| e.into_inner());
        self.preparing.load(Ordering::SeqCst) == 0 && ended.is_none_or(|at| at.elapsed() >= idle)
    }
}

/// Why a join was refused.
pub struct Refused {
    /// 400 for a bad name, 503 when the learner should wait.
    pub status: axum::http::StatusCode,
    /// What to do, in both languages.
    pub message: Text,
}

/// The workshop's settings that stay fixed while it runs.
pub struct Settings {
    /// The class size and memory limits.
    pub limits: Limits,
    /// An engine with no page open and no command for this long is stopped (data kept).
    pub idle_stop: Duration,
    /// A learner on one step with unmet checks for this long is flagged on the board.
    pub stuck_after: Duration,
    /// Commands a second each learner may send on average (twice that in a burst).
    pub command_rate: u32,
    /// How often open pages are pinged (web mode's [`crate::web::api::Heartbeat`]).
    pub heartbeat: Duration,
    /// The address the links start with (`http://127.0.0.1:7430`).
    pub base_url: String,
    /// The workshop's CA (PEM) when it serves HTTPS itself: the learners' kubeconfigs carry it.
    pub ca_pem: Option<String>,
}

/// Everything the workshop's handlers reach.
pub struct Workshop {
    /// Host, Origin and token checks (web mode's).
    pub guard: Guard,
    /// Fixed settings.
    pub settings: Settings,
    instructor_token: String,
    sessions: Sessions,
    // A std mutex: held to look up, add and snapshot, never across an await.
    learners: Mutex<Vec<Arc<Learner>>>,
    /// The learners by the SHA-256 of their kubectl token: the kubectl door hashes the token it is
    /// shown once and looks it up, instead of deriving every learner's token per request.
    by_kubectl: Mutex<HashMap<[u8; 32], Arc<Learner>>>,
    /// Digests of removed learners' link and kubectl tokens (see [`Roster::removed`]).
    removed: Mutex<HashSet<[u8; 32]>>,
    /// The highest learner number given so far.
    last_number: AtomicUsize,
    roster_file: RosterFile,
    /// Held from the snapshot to the rename: a join, a removal, the saver and the final save each
    /// write the list, and an older snapshot must never land after a newer one (nor two writers
    /// share the temporary file).
    saving: Mutex<()>,
    provider: Arc<dyn SandboxProvider>,
    changed: mpsc::UnboundedSender<()>,
}

impl Workshop {
    /// Opens the workshop in its data directory: the saved class list when there is one (every
    /// learner's link keeps working), else a new one with a fresh instructor token. Returns the
    /// receiver that wakes the roster saver.
    pub fn open(
        guard: Guard,
        settings: Settings,
        roster_file: RosterFile,
        provider: Arc<dyn SandboxProvider>,
    ) -> anyhow::Result<(Arc<Workshop>, mpsc::UnboundedReceiver<()>)> {
        let saved = roster_file.load()?;
        let (changed, wake) = mpsc::unbounded_channel();
        let instructor_token = saved.as_ref().map(|r| r.instructor_token.clone()).unwrap_or_else(new_token);
        let workshop = Arc::new(Workshop {
            guard,
            settings,
            instructor_token,
            sessions: Sessions::default(),
            learners: Mutex::new(Vec::new()),
            by_kubectl: Mutex::new(HashMap::new()),
            removed: Mutex::new(
                saved.as_ref().map(|r| r.removed.iter().filter_map(|h| from_hex(h)).collect()).unwrap_or_default(),
            ),
            last_number: AtomicUsize::new(saved.as_ref().map_or(0, |r| r.last_number)),
            roster_file,
            saving: Mutex::new(()),
            provider,
            changed,
        });
        for record in saved.map(|r| r.learners).unwrap_or_default() {
            workshop.last_number.fetch_max(number_of(&record.id), Ordering::SeqCst);
            let learner = workshop.build(record);
            workshop.index(&learner);
            workshop.lock().push(learner);
        }
        workshop.save()?;
        Ok((workshop, wake))
    }

    /// A learner's session and board line (not yet in the list).
    fn build(&self, record: LearnerRecord) -> Arc<Learner> {
        let tracker = Arc::new(Tracker::with_progress(record.progress.clone()));
        let hook = follow(tracker.clone(), self.changed.clone());
        let cluster = Arc::new(ClusterUse::default());
        let config = self.provider.engine_config(&record);
        let session = Session::new(record.token.clone(), config, Some(hook))
            .with_start_check(self.start_check(&record, cluster.clone()));
        let session = self.sessions.insert(session);
        let rate = CommandRate::new(self.settings.command_rate);
        Arc::new(Learner { record, session, tracker, rate, upstream: UpstreamCache::default(), cluster })
    }

    /// Files a learner under their kubectl token's digest.
    fn index(&self, learner: &Arc<Learner>) {
        let key = super::kube_proxy::digest(&super::kube_proxy::kubectl_token(&learner.record.token));
        self.by_kubectl.lock().unwrap_or_else(|e| e.into_inner()).insert(key, learner.clone());
    }

    /// The learner whose kubectl token has this SHA-256.
    pub fn learner_by_kubectl_digest(&self, digest: &[u8; 32]) -> Option<Arc<Learner>> {
        self.by_kubectl.lock().unwrap_or_else(|e| e.into_inner()).get(digest).cloned()
    }

    /// The memory check a stopped learner's engine passes before it starts again (a learner back
    /// from idle): told to wait, like a join, rather than starting a sandbox the machine cannot
    /// hold. The class size does not apply: they are already in it. Then the provider prepares
    /// their cluster (a Kubernetes-backed one is made and waited for).
    fn start_check(&self, record: &LearnerRecord, cluster: Arc<ClusterUse>) -> StartCheck {
        let limits = Limits {
            max_learners: usize::MAX,
            per_learner: self.provider.memory_per_learner(),
            ..self.settings.limits
        };
        let (provider, record) = (self.provider.clone(), record.clone());
        Arc::new(move || {
            let admitted = capacity::admit(&limits, 0, capacity::available_memory());
            let prepared = provider.prepare(&record);
            let cluster = cluster.clone();
            Box::pin(async move {
                admitted?;
                let _preparing = cluster.preparing();
                prepared.await
            })
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Learner>>> {
        self.learners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The instructor's token.
    pub fn instructor_token(&self) -> &str {
        &self.instructor_token
    }

    /// Whether a token is the instructor's.
    pub fn is_instructor(&self, token: &str) -> bool {
        same_token(&self.instructor_token, token)
    }

    /// The learner a token opens.
    pub fn learner(&self, token: &str) -> Option<Arc<Learner>> {
        let session = self.sessions.find(token)?;
        self.lock().iter().find(|l| Arc::ptr_eq(&l.session, &session)).cloned()
    }

    /// A learner by id.
    pub fn learner_by_id(&self, id: &str) -> Option<Arc<Learner>> {
        self.lock().iter().find(|l| l.record.id == id).cloned()
    }

    /// Every learner, in joining order.
    pub fn learners(&self) -> Vec<Arc<Learner>> {
        self.lock().clone()
    }

    /// A learner's personal link.
    pub fn link(&self, learner: &Learner) -> String {
        format!("{}/?token={}", self.settings.base_url, learner.record.token)
    }

    /// Adds a learner with this display name, or says why not (a bad or taken name, a full
    /// class, too little memory); nothing changes when refused.
    pub fn join(&self, raw_name: &str) -> Result<Arc<Learner>, Refused> {
        let name = validate_name(raw_name).map_err(bad_request)?;
        let learner = {
            // Held until the learner is in the list, so two joins never take the same id.
            let mut learners = self.lock();
            if learners.iter().any(|l| l.record.name.to_lowercase() == name.to_lowercase()) {
                return Err(bad_request(Text::new(
                    format!(
                        "Someone already joined as “{name}”. Add an initial or a number; if it is you, ask your instructor for your personal link."
                    ),
                    format!("已经有人以“{name}”加入。请加上姓氏首字母或数字；如果那就是你，请向讲师索取你的个人链接。"),
                )));
            }
            let limits = &self.settings.limits;
            let limits = Limits { per_learner: self.provider.memory_per_learner(), ..*limits };
            capacity::admit(&limits, learners.len(), capacity::available_memory())
                .map_err(|message| Refused { status: axum::http::StatusCode::SERVICE_UNAVAILABLE, message })?;
            let learner = self.build(LearnerRecord {
                id: format!("learner-{}", self.last_number.fetch_add(1, Ordering::SeqCst) + 1),
                name,
                token: new_token(),
                joined: tracker::now(),
                progress: Vec::new(),
            });
            self.index(&learner);
            learners.push(learner.clone());
            learner
        };
        // Saved before the learner is answered: their personal link must outlive a restart of the
        // workshop that comes right after (the saver below only batches progress changes).
        if let Err(error) = self.save() {
            eprintln!("{error:#}");
        }
        let _ = self.changed.send(());
        Ok(learner)
    }

    /// Writes the class list (ids, names, tokens, progress as last seen).
    pub fn save(&self) -> anyhow::Result<()> {
        let _saving = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        let learners = self
            .learners()
            .iter()
            .map(|l| LearnerRecord { progress: l.tracker.progress(), ..l.record.clone() })
            .collect();
        let mut removed: Vec<String> = self.removed.lock().unwrap_or_else(|e| e.into_inner()).iter().map(hex).collect();
        removed.sort();
        let roster = Roster {
            version: 1,
            instructor_token: self.instructor_token.clone(),
            learners,
            removed,
            last_number: self.last_number.load(Ordering::SeqCst),
        };
        self.roster_file.save(&roster)
    }

    /// Whether a token (a link's or a kubectl one) belonged to a learner the instructor removed.
    pub fn was_removed(&self, token: &str) -> bool {
        self.was_removed_digest(&super::kube_proxy::digest(token))
    }

    /// [`Workshop::was_removed`] by the token's SHA-256.
    pub fn was_removed_digest(&self, digest: &[u8; 32]) -> bool {
        self.removed.lock().unwrap_or_else(|e| e.into_inner()).contains(digest)
    }

    /// Removes a learner for good: their links stop working at once (refused with the reason), the
    /// class list is saved without them, their engine and sandbox are stopped, the provider deletes
    /// what their cluster holds, and their data folder is deleted. `None` when there is no such
    /// learner; `Some(Err)` says what could not be deleted (they are out of the class regardless).
    pub async fn remove(&self, id: &str) -> Option<Result<(), Text>> {
        let learner = {
            let mut learners = self.lock();
            let at = learners.iter().position(|l| l.record.id == id)?;
            learners.remove(at)
        };
        let kubectl = super::kube_proxy::digest(&super::kube_proxy::kubectl_token(&learner.record.token));
        self.by_kubectl.lock().unwrap_or_else(|e| e.into_inner()).remove(&kubectl);
        self.sessions.remove(&learner.session);
        learner.session.close();
        {
            let mut removed = self.removed.lock().unwrap_or_else(|e| e.into_inner());
            removed.insert(kubectl);
            removed.insert(super::kube_proxy::digest(&learner.record.token));
        }
        let saved = self.save();
        learner.session.notify(gitops_lab::protocol::Event::Notice { level: "error".into(), message: removed_text() });
        learner.session.stop().await;
        learner.upstream.clear();
        if learner.cluster.up.swap(false, Ordering::SeqCst) {
            self.provider.stopped(&learner.record).await;
        }
        let deleted = self.provider.remove(&learner.record).await;
        let data_dir = self.provider.engine_config(&learner.record).data_dir;
        let folder = match std::fs::remove_dir_all(&data_dir) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Text::new(
                format!(
                    "{id} is out of the class, but their folder {} could not be deleted: {error}",
                    data_dir.display()
                ),
                format!("{id} 已移出课堂，但无法删除其文件夹 {}：{error}", data_dir.display()),
            )),
            _ => Ok(()),
        };
        if let Err(error) = saved {
            eprintln!("{error:#}");
        }
        Some(deleted.and(folder))
    }

    /// Stops the engines of learners idle for the configured time; their data stays.
    pub async fn stop_idle(&self) {
        let idle = self.settings.idle_stop;
        for learner in self.learners() {
            let stopped = learner.session.stop_if_idle(idle).await;
            if stopped {
                // Its connections went with the sandbox; the next start may bring new credentials.
                learner.upstream.clear();
            }
            // A cluster prepared for an engine that never started (its wait failed) is freed too.
            let abandoned = learner.session.is_running() == Some(false)
                && learner.session.idle_for() >= idle
                && learner.cluster.quiet_for(idle);
            if (stopped || abandoned) && learner.cluster.up.swap(false, Ordering::SeqCst) {
                self.provider.stopped(&learner.record).await;
            }
        }
    }

    /// Stops every learner's engine and sandbox.
    pub async fn shutdown(&self) {
        self.sessions.shutdown().await;
        for learner in self.learners().iter().filter(|l| l.cluster.up.swap(false, Ordering::SeqCst)) {
            self.provider.stopped(&learner.record).await;
        }
    }
}

/// What a removed learner's link and kubectl token are answered.
pub fn removed_text() -> Text {
    Text::new(
        "Your instructor removed you from the workshop: your sandbox and files are deleted and this link no longer opens anything. To take part again, join at /join.",
        "讲师已将你移出工作坊：你的沙箱和文件已删除，此链接不再能打开任何内容。如需重新参加，请在 /join 重新加入。",
    )
}

/// `learner-7` → 7 (0 for an id of another shape).
fn number_of(id: &str) -> usize {
    id.strip_prefix("learner-").and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}

fn bad_request(message: Text) -> Refused {
    Refused { status: axum::http::StatusCode::BAD_REQUEST, message }
}

/// The hook run when a learner's engine starts: the tracker takes its progress, then follows its
/// events until the engine stops; a progress change wakes the roster saver.
fn follow(tracker: Arc<Tracker>, changed: mpsc::UnboundedSender<()>) -> StartHook {
    Arc::new(move |engine: &Engine| {
        let exercises = engine.exercises();
        tracker.started(exercises.summaries(), exercises.resume_point());
        let mut subscription = engine.subscribe();
        let (tracker, changed) = (tracker.clone(), changed.clone());
        tokio::spawn(async move {
            while let Some(event) = subscription.next().await {
                if tracker.absorb(&event) {
                    let _ = changed.send(());
                }
            }
        });
    })
}

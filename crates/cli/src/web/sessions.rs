//! The learners' sessions: each is one engine with its own cluster and progress, found by its token.
//!
//! Web mode creates one session at start; workshop mode creates one per learner in the same
//! process, stops an idle learner's engine (and sandbox) and starts it again on their return.
//! Nothing here is a process global: the registry is owned by the server's state.

use super::guard::same_token;
use gitops_lab::protocol::{Event, Text};
use gitops_lab::{Engine, EngineConfig};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Called with a session's engine each time it starts (workshop mode follows its events).
pub type StartHook = Arc<dyn Fn(&Engine) + Send + Sync>;

/// Asked before a stopped engine starts (workshop mode checks memory, and a Kubernetes-backed
/// sandbox is made and waited for): `Err` says why the learner should wait.
pub type StartCheck =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Text>> + Send>> + Send + Sync>;

/// One learner's session.
pub struct Session {
    token: String,
    config: EngineConfig,
    // A tokio mutex: held across `Engine::start` and `shutdown` so that two first requests start
    // one engine, and a stop never races a start.
    engine: tokio::sync::Mutex<Option<Engine>>,
    last_used: Mutex<Instant>,
    sockets: AtomicUsize,
    // Events that do not come from the engine (an instructor's hint, a restarted sandbox); every
    // event socket of the session forwards them too.
    notices: broadcast::Sender<Event>,
    on_start: Option<StartHook>,
    may_start: Option<StartCheck>,
    // Set for good when the workshop removes the learner: no engine starts again.
    closed: AtomicBool,
}

impl Session {
    /// A session whose engine starts on first use.
    pub fn new(token: String, config: EngineConfig, on_start: Option<StartHook>) -> Session {
        Session {
            token,
            config,
            engine: tokio::sync::Mutex::new(None),
            last_used: Mutex::new(Instant::now()),
            sockets: AtomicUsize::new(0),
            notices: broadcast::channel(64).0,
            on_start,
            may_start: None,
            closed: AtomicBool::new(false),
        }
    }

    /// Checks `check` before each start of the engine ([`Session::try_engine`]).
    pub fn with_start_check(mut self, check: StartCheck) -> Session {
        self.may_start = Some(check);
        self
    }

    /// Like [`Session::engine`], but a stopped engine starts only if the start check allows it;
    /// otherwise the check's reason, and nothing started.
    pub async fn try_engine(&self) -> Result<Engine, Text> {
        self.touch();
        if let Some(check) = &self.may_start {
            let running = self.engine.lock().await.as_ref().cloned();
            if let Some(engine) = running {
                return Ok(engine);
            }
            check().await?;
        }
        self.touch();
        let mut slot = self.engine.lock().await;
        // Checked under the lock a removal's stop takes too: a command that was already admitted
        // when its learner was removed cannot start their sandbox again.
        if self.closed.load(Ordering::SeqCst) {
            return Err(Text::new(
                "This session is closed: your instructor removed you from the workshop. To take part again, join at /join.",
                "此会话已关闭：讲师已将你移出工作坊。如需重新参加，请在 /join 重新加入。",
            ));
        }
        Ok(self.start_in(&mut slot).await)
    }

    /// Closes the session for good: no engine starts after this (the caller stops a running one).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// The session's engine, started if it is not running (the first caller starts it; the others
    /// wait). Counts as activity for the idle stop.
    pub async fn engine(&self) -> Engine {
        self.touch();
        let mut slot = self.engine.lock().await;
        self.start_in(&mut slot).await
    }

    /// The engine in `slot`, started there if there is none.
    async fn start_in(&self, slot: &mut Option<Engine>) -> Engine {
        if let Some(engine) = slot.as_ref() {
            return engine.clone();
        }
        let engine = Engine::start(self.config.clone()).await;
        if let Some(hook) = &self.on_start {
            hook(&engine);
        }
        *slot = Some(engine.clone());
        engine
    }

    /// The engine if it runs (waiting for one being started), without starting it and without
    /// counting as activity: for looking in from outside (the instructor's board).
    pub async fn running_engine(&self) -> Option<Engine> {
        self.engine.lock().await.as_ref().cloned()
    }

    /// Whether the engine is running now, without starting it or waiting; `None` while it is
    /// being started or stopped.
    pub fn is_running(&self) -> Option<bool> {
        self.engine.try_lock().ok().map(|slot| slot.is_some())
    }

    /// Stops the engine when no page is connected and nothing was asked for `idle`; its data
    /// stays on disk for the next start. Says whether it stopped.
    pub async fn stop_if_idle(&self, idle: Duration) -> bool {
        let mut slot = self.engine.lock().await;
        let quiet = self.sockets.load(Ordering::SeqCst) == 0 && self.idle_for() >= idle;
        match slot.take() {
            Some(engine) if quiet => {
                engine.shutdown().await;
                true
            }
            other => {
                *slot = other;
                false
            }
        }
    }

    /// Stops the engine if it runs (waits for one still starting, so that its sandbox stops too).
    pub async fn stop(&self) {
        if let Some(engine) = self.engine.lock().await.take() {
            engine.shutdown().await;
        }
    }

    /// How long since the last command or event socket.
    pub fn idle_for(&self) -> Duration {
        self.last_used.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// Sends an event to every page of this session, beside the engine's own.
    pub fn notify(&self, event: Event) {
        // No receiver (no page open) is not an error: the notice is for those watching.
        let _ = self.notices.send(event);
    }

    /// The side channel of [`Session::notify`].
    pub fn notices(&self) -> broadcast::Receiver<Event> {
        self.notices.subscribe()
    }

    /// Marks an open event socket until the returned value is dropped (an open page is not idle).
    pub fn socket_open(self: &Arc<Self>) -> SocketOpen {
        self.sockets.fetch_add(1, Ordering::SeqCst);
        self.touch();
        SocketOpen(self.clone())
    }

    /// The token that opens it.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// An open event socket of a session; dropping it closes the mark.
pub struct SocketOpen(Arc<Session>);

impl Drop for SocketOpen {
    fn drop(&mut self) {
        self.0.sockets.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// Every session of the server.
#[derive(Default)]
pub struct Sessions {
    // A std mutex: it is held only to look up or add, never across an await.
    list: Mutex<Vec<Arc<Session>>>,
}

impl Sessions {
    /// A new session with a fresh token. Its engine (and sandbox) starts in the background, so the
    /// page can load meanwhile; commands wait for it.
    pub fn open(&self, config: EngineConfig) -> Arc<Session> {
        let session = self.insert(Session::new(new_token(), config, None));
        let starting = session.clone();
        tokio::spawn(async move {
            starting.engine().await;
        });
        session
    }

    /// Takes a session out: its token opens nothing from now on (its engine is the caller's to stop).
    pub fn remove(&self, session: &Arc<Session>) {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).retain(|s| !Arc::ptr_eq(s, session));
    }

    /// Adds a session (its engine starts on first use).
    pub fn insert(&self, session: Session) -> Arc<Session> {
        let session = Arc::new(session);
        self.list.lock().unwrap_or_else(|e| e.into_inner()).push(session.clone());
        session
    }

    /// The session a token opens; every session is compared so timing says nothing.
    pub fn find(&self, token: &str) -> Option<Arc<Session>> {
        let list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for session in list.iter() {
            if same_token(&session.token, token) {
                found = Some(session.clone());
            }
        }
        found
    }

    /// Stops every session's engine (its sandbox, streams and loops), all at once: a workshop's
    /// fifty sandboxes each take a moment to stop.
    pub async fn shutdown(&self) {
        let list: Vec<Arc<Session>> = std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        let mut stopping = tokio::task::JoinSet::new();
        for session in list {
            stopping.spawn(async move { session.stop().await });
        }
        while stopping.join_next().await.is_some() {}
    }
}

/// 244 random bits from two v4 UUIDs, as 64 hex digits.
pub fn new_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}

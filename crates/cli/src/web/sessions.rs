//! The learners' sessions: each is one engine with its own cluster and progress, found by its token.
//!
//! Web mode creates one session at start; the planned workshop mode creates one per learner in the
//! same process. Nothing here is a process global: the registry is owned by the server's state.

use super::guard::same_token;
use gitops_lab::{Engine, EngineConfig};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// One learner's session.
pub struct Session {
    token: String,
    config: EngineConfig,
    engine: OnceCell<Engine>,
}

impl Session {
    /// The session's engine, once it has started (the first caller starts it; the others wait).
    pub async fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| Engine::start(self.config.clone())).await
    }

    /// The token that opens it.
    pub fn token(&self) -> &str {
        &self.token
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
        let session = Arc::new(Session { token: new_token(), config, engine: OnceCell::new() });
        self.list.lock().unwrap_or_else(|e| e.into_inner()).push(session.clone());
        let starting = session.clone();
        tokio::spawn(async move {
            starting.engine().await;
        });
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

    /// Stops every session's engine (its sandbox, streams and loops).
    pub async fn shutdown(&self) {
        let list: Vec<Arc<Session>> = std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        for session in list {
            // Waits for an engine still starting, so that its sandbox is stopped too.
            session.engine().await.shutdown().await;
        }
    }
}

/// 244 random bits from two v4 UUIDs, as 64 hex digits.
fn new_token() -> String {
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

//! The learners' sessions: each is one engine with its own cluster and progress, found by its token.
//!
//! Web mode creates one session at start; the planned workshop mode creates one per learner in the
//! same process. Nothing here is a process global: the registry is owned by the server's state.

use super::guard::same_token;
use gitops_lab::{Engine, EngineConfig};
use std::sync::{Arc, Mutex};

/// One learner's session.
pub struct Session {
    token: String,
    engine: Engine,
}

impl Session {
    /// The session's engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
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
    /// Starts an engine for a new session and returns it with its fresh token.
    pub async fn open(&self, config: EngineConfig) -> Arc<Session> {
        let engine = Engine::start(config).await;
        let session = Arc::new(Session { token: new_token(), engine });
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

    /// Stops every session's engine (its sandbox, streams and loops).
    pub async fn shutdown(&self) {
        let list: Vec<Arc<Session>> = std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        for session in list {
            session.engine.shutdown().await;
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

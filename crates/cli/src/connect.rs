//! Starts an engine for a headless command and insists that its cluster answers, so every command
//! that reaches a cluster fails the same way, with the engine's explanation.

use crate::messages::Messages;
use gitops_lab::protocol::{ClusterPhase, ErrorView};
use gitops_lab::{Engine, EngineConfig};

/// An engine connected to the configured cluster, or the reason it is not.
pub async fn start_connected(config: EngineConfig, messages: &Messages) -> anyhow::Result<Engine> {
    let engine = Engine::start(config).await;
    let status = engine.connection().status();
    if status.phase != ClusterPhase::Connected {
        let error = status.error.unwrap_or_else(|| ErrorView::new("not-connected", status.message));
        engine.shutdown().await;
        anyhow::bail!(explain(&error, messages));
    }
    Ok(engine)
}

/// An engine error as one line with its hint, in the learner's language.
pub fn explain(error: &ErrorView, messages: &Messages) -> String {
    match &error.hint {
        Some(hint) => format!("{} {}", messages.text(&error.message), messages.text(hint)),
        None => messages.text(&error.message).to_string(),
    }
}

//! The live area: the resource graph, events, YAML, logs, exec sessions and port-forwards.

use super::{Context, not_available};
use crate::error::Result;
use gitops_lab_protocol::{Command, Reply};

/// The area's state.
pub(super) struct LiveArea {
    #[allow(dead_code)]
    context: Context,
}

impl LiveArea {
    pub(super) fn new(context: &Context) -> LiveArea {
        LiveArea { context: context.clone() }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        Err(not_available(&command))
    }

    pub(super) async fn shutdown(&self) {}
}

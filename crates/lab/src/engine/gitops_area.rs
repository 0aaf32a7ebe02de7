//! The GitOps area: the learner's repositories, the lab's sync loop and the CI bump.

use super::{Context, not_available};
use crate::error::Result;
use gitops_lab_protocol::{Command, Reply};

/// The area's state.
pub(super) struct GitOpsArea {
    #[allow(dead_code)]
    context: Context,
}

impl GitOpsArea {
    pub(super) fn new(context: &Context) -> GitOpsArea {
        GitOpsArea { context: context.clone() }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        Err(not_available(&command))
    }

    pub(super) async fn shutdown(&self) {}
}

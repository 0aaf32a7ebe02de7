//! The exercise area: the chapter navigator, steps, checks, predictions, reset, and the
//! kubectl-like commands (apply, diff, a typed command line).

use super::{Context, not_available};
use crate::error::Result;
use gitops_lab_protocol::{Command, ExerciseSummary, Reply};

/// The area's state.
pub(super) struct ExerciseArea {
    #[allow(dead_code)]
    context: Context,
}

impl ExerciseArea {
    pub(super) fn new(context: &Context) -> ExerciseArea {
        ExerciseArea { context: context.clone() }
    }

    pub(super) async fn summaries(&self) -> Vec<ExerciseSummary> {
        Vec::new()
    }

    pub(super) async fn resume_point(&self) -> Option<(String, usize)> {
        None
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        Err(not_available(&command))
    }
}

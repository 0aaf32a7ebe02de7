//! A failure as the learner sees it: what went wrong and what to do next.

use crate::text::Text;
use serde::{Deserialize, Serialize};

/// An error answered to a command, ready to show in place of the result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorView {
    /// A stable machine-readable kind (`unreachable`, `invalid-manifest`, `not-found`, …).
    pub code: String,
    /// What went wrong, naming the file, line, field or object where there is one.
    pub message: Text,
    /// The next thing to try.
    pub hint: Option<Text>,
    /// Raw detail for experts (the server's message, the underlying error), not translated.
    pub detail: Option<String>,
}

impl ErrorView {
    /// An error with a code and a message, without hint or detail.
    pub fn new(code: impl Into<String>, message: Text) -> ErrorView {
        ErrorView { code: code.into(), message, hint: None, detail: None }
    }

    /// Adds the next thing to try.
    pub fn with_hint(mut self, hint: Text) -> ErrorView {
        self.hint = Some(hint);
        self
    }

    /// Adds raw detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> ErrorView {
        self.detail = Some(detail.into());
        self
    }
}

impl std::fmt::Display for ErrorView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message.en)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({})", hint.en)?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorView {}

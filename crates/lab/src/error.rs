//! The engine's errors, and how each becomes an [`ErrorView`] a learner can act on.

use gitops_lab_protocol::{ErrorView, Text};

/// Anything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A failure already explained for the learner.
    #[error("{0}")]
    Explained(Box<ErrorView>),
    /// A request to the Kubernetes API failed.
    #[error("the Kubernetes API answered with an error: {0}")]
    Kube(#[source] kube::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure with a code, a message and the next thing to try.
    pub fn explained(code: &str, message: Text, hint: Option<Text>) -> Error {
        let mut view = ErrorView::new(code, message);
        view.hint = hint;
        Error::Explained(Box::new(view))
    }

    /// An I/O failure on a path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io { path: path.display().to_string(), source }
    }

    /// The error as the learner sees it.
    pub fn view(&self) -> ErrorView {
        match self {
            Error::Explained(view) => (**view).clone(),
            Error::Kube(error) => crate::cluster::diagnose::explain_kube_error(error),
            Error::Io { path, source } => ErrorView::new(
                "io",
                Text::new(format!("cannot use the file {path}: {source}"), format!("无法使用文件 {path}：{source}")),
            )
            .with_hint(Text::new(
                "Check that the path exists and that you may read and write it.",
                "请检查该路径是否存在，以及你是否有读写权限。",
            )),
        }
    }
}

impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Error {
        Error::Kube(error)
    }
}

impl From<ErrorView> for Error {
    fn from(view: ErrorView) -> Error {
        Error::Explained(Box::new(view))
    }
}

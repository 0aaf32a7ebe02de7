//! What exercises ask of the GitOps part (a narrow port the engine's composition root provides):
//! commit to the learner's repositories, run the lab's sync loop, run the CI bump, name clone URLs.

use crate::error::Result;
use futures::future::BoxFuture;
use gitops_lab_protocol::{CommitView, FileChange, SyncRunView};
use tokio::sync::broadcast;

/// What a finished CI bump reports to the exercise.
#[derive(Clone, Debug)]
pub struct CiReport {
    /// The new version (the sample-app commit's first 7 characters).
    pub version: String,
    /// What the new pods answered.
    pub answer: String,
    /// One line per stage.
    pub stages: Vec<String>,
}

/// The GitOps operations exercises use.
pub trait GitOpsPort: Send + Sync {
    /// A file of a repository's head commit.
    fn read(&self, repo: &str, path: &str) -> Result<String>;
    /// Commits changes (manifests checked first).
    fn commit<'a>(&'a self, repo: &'a str, changes: Vec<FileChange>, message: &'a str) -> Result<CommitView>;
    /// Reverts the head commit.
    fn revert_head<'a>(&'a self, repo: &'a str) -> Result<CommitView>;
    /// The head commit's SHA.
    fn head(&self, repo: &str) -> Option<String>;
    /// The clone URL of a repository on the lab's git server.
    fn url(&self, repo: &str) -> String;
    /// Configures the lab's sync loop and syncs once.
    fn sync<'a>(&'a self, repo: &'a str, path: &'a str, prune: bool, auto: bool) -> BoxFuture<'a, Result<SyncRunView>>;
    /// Runs the CI bump to its end (its stages are published as events meanwhile).
    fn ci_bump(&self, message: Option<String>) -> BoxFuture<'_, Result<CiReport>>;
    /// Announces commits made through the lab (repository directory and new head).
    fn commits(&self) -> broadcast::Receiver<crate::gitops::CommitNotice>;
}

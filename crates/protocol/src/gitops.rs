//! GitOps and CI views: repositories and commits, the sync loop's status and history, the CI bump.

use crate::error::ErrorView;
use crate::graph::ObjectRef;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// A repository the lab keeps for the learner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoView {
    /// Its short name (`config`, `sample-app`).
    pub name: String,
    /// The clone URL on the lab's git server (read-only).
    pub url: String,
    /// The head commit.
    pub head: Option<CommitView>,
    /// The files of the head commit, paths relative to the root.
    pub files: Vec<String>,
}

/// One commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitView {
    /// The full SHA.
    pub sha: String,
    /// The first line of the message.
    pub summary: String,
    /// The author's name.
    pub author: String,
    /// When (RFC 3339).
    pub time: String,
}

/// A file to write in a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path relative to the repository's root.
    pub path: String,
    /// The new content; `None` deletes the file.
    pub content: Option<String>,
}

/// Where one resource stands with respect to git.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceSyncState {
    /// The live object matches git.
    Synced,
    /// The live object differs from git (or is missing).
    OutOfSync,
    /// Applying it failed.
    Failed,
    /// Removed from git and deleted from the cluster (prune).
    Pruned,
    /// Removed from git but left in the cluster (prune is off).
    Orphaned,
}

/// One resource of a sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSyncView {
    /// The object.
    pub object: ObjectRef,
    /// The file that defines it, and the line where its document starts.
    pub source: String,
    /// Its state.
    pub state: ResourceSyncState,
    /// What apply printed (`deployment.apps/web configured`) or why it failed.
    pub message: String,
}

/// One sync run, for the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRunView {
    /// The commit synced.
    pub commit: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The resources, in file order.
    pub resources: Vec<ResourceSyncView>,
    /// Files that could not be read (YAML errors with file and line), each with what to do.
    pub errors: Vec<ErrorView>,
    /// A summary sentence.
    pub message: Text,
}

/// The sync loop's current state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    /// The repository synced (a local name or a URL).
    pub repo: String,
    /// The directory inside it.
    pub path: String,
    /// Whether it deletes what was removed from git.
    pub prune: bool,
    /// Whether it syncs on every new commit.
    pub auto: bool,
    /// The last run, if any.
    pub last: Option<SyncRunView>,
}

/// The stages of the CI bump, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CiStage {
    /// Commit a change to the sample-app repository.
    Commit,
    /// The version: the commit's first 7 characters.
    Version,
    /// Build (or, on the sandbox, name) the image.
    Image,
    /// Patch the image tag in the config repository's manifest.
    ManifestPatch,
    /// Commit the config change.
    ConfigCommit,
    /// Sync the config repository to the cluster.
    Sync,
    /// Wait for the rollout.
    Rollout,
    /// Ask the new pods for their version.
    Verify,
}

/// How a stage is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StageState {
    /// Not started.
    Pending,
    /// Running.
    Running,
    /// Done.
    Succeeded,
    /// Failed; later stages do not run.
    Failed,
    /// Not run because an earlier stage failed or the run was cancelled.
    Skipped,
}

/// One stage's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiStageView {
    /// Which stage.
    pub stage: CiStage,
    /// Its state.
    pub state: StageState,
    /// What it did or is doing (the SHA, the image, the answer of the new version).
    pub detail: String,
    /// Plain-words explanation.
    pub message: Text,
}

/// A CI run: its stages in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiRunView {
    /// The run's operation id.
    pub id: u64,
    /// The stages.
    pub stages: Vec<CiStageView>,
}

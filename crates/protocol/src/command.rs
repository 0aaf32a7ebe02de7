//! What the UI asks of the engine, and what it answers.

use crate::cluster::{ClusterChoice, ClusterOption, ClusterStatus, MinikubeOptions, OperationId};
use crate::diff::DiffView;
use crate::error::ErrorView;
use crate::exercise::{ExerciseSummary, ExerciseView, PredictionResult, ResetReport, StepOutcome};
use crate::gitops::{CommitView, FileChange, RepoView, SyncRunView, SyncView};
use crate::graph::{GraphSnapshot, KubeEventView, ObjectRef};
use crate::stream::{PortForwardView, StreamId};
use serde::{Deserialize, Serialize};

/// A request from the UI. Each gets exactly one [`Response`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Command {
    /// First message of a session: the state to render the first screen.
    Hello,
    /// The clusters the learner can choose.
    ListClusters,
    /// Moves the whole lab to another cluster.
    Connect {
        /// The cluster.
        cluster: ClusterChoice,
    },
    /// Starts minikube with the learner's choices (progress arrives as events).
    MinikubeStart {
        /// Driver, CPUs, memory, profile.
        options: MinikubeOptions,
    },
    /// Stops minikube.
    MinikubeStop,
    /// Deletes the minikube cluster.
    MinikubeDelete,
    /// Cancels a long operation.
    Cancel {
        /// The operation.
        operation: OperationId,
    },
    /// The chapter navigator's exercises with progress.
    ListExercises,
    /// Opens an exercise: its steps, with checks that update live from then on.
    OpenExercise {
        /// The exercise id.
        id: String,
    },
    /// Records where the learner is, for resuming.
    GoToStep {
        /// The exercise id.
        exercise: String,
        /// The step's index.
        step: usize,
    },
    /// Runs a step's one-click action.
    RunStep {
        /// The exercise id.
        exercise: String,
        /// The step's index.
        step: usize,
    },
    /// Answers a step's "predict, then run" question.
    Predict {
        /// The exercise id.
        exercise: String,
        /// The step's index.
        step: usize,
        /// The chosen answer's index.
        choice: usize,
    },
    /// Removes what an exercise created and forgets its progress.
    ResetExercise {
        /// The exercise id.
        id: String,
    },
    /// Client-side apply of a manifest, as `kubectl apply -f` does it.
    Apply {
        /// The file's name (for messages).
        source: String,
        /// The manifest (YAML or JSON, several documents allowed).
        manifest: String,
    },
    /// The file-vs-live and three-way diff of a manifest.
    Diff {
        /// The file's name.
        source: String,
        /// The manifest.
        manifest: String,
    },
    /// Runs a kubectl command line typed by the learner (the subset the engine knows).
    Kubectl {
        /// The command line, starting with `kubectl`.
        line: String,
    },
    /// The live graph as a whole.
    Graph,
    /// Chooses the namespaces the graph and the events feed watch.
    WatchNamespaces {
        /// The namespaces.
        namespaces: Vec<String>,
    },
    /// Recent events of the watched namespaces.
    Events,
    /// The live object as YAML.
    GetYaml {
        /// The object.
        object: ObjectRef,
    },
    /// Follows a container's log (lines arrive as events).
    FollowLogs {
        /// The pod.
        pod: ObjectRef,
        /// The container; the pod's first when absent.
        container: Option<String>,
    },
    /// Runs a command in a container; with `tty`, an interactive terminal.
    ExecStart {
        /// The pod.
        pod: ObjectRef,
        /// The container; the pod's first when absent.
        container: Option<String>,
        /// The command; a shell when empty.
        command: Vec<String>,
        /// Whether to allocate a terminal.
        tty: bool,
        /// Terminal columns.
        cols: u16,
        /// Terminal rows.
        rows: u16,
    },
    /// Sends keystrokes to an exec session.
    ExecInput {
        /// The session.
        stream: StreamId,
        /// The input.
        data: String,
    },
    /// Resizes an exec session's terminal.
    ExecResize {
        /// The session.
        stream: StreamId,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Ends a log stream or exec session.
    StopStream {
        /// The stream.
        stream: StreamId,
    },
    /// Starts a port-forward to a pod, or to the ready pods of an owner (a Deployment).
    PortForwardStart {
        /// The pod or owner.
        target: ObjectRef,
        /// The container port.
        port: u16,
        /// The local port on 127.0.0.1; a free one when absent (a taken port is an error).
        #[serde(default)]
        local_port: Option<u16>,
    },
    /// Stops a port-forward.
    PortForwardStop {
        /// Its id.
        id: u64,
    },
    /// The port-forwards running.
    PortForwards,
    /// The learner's repositories.
    Repos,
    /// A repository's history, newest first.
    RepoLog {
        /// The repository's name.
        repo: String,
        /// At most this many commits.
        limit: usize,
    },
    /// A file of a repository's head commit.
    RepoFile {
        /// The repository's name.
        repo: String,
        /// The path.
        path: String,
    },
    /// Commits changes to a repository (manifests are checked before anything is written).
    RepoCommit {
        /// The repository's name.
        repo: String,
        /// The files.
        changes: Vec<FileChange>,
        /// The commit message.
        message: String,
    },
    /// Sets up the lab's own sync loop.
    SyncConfigure {
        /// The repository: a local name or a URL.
        repo: String,
        /// The directory of manifests.
        path: String,
        /// Whether to delete what was removed from git.
        prune: bool,
        /// Whether to sync on every new commit.
        auto: bool,
    },
    /// Syncs now.
    SyncNow,
    /// The sync loop's state.
    SyncStatus,
    /// Past sync runs, newest first.
    SyncHistory,
    /// Runs the CI bump (stages arrive as events).
    CiBump {
        /// The sample-app change's commit message.
        message: Option<String>,
    },
    /// Starts the lab's Rust NGINX operator in a namespace.
    OperatorStart {
        /// The namespace it watches.
        namespace: String,
    },
    /// Stops it.
    OperatorStop,
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum Reply {
    /// Nothing to return.
    Done,
    /// The first screen's state.
    Hello {
        /// The cluster connection.
        cluster: ClusterStatus,
        /// The exercises with progress.
        exercises: Vec<ExerciseSummary>,
        /// Where the learner left off: exercise id and step index.
        resume: Option<(String, usize)>,
        /// The lab's version.
        version: String,
    },
    /// Clusters to choose from.
    Clusters(Vec<ClusterOption>),
    /// The connection's state.
    Cluster(ClusterStatus),
    /// A long operation started; follow its events.
    Operation(OperationId),
    /// The exercises.
    Exercises(Vec<ExerciseSummary>),
    /// An opened exercise.
    Exercise(ExerciseView),
    /// What a step's action did.
    StepOutcome(StepOutcome),
    /// A prediction's verdict.
    Prediction(PredictionResult),
    /// What a reset removed.
    Reset(ResetReport),
    /// What a kubectl-like command printed.
    Output {
        /// Standard output then standard error, as kubectl prints them.
        output: String,
        /// Whether it succeeded (kubectl's exit code 0).
        ok: bool,
    },
    /// A diff.
    Diff(DiffView),
    /// The live graph.
    Graph(GraphSnapshot),
    /// Events.
    Events(Vec<KubeEventView>),
    /// An object as YAML.
    Yaml(String),
    /// A stream started; follow its events.
    Stream(StreamId),
    /// A port-forward.
    PortForward(PortForwardView),
    /// Port-forwards.
    PortForwards(Vec<PortForwardView>),
    /// Repositories.
    Repos(Vec<RepoView>),
    /// Commits.
    Commits(Vec<CommitView>),
    /// A file's content.
    File(String),
    /// A commit made.
    Commit(CommitView),
    /// The sync loop's state.
    Sync(SyncView),
    /// A sync run.
    SyncRun(SyncRunView),
    /// Sync history.
    SyncHistory(Vec<SyncRunView>),
}

/// The answer to a [`Command`].
pub type Response = Result<Reply, ErrorView>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_tagged_by_type_with_camel_case_fields() {
        let json = serde_json::to_value(Command::RunStep { exercise: "2.1-nginx-pod".into(), step: 2 }).unwrap();
        assert_eq!(json, serde_json::json!({"type": "runStep", "exercise": "2.1-nginx-pod", "step": 2}));
        let back: Command = serde_json::from_value(json).unwrap();
        assert_eq!(back, Command::RunStep { exercise: "2.1-nginx-pod".into(), step: 2 });
    }

    #[test]
    fn responses_round_trip() {
        let ok: Response = Ok(Reply::Output { output: "pod/nginx created\n".into(), ok: true });
        let text = serde_json::to_string(&ok).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&text).unwrap(), ok);
    }
}

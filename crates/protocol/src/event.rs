//! What the engine pushes to the UI without being asked.

use crate::cluster::{ClusterStatus, OperationId, OperationOutcome};
use crate::exercise::{CheckView, ExerciseSummary};
use crate::gitops::{CiRunView, SyncView};
use crate::graph::{GraphDelta, GraphSnapshot, KubeEventView};
use crate::stream::{PortForwardView, StreamData, StreamId};
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// A push from the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "camelCase")]
pub enum Event {
    /// The cluster connection changed.
    Cluster(ClusterStatus),
    /// A line of a long operation's output (`minikube start`).
    OperationProgress {
        /// The operation.
        id: OperationId,
        /// The line.
        line: String,
    },
    /// A long operation ended.
    OperationFinished {
        /// The operation.
        id: OperationId,
        /// How.
        outcome: OperationOutcome,
    },
    /// The graph was rebuilt (after a reconnection or a change of namespaces).
    GraphReset(GraphSnapshot),
    /// The graph changed.
    Graph(GraphDelta),
    /// A Kubernetes Event in a watched namespace.
    KubeEvent(KubeEventView),
    /// A check of the open exercise changed.
    Check {
        /// The exercise.
        exercise: String,
        /// The step's index.
        step: usize,
        /// The check.
        check: CheckView,
    },
    /// An exercise's progress changed (a step completed).
    Progress(ExerciseSummary),
    /// Output of a log stream or exec session.
    Stream(StreamData),
    /// A stream ended.
    StreamEnded {
        /// The stream.
        stream: StreamId,
        /// Why (the command's exit, the pod going away).
        message: Text,
    },
    /// A port-forward changed (retargeted, lost its pod, stopped).
    PortForward(PortForwardView),
    /// The sync loop's state changed.
    Sync(SyncView),
    /// A CI run progressed.
    Ci(CiRunView),
    /// Something the learner should know (the sandbox restarted, the operator stopped).
    Notice {
        /// `info`, `warning` or `error`.
        level: String,
        /// What happened.
        message: Text,
    },
    /// Events were dropped because the UI fell behind: fetch the graph again.
    Resync,
}

//! The messages that cross the boundary between the GitOps Lab user interface and its engine.
//!
//! The UI (wasm), the Tauri shell and the web server all speak these types, so the crate depends on
//! `serde` alone and compiles for `wasm32-unknown-unknown`. It holds no logic: the engine
//! (`gitops-lab-engine`) gives the messages meaning.
//!
//! The conversation has two directions. The UI sends a [`Command`] and gets one [`Response`] back
//! (a [`Reply`] or an [`ErrorView`]); the engine pushes [`Event`]s (live graph changes, check
//! results, log lines, progress of long operations) on a separate stream. Everything a learner reads
//! arrives as a [`Text`] holding both English and Simplified Chinese, so the UI switches language
//! without asking the engine again. View models ([`ExerciseView`], [`GraphNode`], [`DiffView`], …)
//! are plain data ready to render: the UI holds no Kubernetes or exercise logic.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cluster;
mod command;
mod diff;
mod error;
mod event;
mod exercise;
mod gitops;
mod graph;
mod stream;
mod text;

pub use cluster::{
    ClusterChoice, ClusterOption, ClusterPhase, ClusterStatus, MinikubeOptions, OperationId, OperationOutcome,
};
pub use command::{Command, Reply, Response};
pub use diff::{DiffView, FieldExplanation, FieldOutcome, ObjectDiff, ObjectDiffState};
pub use error::ErrorView;
pub use event::Event;
pub use exercise::{
    ActionView, CheckView, ExerciseStatus, ExerciseSummary, ExerciseView, FileView, PredictionResult, PredictionView,
    ResetReport, StepOutcome, StepView,
};
pub use gitops::{
    CiRunView, CiStage, CiStageView, CommitView, FileChange, RepoView, ResourceSyncState, ResourceSyncView, StageState,
    SyncRunView, SyncView,
};
pub use graph::{EdgeKind, GraphDelta, GraphLink, GraphNode, GraphSnapshot, Health, KubeEventView, ObjectRef};
pub use stream::{PortForwardState, PortForwardView, StreamData, StreamId, StreamKind};
pub use text::{Language, Text};

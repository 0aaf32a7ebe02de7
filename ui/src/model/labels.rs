//! How the protocol's states are named and coloured: the string and the CSS class for each.

use crate::i18n::S;
use crate::protocol::{
    CiStage, ClusterPhase, ExerciseStatus, FieldOutcome, Health, ObjectDiffState, PortForwardState, ResourceSyncState,
    StageState,
};

/// The cluster bar's light.
pub fn phase(phase: ClusterPhase) -> (S, &'static str) {
    match phase {
        ClusterPhase::Disconnected => (S::PhaseDisconnected, "off"),
        ClusterPhase::Connecting => (S::PhaseConnecting, "busy"),
        ClusterPhase::Connected => (S::PhaseConnected, "ok"),
        ClusterPhase::Reconnecting => (S::PhaseReconnecting, "busy"),
        ClusterPhase::Failed => (S::PhaseFailed, "bad"),
    }
}

/// An object's health colour.
pub fn health(health: Health) -> (S, &'static str) {
    match health {
        Health::Healthy => (S::HealthHealthy, "ok"),
        Health::Progressing => (S::HealthProgressing, "busy"),
        Health::Degraded => (S::HealthDegraded, "warn"),
        Health::Failed => (S::HealthFailed, "bad"),
        Health::Terminating => (S::HealthTerminating, "off"),
        Health::Unknown => (S::HealthUnknown, "none"),
    }
}

/// An exercise's progress mark: the words, a symbol for sighted readers, and the class.
pub fn exercise_status(status: ExerciseStatus) -> (S, &'static str, &'static str) {
    match status {
        ExerciseStatus::NotStarted => (S::StatusNotStarted, "○", "none"),
        ExerciseStatus::InProgress => (S::StatusInProgress, "◐", "busy"),
        ExerciseStatus::Completed => (S::StatusCompleted, "●", "ok"),
    }
}

/// What apply does to an object.
pub fn diff_state(state: ObjectDiffState) -> (S, &'static str) {
    match state {
        ObjectDiffState::New => (S::StateNew, "ok"),
        ObjectDiffState::Changed => (S::StateChanged, "warn"),
        ObjectDiffState::Unchanged => (S::StateUnchanged, "none"),
        ObjectDiffState::Error => (S::StateError, "bad"),
    }
}

/// What apply does to a field.
pub fn field_outcome(outcome: FieldOutcome) -> (S, &'static str) {
    match outcome {
        FieldOutcome::Add => (S::OutcomeAdd, "ok"),
        FieldOutcome::Overwrite => (S::OutcomeOverwrite, "warn"),
        FieldOutcome::Delete => (S::OutcomeDelete, "bad"),
        FieldOutcome::Keep => (S::OutcomeKeep, "none"),
        FieldOutcome::Unchanged => (S::OutcomeUnchanged, "none"),
    }
}

/// A port-forward's state (the "no pod" reason comes from the engine).
pub fn port_forward(state: &PortForwardState) -> (Option<S>, &'static str) {
    match state {
        PortForwardState::Active => (Some(S::PfActive), "ok"),
        PortForwardState::Retargeting => (Some(S::PfRetargeting), "busy"),
        PortForwardState::NoPod { .. } => (None, "bad"),
        PortForwardState::Stopped => (Some(S::PfStopped), "off"),
    }
}

/// A resource's sync state.
pub fn sync_state(state: ResourceSyncState) -> (S, &'static str) {
    match state {
        ResourceSyncState::Synced => (S::SyncSynced, "ok"),
        ResourceSyncState::OutOfSync => (S::SyncOutOfSync, "warn"),
        ResourceSyncState::Failed => (S::SyncFailed, "bad"),
        ResourceSyncState::Pruned => (S::SyncPruned, "off"),
        ResourceSyncState::Orphaned => (S::SyncOrphaned, "warn"),
    }
}

/// A CI stage's name.
pub fn ci_stage(stage: CiStage) -> S {
    match stage {
        CiStage::Commit => S::StageCommit,
        CiStage::Version => S::StageVersion,
        CiStage::Image => S::StageImage,
        CiStage::ManifestPatch => S::StageManifestPatch,
        CiStage::ConfigCommit => S::StageConfigCommit,
        CiStage::Sync => S::StageSync,
        CiStage::Rollout => S::StageRollout,
        CiStage::Verify => S::StageVerify,
    }
}

/// A CI stage's state.
pub fn stage_state(state: StageState) -> (S, &'static str) {
    match state {
        StageState::Pending => (S::StagePending, "none"),
        StageState::Running => (S::StageRunning, "busy"),
        StageState::Succeeded => (S::StageSucceeded, "ok"),
        StageState::Failed => (S::StageFailed, "bad"),
        StageState::Skipped => (S::StageSkipped, "off"),
    }
}

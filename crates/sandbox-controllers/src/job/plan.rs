//! The Job controller's pure decisions: how its pods stand, how many should run, whether the Job
//! succeeded or failed, and how long the failure back-off still lasts. A clock is passed in.

use jiff::Timestamp;
use serde_json::Value;
use std::time::Duration;

/// The pod finalizer upstream uses to count every finished pod exactly once.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// The first delay before replacing a failed pod; it doubles per failure.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest delay before replacing a failed pod.
const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// How one pod of a Job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Pending or running, not being deleted.
    Active {
        /// Its Ready condition is True.
        ready: bool,
    },
    /// Being deleted and not yet counted as finished.
    Terminating,
    /// Finished successfully.
    Succeeded,
    /// Finished unsuccessfully (or, by default, deleted before it succeeded).
    Failed,
}

/// Classifies a pod. `replace_when_failed` is `podReplacementPolicy: Failed`, under which a
/// deleted pod only counts once it has really failed; `suspended` keeps deletions for suspension
/// from counting as failures.
pub fn pod_state(pod: &Value, replace_when_failed: bool, suspended: bool) -> PodState {
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    let deleting = pod["metadata"]["deletionTimestamp"].is_string();
    match phase {
        "Succeeded" => PodState::Succeeded,
        "Failed" => PodState::Failed,
        _ if deleting && (replace_when_failed || suspended) => PodState::Terminating,
        _ if deleting => PodState::Failed,
        _ => PodState::Active { ready: is_ready(pod) },
    }
}

/// Being deleted and still running: what `status.terminating` counts, whether or not the pod
/// already counts as failed.
pub fn is_terminating(pod: &Value) -> bool {
    let terminal = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    pod["metadata"]["deletionTimestamp"].is_string() && !terminal
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// When a pod finished: its containers' latest finish, if recorded.
pub fn finished_at(pod: &Value) -> Option<Timestamp> {
    let statuses = ["initContainerStatuses", "containerStatuses"];
    statuses
        .iter()
        .filter_map(|key| pod["status"][key].as_array())
        .flatten()
        .filter_map(|s| s["state"]["terminated"]["finishedAt"].as_str()?.parse::<Timestamp>().ok())
        .max()
}

/// How many pods should be running now.
pub fn wanted_active(parallelism: i64, completions: Option<i64>, succeeded: i64, active: i64) -> i64 {
    match completions {
        Some(completions) => parallelism.min(completions - succeeded).max(0),
        // A work queue: once one pod succeeded, start no more and let the others finish.
        None if succeeded > 0 => active,
        None => parallelism.max(0),
    }
}

/// Whether the Job has reached its completions.
pub fn succeeded_enough(completions: Option<i64>, succeeded: i64, active: i64) -> bool {
    match completions {
        Some(completions) => succeeded >= completions,
        None => succeeded > 0 && active == 0,
    }
}

/// Restarts of the containers of running pods, which count towards the back-off limit under `OnFailure`.
pub fn restarts(pods: &[&Value]) -> i64 {
    let mut total = 0;
    for pod in pods {
        if !matches!(pod["status"]["phase"].as_str(), Some("Running" | "Pending") | None) {
            continue;
        }
        for key in ["initContainerStatuses", "containerStatuses"] {
            total += pod["status"][key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["restartCount"].as_i64())
                .sum::<i64>();
        }
    }
    total
}

/// Why a Job fails, as a condition reason and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Too many failed pods (or container restarts under `OnFailure`).
    BackoffLimitExceeded,
    /// Ran longer than `activeDeadlineSeconds`.
    DeadlineExceeded,
}

impl Failure {
    /// The condition reason (and event reason).
    pub fn reason(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "BackoffLimitExceeded",
            Self::DeadlineExceeded => "DeadlineExceeded",
        }
    }

    /// The condition message (and event message).
    pub fn message(self) -> &'static str {
        match self {
            Self::BackoffLimitExceeded => "Job has reached the specified backoff limit",
            Self::DeadlineExceeded => "Job was active longer than specified deadline",
        }
    }
}

/// What the limits say: the back-off limit counts failed pods beyond it, and under `OnFailure`
/// the restarts of running containers too; the deadline counts from the start time.
pub fn failure(
    spec: &Value,
    failed: i64,
    restarts: i64,
    started: Option<Timestamp>,
    now: Timestamp,
) -> Option<Failure> {
    let limit = spec["backoffLimit"].as_i64().unwrap_or(6);
    let on_failure = spec["template"]["spec"]["restartPolicy"] == "OnFailure";
    let restarts_exceeded = on_failure && if limit == 0 { restarts > 0 } else { restarts >= limit };
    if failed > limit || restarts_exceeded {
        return Some(Failure::BackoffLimitExceeded);
    }
    let deadline = spec["activeDeadlineSeconds"].as_i64()?;
    let started = started?;
    (now.as_second() - started.as_second() >= deadline).then_some(Failure::DeadlineExceeded)
}

/// Time left before the deadline, for a requeue.
pub fn deadline_left(spec: &Value, started: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let deadline = spec["activeDeadlineSeconds"].as_i64()?;
    let left = started?.as_second() + deadline - now.as_second();
    Some(Duration::from_secs(left.max(0) as u64))
}

/// How long to wait before creating a replacement pod: 10 s doubled per failure since the last
/// success (at most 10 min), counted from the latest failure.
pub fn backoff_left(failures: u32, last_failure: Option<Timestamp>, now: Timestamp) -> Duration {
    let (Some(last), true) = (last_failure, failures > 0) else {
        return Duration::ZERO;
    };
    let delay = BACKOFF_BASE.saturating_mul(1u32 << (failures - 1).min(16)).min(BACKOFF_MAX);
    let elapsed = Duration::from_millis((now.as_millisecond() - last.as_millisecond()).max(0) as u64);
    delay.saturating_sub(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn pods_are_classified_by_phase_and_deletion() {
        let running = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(pod_state(&running, false, false), PodState::Active { ready: true });
        assert_eq!(pod_state(&json!({"status": {"phase": "Succeeded"}}), false, false), PodState::Succeeded);
        let deleted =
            json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Running"}});
        assert_eq!(pod_state(&deleted, false, false), PodState::Failed);
        assert_eq!(pod_state(&deleted, true, false), PodState::Terminating);
        assert_eq!(pod_state(&deleted, false, true), PodState::Terminating);
        assert!(is_terminating(&deleted) && !is_terminating(&running));
    }

    #[test]
    fn parallelism_is_capped_by_the_remaining_completions() {
        assert_eq!(wanted_active(2, Some(5), 0, 0), 2);
        assert_eq!(wanted_active(2, Some(5), 4, 1), 1);
        assert_eq!(wanted_active(3, None, 0, 0), 3);
        assert_eq!(wanted_active(3, None, 1, 2), 2);
        assert!(succeeded_enough(Some(5), 5, 0));
        assert!(!succeeded_enough(None, 1, 1));
        assert!(succeeded_enough(None, 1, 0));
    }

    #[test]
    fn the_backoff_limit_counts_failures_beyond_it() {
        let now = at("2024-01-01T00:00:00Z");
        let spec = json!({"backoffLimit": 3, "template": {"spec": {"restartPolicy": "Never"}}});
        assert_eq!(failure(&spec, 3, 0, None, now), None);
        assert_eq!(failure(&spec, 4, 0, None, now), Some(Failure::BackoffLimitExceeded));
        // Restarts only count under OnFailure.
        assert_eq!(failure(&spec, 0, 9, None, now), None);
        let on_failure = json!({"backoffLimit": 3, "template": {"spec": {"restartPolicy": "OnFailure"}}});
        assert_eq!(failure(&on_failure, 0, 2, None, now), None);
        assert_eq!(failure(&on_failure, 0, 3, None, now), Some(Failure::BackoffLimitExceeded));
    }

    #[test]
    fn restarts_of_finished_pods_do_not_count() {
        let running = json!({"status": {"phase": "Running", "containerStatuses": [{"restartCount": 2}],
            "initContainerStatuses": [{"restartCount": 1}]}});
        let failed = json!({"status": {"phase": "Failed", "containerStatuses": [{"restartCount": 5}]}});
        assert_eq!(restarts(&[&running, &failed]), 3);
    }

    #[test]
    fn an_active_deadline_fails_the_job_when_it_passes() {
        let spec = json!({"activeDeadlineSeconds": 30, "template": {"spec": {}}});
        let started = Some(at("2024-01-01T00:00:00Z"));
        assert_eq!(failure(&spec, 0, 0, started, at("2024-01-01T00:00:29Z")), None);
        assert_eq!(failure(&spec, 0, 0, started, at("2024-01-01T00:00:30Z")), Some(Failure::DeadlineExceeded));
        assert_eq!(deadline_left(&spec, started, at("2024-01-01T00:00:10Z")), Some(Duration::from_secs(20)));
    }

    #[test]
    fn the_failure_backoff_doubles_and_counts_from_the_last_failure() {
        let last = Some(at("2024-01-01T00:00:00Z"));
        assert_eq!(backoff_left(0, last, at("2024-01-01T00:00:00Z")), Duration::ZERO);
        assert_eq!(backoff_left(1, last, at("2024-01-01T00:00:04Z")), Duration::from_secs(6));
        assert_eq!(backoff_left(3, last, at("2024-01-01T00:00:10Z")), Duration::from_secs(30));
        assert_eq!(backoff_left(30, last, at("2024-01-01T00:00:00Z")), Duration::from_secs(600));
    }

    #[test]
    fn a_pod_finishes_when_its_last_container_did() {
        let pod = json!({"status": {"containerStatuses": [
            {"state": {"terminated": {"finishedAt": "2024-01-01T00:00:05Z"}}},
            {"state": {"terminated": {"finishedAt": "2024-01-01T00:00:09Z"}}}]}});
        assert_eq!(finished_at(&pod), Some(at("2024-01-01T00:00:09Z")));
        assert_eq!(finished_at(&json!({})), None);
    }
}

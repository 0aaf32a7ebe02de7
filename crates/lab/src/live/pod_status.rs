//! A pod's status word as `kubectl get pods` shows it (`Running`, `CrashLoopBackOff`, `Init:0/1`, …).
//!
//! kubectl does not print `status.phase`: it derives a reason from the init containers, then the
//! containers, then the pod's deletion. This follows the same order so that the graph and the
//! learner's own `kubectl get pods` agree.

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, Pod};

/// What `kubectl get pods` shows of one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSummary {
    /// The STATUS column.
    pub reason: String,
    /// Containers running and ready (the READY column's first number).
    pub ready: i64,
    /// Containers in the spec (the READY column's second number).
    pub total: i64,
    /// The RESTARTS column.
    pub restarts: i64,
}

/// Reads the pod's status the way kubectl prints it.
pub fn summarize(pod: &Pod) -> PodSummary {
    let status = pod.status.clone().unwrap_or_default();
    let total = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let mut summary = PodSummary {
        reason: status.reason.clone().filter(|r| !r.is_empty()).or(status.phase.clone()).unwrap_or_default(),
        ready: 0,
        total: i64::try_from(total).unwrap_or(i64::MAX),
        restarts: 0,
    };
    let init = status.init_container_statuses.clone().unwrap_or_default();
    let initializing = init_reason(&init, &mut summary);
    if !initializing {
        summary.restarts = 0;
        let mut running = false;
        // kubectl walks the containers backwards, so the first container's state has the last word.
        for container in status.container_statuses.iter().flatten().rev() {
            summary.restarts += i64::from(container.restart_count);
            match container.state.as_ref().map(state_words) {
                Some(Words::Waiting(reason)) | Some(Words::Terminated(reason)) => summary.reason = reason,
                Some(Words::Running) if container.ready => {
                    running = true;
                    summary.ready += 1;
                }
                _ => {}
            }
        }
        if summary.reason == "Completed" && running {
            let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            summary.reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        summary.reason = if status.reason.as_deref() == Some("NodeLost") { "Unknown" } else { "Terminating" }.into();
    }
    if summary.reason.is_empty() {
        summary.reason = "Pending".into();
    }
    summary
}

/// What a container state contributes to the STATUS column.
enum Words {
    /// Waiting or terminated with a reason to show.
    Waiting(String),
    /// Terminated: the reason, or the signal or exit code when there is none.
    Terminated(String),
    /// Running.
    Running,
    /// Nothing to show.
    Nothing,
}

fn state_words(state: &ContainerState) -> Words {
    if let Some(waiting) = &state.waiting
        && let Some(reason) = waiting.reason.clone().filter(|r| !r.is_empty())
    {
        return Words::Waiting(reason);
    }
    if let Some(done) = &state.terminated {
        return Words::Terminated(match done.reason.clone().filter(|r| !r.is_empty()) {
            Some(reason) => reason,
            None => match done.signal {
                Some(signal) if signal != 0 => format!("Signal:{signal}"),
                _ => format!("ExitCode:{}", done.exit_code),
            },
        });
    }
    if state.running.is_some() { Words::Running } else { Words::Nothing }
}

/// Sets the `Init:` reason while an init container has not finished; whether one has not.
fn init_reason(init: &[ContainerStatus], summary: &mut PodSummary) -> bool {
    for (index, container) in init.iter().enumerate() {
        summary.restarts += i64::from(container.restart_count);
        let state = container.state.clone().unwrap_or_default();
        if let Some(done) = &state.terminated {
            if done.exit_code == 0 {
                continue;
            }
            summary.reason = match (done.reason.as_deref().filter(|r| !r.is_empty()), done.signal) {
                (Some(reason), _) => format!("Init:{reason}"),
                (None, Some(signal)) if signal != 0 => format!("Init:Signal:{signal}"),
                (None, _) => format!("Init:ExitCode:{}", done.exit_code),
            };
        } else if let Some(reason) =
            state.waiting.as_ref().and_then(|w| w.reason.clone()).filter(|r| !r.is_empty() && r != "PodInitializing")
        {
            summary.reason = format!("Init:{reason}");
        } else {
            summary.reason = format!("Init:{index}/{}", init.len());
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn a_waiting_container_shows_its_reason_and_restarts_add_up() {
        let summary = summarize(&pod(json!({
            "phase": "Running",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 4, "image": "", "imageID": "",
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "b", "ready": true, "restartCount": 1, "image": "", "imageID": "",
                 "state": {"running": {}}}
            ]
        })));
        assert_eq!(summary, PodSummary { reason: "CrashLoopBackOff".into(), ready: 1, total: 2, restarts: 5 });
    }

    #[test]
    fn an_unfinished_init_container_shows_how_far_initialisation_got() {
        let summary = summarize(&pod(json!({
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                 "state": {"waiting": {"reason": "PodInitializing"}}}
            ]
        })));
        assert_eq!(summary.reason, "Init:0/1");
    }

    #[test]
    fn a_terminated_container_without_reason_shows_its_exit_code() {
        let summary = summarize(&pod(json!({
            "phase": "Failed",
            "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "image": "", "imageID": "",
                 "state": {"terminated": {"exitCode": 3}}}
            ]
        })));
        assert_eq!(summary.reason, "ExitCode:3");
    }

    #[test]
    fn a_pod_with_no_status_yet_is_pending() {
        assert_eq!(summarize(&pod(json!({}))).reason, "Pending");
    }
}

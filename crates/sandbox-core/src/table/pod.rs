//! A pod's READY, STATUS and RESTARTS cells, following the rules of upstream's pod printer.

use super::duration::{human_duration, timestamp};
use super::expr::{Ctx, text};
use jiff::Timestamp;
use serde_json::{Value, json};

/// What the pod printer works out in one pass over the container statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSummary {
    /// Ready containers (sidecars included).
    pub ready: usize,
    /// Containers counted for READY: regular ones plus restartable init containers.
    pub total: usize,
    /// The STATUS text: a phase, a container reason, `Init:0/1`, `Terminating`, ….
    pub reason: String,
    /// Restarts counted for RESTARTS.
    pub restarts: i64,
    /// When the last counted restart happened, if known.
    pub last_restart: Option<Timestamp>,
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn has_condition(pod: &Value, kind: &str) -> bool {
    list(&pod["status"], "conditions").iter().any(|c| c["type"] == kind && c["status"] == "True")
}

/// A sidecar: an init container that keeps running (`restartPolicy: Always`).
fn restartable(pod: &Value, name: &str) -> bool {
    list(&pod["spec"], "initContainers").iter().any(|c| c["name"] == name && c["restartPolicy"] == "Always")
}

fn non_empty(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// `reason`, else `Signal:N` or `ExitCode:N`, for a terminated state.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    if let Some(reason) = non_empty(&t["reason"]) {
        return format!("{prefix}{reason}");
    }
    match t["signal"].as_i64().filter(|s| *s != 0) {
        Some(signal) => format!("{prefix}Signal:{signal}"),
        None => format!("{prefix}ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
    }
}

/// Restart bookkeeping for one container status: count and the latest restart time.
fn count_restarts(status: &Value, restarts: &mut i64, last: &mut Option<Timestamp>) {
    *restarts += status["restartCount"].as_i64().unwrap_or(0);
    if let Some(t) = timestamp(status.pointer("/lastState/terminated/finishedAt")) {
        *last = Some(last.map_or(t, |l| l.max(t)));
    }
}

/// Walks the init container statuses; returns whether the pod is still initializing.
fn init_containers(pod: &Value, s: &mut PodSummary, sidecar: &mut (i64, Option<Timestamp>)) -> bool {
    let declared = list(&pod["spec"], "initContainers").len();
    for (i, c) in list(&pod["status"], "initContainerStatuses").iter().enumerate() {
        count_restarts(c, &mut s.restarts, &mut s.last_restart);
        let is_sidecar = restartable(pod, c["name"].as_str().unwrap_or(""));
        if is_sidecar {
            count_restarts(c, &mut sidecar.0, &mut sidecar.1);
        }
        let state = &c["state"];
        if state["terminated"].is_object() && state["terminated"]["exitCode"].as_i64().unwrap_or(0) == 0 {
            continue;
        }
        if is_sidecar && c["started"] == true {
            s.ready += usize::from(c["ready"] == true);
            continue;
        }
        s.reason = if state["terminated"].is_object() {
            terminated_reason(&state["terminated"], "Init:")
        } else if let Some(r) = non_empty(&state["waiting"]["reason"]).filter(|r| *r != "PodInitializing") {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{declared}")
        };
        return true;
    }
    false
}

/// Walks the regular container statuses from last to first, as upstream does.
fn containers(pod: &Value, s: &mut PodSummary) {
    let mut has_running = false;
    for c in list(&pod["status"], "containerStatuses").iter().rev() {
        count_restarts(c, &mut s.restarts, &mut s.last_restart);
        let state = &c["state"];
        if let Some(r) = non_empty(&state["waiting"]["reason"]) {
            s.reason = r.to_string();
        } else if state["terminated"].is_object() {
            s.reason = terminated_reason(&state["terminated"], "");
        } else if c["ready"] == true && state["running"].is_object() {
            has_running = true;
            s.ready += 1;
        }
    }
    if s.reason == "Completed" && has_running {
        s.reason = if has_condition(pod, "Ready") { "Running" } else { "NotReady" }.to_string();
    }
}

/// Computes READY, STATUS and RESTARTS for a pod object.
pub fn summarize(pod: &Value) -> PodSummary {
    let phase = text(pod, ".status.phase");
    let mut reason = non_empty(&pod["status"]["reason"]).unwrap_or(phase).to_string();
    let gated = list(&pod["status"], "conditions")
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated");
    if gated {
        reason = "SchedulingGated".to_string();
    }
    let sidecars = list(&pod["spec"], "initContainers").iter().filter(|c| c["restartPolicy"] == "Always").count();
    let total = list(&pod["spec"], "containers").len() + sidecars;
    let mut s = PodSummary { ready: 0, total, reason, restarts: 0, last_restart: None };
    let mut sidecar = (0, None);
    let initializing = init_containers(pod, &mut s, &mut sidecar);
    if !initializing || has_condition(pod, "Initialized") {
        // Once initialized, only sidecar restarts count among the init containers.
        (s.restarts, s.last_restart) = sidecar;
        containers(pod, &mut s);
    }
    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    if deleting && pod["status"]["reason"] == "NodeLost" {
        s.reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        s.reason = "Terminating".to_string();
    }
    s
}

/// READY: `1/2`.
pub fn ready(c: &Ctx, _: &[String]) -> Option<Value> {
    let s = summarize(c.obj);
    Some(json!(format!("{}/{}", s.ready, s.total)))
}

/// STATUS: the reason text.
pub fn status(c: &Ctx, _: &[String]) -> Option<Value> {
    Some(json!(summarize(c.obj).reason))
}

/// RESTARTS: `0`, or `3 (5m ago)` when the last restart time is known.
pub fn restarts(c: &Ctx, _: &[String]) -> Option<Value> {
    let s = summarize(c.obj);
    Some(json!(match s.last_restart {
        Some(t) if s.restarts != 0 => format!("{} ({} ago)", s.restarts, human_duration(c.now.duration_since(t))),
        _ => s.restarts.to_string(),
    }))
}

/// READINESS GATES: how many gate conditions are true, `<none>` without gates.
pub fn readiness_gates(c: &Ctx, _: &[String]) -> Option<Value> {
    let gates = list(&c.obj["spec"], "readinessGates");
    if gates.is_empty() {
        return Some(json!("<none>"));
    }
    let conditions = list(&c.obj["status"], "conditions");
    let passing = gates
        .iter()
        .filter(|g| conditions.iter().find(|c| c["type"] == g["conditionType"]).is_some_and(|c| c["status"] == "True"))
        .count();
    Some(json!(format!("{passing}/{}", gates.len())))
}

/// Row conditions: finished pods are marked `Completed`, with upstream's messages.
pub fn conditions(c: &Ctx, _: &[String]) -> Option<Value> {
    let (reason, message) = match text(c.obj, ".status.phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(name: &str, ready: bool) -> Value {
        json!({"name": name, "ready": ready, "restartCount": 0,
            "state": {"running": {"startedAt": "2024-05-01T11:00:00Z"}}})
    }

    #[test]
    fn a_running_pod_counts_ready_containers() {
        let pod = json!({
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [running("a", true), running("b", false)]}
        });
        let s = summarize(&pod);
        assert_eq!((s.ready, s.total, s.reason.as_str()), (1, 2, "Running"));
    }

    #[test]
    fn a_waiting_container_names_the_status() {
        let pod = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        });
        assert_eq!(summarize(&pod).reason, "ContainerCreating");
    }

    #[test]
    fn init_containers_show_progress_then_failures() {
        let mut pod = json!({
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "restartCount": 0, "state": {"running": {}}}]}
        });
        assert_eq!(summarize(&pod).reason, "Init:1/2");
        pod["status"]["initContainerStatuses"][1]["state"] = json!({"terminated": {"exitCode": 3}});
        assert_eq!(summarize(&pod).reason, "Init:ExitCode:3");
        pod["status"]["initContainerStatuses"][1]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        assert_eq!(summarize(&pod).reason, "Init:CrashLoopBackOff");
    }

    #[test]
    fn deletion_shows_terminating_unless_finished() {
        let mut pod =
            json!({"metadata": {"deletionTimestamp": "2024-05-01T11:59:00Z"}, "status": {"phase": "Running"}});
        assert_eq!(summarize(&pod).reason, "Terminating");
        pod["status"]["phase"] = json!("Succeeded");
        assert_eq!(summarize(&pod).reason, "Succeeded");
    }

    #[test]
    fn restarts_carry_the_time_since_the_last_one() {
        let pod = json!({
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "a", "ready": true, "restartCount": 5,
                "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1,
                    "finishedAt": "2024-05-01T11:59:55Z"}}}]}
        });
        let now = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(restarts(&Ctx { obj: &pod, now }, &[]), Some(json!("5 (5s ago)")));
    }

    #[test]
    fn a_sidecar_counts_toward_ready_and_total() {
        let pod = json!({
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "ready": true, "started": true, "restartCount": 2,
                    "state": {"running": {}}}],
                "containerStatuses": [running("a", true)]}
        });
        let s = summarize(&pod);
        assert_eq!((s.ready, s.total, s.restarts, s.reason.as_str()), (2, 2, 2, "Running"));
    }
}

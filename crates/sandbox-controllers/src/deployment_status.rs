//! A Deployment's status from its ReplicaSets, its conditions (Available, Progressing) with
//! upstream's reasons and messages, and the ReplicaSet annotations the controller keeps.

use super::owners::{condition, find_condition, int, set_condition};
use super::rollout::Limits;
use gitops_sandbox_core::object;
use gitops_sandbox_core::time;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The revision a ReplicaSet (and its Deployment) stands for.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions of a ReplicaSet that was reused by a rollback.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus surge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations that are not copied onto its ReplicaSets (they are the
/// controller's own, or describe the Deployment object only).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// A ReplicaSet's revision number; 0 when absent or unreadable.
pub fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION].as_str().and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The annotations a Deployment's newest ReplicaSet should carry: the Deployment's own (minus
/// the controller's), the revision raised to `new_revision` (remembering the one it replaces), and
/// for a ReplicaSet not yet created, the replica counts.
pub fn new_rs_annotations(deployment: &Value, rs: &Value, new_revision: i64, exists: bool) -> Map<String, Value> {
    let mut out = rs["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    if let Some(own) = deployment["metadata"]["annotations"].as_object() {
        for (key, value) in own.iter().filter(|(k, _)| !NOT_COPIED.contains(&k.as_str())) {
            out.insert(key.clone(), value.clone());
        }
    }
    let old_text = out.get(REVISION).and_then(Value::as_str).unwrap_or_default().to_string();
    let old: i64 = old_text.parse().unwrap_or(0);
    if old < new_revision {
        out.insert(REVISION.into(), json!(new_revision.to_string()));
        if !old_text.is_empty() {
            let history = match out.get(REVISION_HISTORY).and_then(Value::as_str).filter(|h| !h.is_empty()) {
                Some(earlier) => format!("{earlier},{old_text}"),
                None => old_text,
            };
            out.insert(REVISION_HISTORY.into(), json!(history));
        }
    }
    if !exists {
        let limits = Limits::of(deployment);
        out.insert(DESIRED_REPLICAS.into(), json!(limits.desired.to_string()));
        out.insert(MAX_REPLICAS.into(), json!((limits.desired + limits.surge).to_string()));
    }
    out
}

/// The Deployment's status for these ReplicaSets (`new` is the one matching its template);
/// `conditions` are the current ones, to which Available is applied. Zero counts are omitted.
pub fn calculate(deployment: &Value, new: Option<&Value>, old: &[Value], conditions: &[Value], now: &str) -> Value {
    let all: Vec<&Value> = old.iter().chain(new).collect();
    let sum = |field: &str| all.iter().map(|rs| int(&rs["status"][field])).sum::<i64>();
    let available = sum("availableReplicas");
    let total: i64 = all.iter().map(|rs| int(&rs["spec"]["replicas"])).sum();
    let limits = Limits::of(deployment);
    let mut status = Map::new();
    if let Some(generation) = deployment["metadata"]["generation"].as_i64() {
        status.insert("observedGeneration".into(), json!(generation));
    }
    let counts = [
        ("replicas", sum("replicas")),
        ("updatedReplicas", new.map_or(0, |rs| int(&rs["status"]["replicas"]))),
        ("readyReplicas", sum("readyReplicas")),
        ("availableReplicas", available),
        ("unavailableReplicas", (total - available).max(0)),
    ];
    for (field, count) in counts.into_iter().filter(|(_, c)| *c > 0) {
        status.insert(field.into(), json!(count));
    }
    if let Some(count) = deployment["status"].get("collisionCount").filter(|c| !c.is_null()) {
        status.insert("collisionCount".into(), count.clone());
    }
    let mut conditions = conditions.to_vec();
    let available_condition = if available >= limits.min_available() {
        condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    set_condition(&mut conditions, available_condition);
    status.insert("conditions".into(), json!(conditions));
    Value::Object(status)
}

/// Whether every desired pod is updated and available and the spec has been observed.
pub fn is_complete(deployment: &Value, status: &Value) -> bool {
    let desired = Limits::of(deployment).desired;
    int(&status["updatedReplicas"]) == desired
        && int(&status["replicas"]) == desired
        && int(&status["availableReplicas"]) == desired
        && int(&status["observedGeneration"]) >= int(&deployment["metadata"]["generation"])
}

/// Whether the rollout moved forward between two statuses.
pub fn made_progress(before: &Value, after: &Value) -> bool {
    let old_pods = |s: &Value| int(&s["replicas"]) - int(&s["updatedReplicas"]);
    int(&after["updatedReplicas"]) > int(&before["updatedReplicas"])
        || old_pods(after) < old_pods(before)
        || int(&after["readyReplicas"]) > int(&before["readyReplicas"])
        || int(&after["availableReplicas"]) > int(&before["availableReplicas"])
}

/// Sets the Progressing condition for the new status, as upstream's syncRolloutStatus does, and
/// says when to look again for a deadline.
pub fn progress(
    deployment: &Value,
    before: &Value,
    status: &mut Value,
    new_rs: Option<&str>,
    now: Timestamp,
) -> Option<Duration> {
    let deadline = deployment["spec"]["progressDeadlineSeconds"].as_i64();
    let now_text = time::rfc3339(now);
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let Some(deadline) = deadline else {
        conditions.retain(|c| c["type"] != "Progressing");
        status["conditions"] = json!(conditions);
        return None;
    };
    let subject = match new_rs {
        Some(name) => format!("ReplicaSet \"{name}\""),
        None => format!("Deployment \"{}\"", object::name(deployment)),
    };
    let current = find_condition(&conditions, "Progressing").cloned();
    let finished = int(&status["replicas"]) == int(&status["updatedReplicas"])
        && current.as_ref().is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
    if !finished {
        if is_complete(deployment, status) {
            let message = format!("{subject} has successfully progressed.");
            set_condition(
                &mut conditions,
                condition("Progressing", "True", "NewReplicaSetAvailable", &message, &now_text),
            );
        } else if made_progress(before, status) {
            let mut updated =
                condition("Progressing", "True", "ReplicaSetUpdated", &format!("{subject} is progressing."), &now_text);
            if let Some(current) = current.as_ref().filter(|c| c["status"] == "True") {
                updated["lastTransitionTime"] = current["lastTransitionTime"].clone();
            }
            conditions.retain(|c| c["type"] != "Progressing");
            conditions.push(updated);
        } else if timed_out(current.as_ref(), deadline, now) {
            let message = format!("{subject} has timed out progressing.");
            set_condition(
                &mut conditions,
                condition("Progressing", "False", "ProgressDeadlineExceeded", &message, &now_text),
            );
        }
    }
    status["conditions"] = json!(conditions);
    let progressing = find_condition(&conditions, "Progressing")
        .filter(|c| c["status"] == "True" && c["reason"] != "NewReplicaSetAvailable")?;
    let since = time::parse(&progressing["lastUpdateTime"])?;
    let left = since.as_second() + deadline - now.as_second();
    Some(Duration::from_secs(left.max(0) as u64 + 1))
}

/// The first ReplicaFailure of the ReplicaSets (the new one first), as a Deployment condition.
pub fn replica_failure(new: Option<&Value>, old: &[Value]) -> Option<Value> {
    let failure = new.into_iter().chain(old).find_map(|rs| {
        rs["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "ReplicaFailure").cloned()
    })?;
    let mut condition = failure;
    condition["lastUpdateTime"] = condition["lastTransitionTime"].clone();
    Some(condition)
}

fn timed_out(current: Option<&Value>, deadline: i64, now: Timestamp) -> bool {
    let Some(current) = current else { return false };
    match current["reason"].as_str() {
        Some("NewReplicaSetAvailable") => false,
        Some("ProgressDeadlineExceeded") => true,
        _ => {
            time::parse(&current["lastUpdateTime"]).is_some_and(|since| since.as_second() + deadline < now.as_second())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64) -> Value {
        json!({"metadata": {"name": "web", "generation": 2, "annotations": {"team": "a", REVISION: "7",
                "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
               "spec": {"replicas": replicas, "progressDeadlineSeconds": 600,
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                            "maxUnavailable": "25%"}}}})
    }

    fn rs(replicas: i64, ready: i64) -> Value {
        json!({"spec": {"replicas": replicas}, "status": {"replicas": replicas, "readyReplicas": ready,
            "availableReplicas": ready}})
    }

    #[test]
    fn a_new_replica_set_gets_the_deployments_annotations_and_replica_counts() {
        let annotations = new_rs_annotations(&deployment(3), &json!({}), 4, false);
        assert_eq!(annotations["team"], "a");
        assert_eq!(annotations[REVISION], "4");
        assert_eq!(annotations[DESIRED_REPLICAS], "3");
        assert_eq!(annotations[MAX_REPLICAS], "4");
        assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
        assert!(!annotations.contains_key(REVISION_HISTORY));
    }

    #[test]
    fn a_reused_replica_set_remembers_its_earlier_revisions() {
        let old = json!({"metadata": {"annotations": {REVISION: "1", REVISION_HISTORY: "0"}}});
        let annotations = new_rs_annotations(&deployment(3), &old, 3, true);
        assert_eq!(annotations[REVISION], "3");
        assert_eq!(annotations[REVISION_HISTORY], "0,1");
        assert!(!annotations.contains_key(DESIRED_REPLICAS), "only set when created or scaled");
    }

    #[test]
    fn the_status_sums_the_replica_sets_and_reports_missing_availability() {
        let status = calculate(&deployment(3), Some(&rs(1, 0)), &[rs(3, 3)], &[], "t");
        assert_eq!(status["replicas"], 4);
        assert_eq!(status["updatedReplicas"], 1);
        assert_eq!(status["availableReplicas"], 3);
        assert_eq!(status["unavailableReplicas"], 1);
        assert_eq!(status["observedGeneration"], 2);
        assert_eq!(status["conditions"][0]["reason"], "MinimumReplicasAvailable");
        let pending = calculate(&deployment(3), Some(&rs(3, 0)), &[], &[], "t");
        assert_eq!(pending["conditions"][0]["message"], "Deployment does not have minimum availability.");
        assert!(pending.get("readyReplicas").is_none(), "zero counts are omitted");
    }

    #[test]
    fn progressing_moves_to_successfully_progressed_when_complete() {
        let d = deployment(3);
        let now = Timestamp::now();
        let before = json!({"replicas": 3, "updatedReplicas": 3});
        let mut status = calculate(&d, Some(&rs(3, 3)), &[], &[], "t");
        let recheck = progress(&d, &before, &mut status, Some("web-abc"), now);
        let progressing = find_condition(status["conditions"].as_array().unwrap(), "Progressing").unwrap().clone();
        assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
        assert_eq!(progressing["message"], "ReplicaSet \"web-abc\" has successfully progressed.");
        assert_eq!(recheck, None);
    }

    #[test]
    fn a_rollout_without_progress_times_out_after_the_deadline() {
        let d = deployment(3);
        let now: Timestamp = "2026-01-01T00:20:00Z".parse().unwrap();
        let stale = condition("Progressing", "True", "ReplicaSetUpdated", "m", "2026-01-01T00:00:00Z");
        let before = json!({"replicas": 3, "updatedReplicas": 3});
        let mut status = calculate(&d, Some(&rs(3, 0)), &[], &[stale], "t");
        progress(&d, &before, &mut status, Some("web-abc"), now);
        let progressing = find_condition(status["conditions"].as_array().unwrap(), "Progressing").unwrap().clone();
        assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
        assert_eq!(progressing["status"], "False");
        assert_eq!(progressing["message"], "ReplicaSet \"web-abc\" has timed out progressing.");
    }

    #[test]
    fn progress_refreshes_the_condition_and_asks_to_look_again_at_the_deadline() {
        let d = deployment(3);
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let before = json!({});
        let mut status = calculate(&d, Some(&rs(3, 0)), &[], &[], "t");
        let recheck = progress(&d, &before, &mut status, Some("web-abc"), now);
        let progressing = find_condition(status["conditions"].as_array().unwrap(), "Progressing").unwrap().clone();
        assert_eq!(progressing["reason"], "ReplicaSetUpdated");
        assert_eq!(progressing["message"], "ReplicaSet \"web-abc\" is progressing.");
        assert_eq!(recheck, Some(Duration::from_secs(601)));
    }

    #[test]
    fn a_replica_set_failure_becomes_a_deployment_condition() {
        let failing = json!({"status": {"conditions": [{"type": "ReplicaFailure", "status": "True",
            "reason": "FailedCreate",
            "message": "forbidden", "lastTransitionTime": "t1"}]}});
        let condition = replica_failure(Some(&rs(1, 0)), &[failing]).unwrap();
        assert_eq!(
            (condition["reason"].as_str(), condition["lastUpdateTime"].as_str()),
            (Some("FailedCreate"), Some("t1"))
        );
        assert!(replica_failure(Some(&rs(1, 0)), &[]).is_none());
    }
}

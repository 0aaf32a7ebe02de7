//! The ReplicaSet controller (and, with a map selector, the ReplicationController's): keeps `spec.replicas` pods matching the selector, creating them
//! from the template and deleting the least useful surplus, and reports their readiness.

use super::owners::{self, availability, int, is_active, is_deleting, is_ready};
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::selectors::LabelSelector;
use gitops_sandbox_core::time;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

/// Reconciles ReplicaSets against their pods.
pub struct ReplicaSetController;

/// Reconciles ReplicationControllers against their pods: a ReplicaSet whose selector is a plain
/// map of labels, run by the same code (upstream's replication manager is the ReplicaSet
/// controller in the same way).
pub struct ReplicationManager;

/// What differs between the two kinds the controller runs: the type, and the events' source.
struct Kind {
    rt: fn() -> &'static ResourceType,
    source: Source,
}

const REPLICA_SETS: Kind = Kind { rt: replicasets, source: Source { component: "replicaset-controller", host: None } };
const REPLICATION_CONTROLLERS: Kind =
    Kind { rt: replicationcontrollers, source: Source { component: "replication-controller", host: None } };

fn replicasets() -> &'static ResourceType {
    builtin_type("apps", "replicasets")
}

fn replicationcontrollers() -> &'static ResourceType {
    builtin_type("", "replicationcontrollers")
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

impl Controller for ReplicaSetController {
    fn name(&self) -> &'static str {
        "replicaset"
    }

    fn primary(&self) -> ResourceId {
        replicasets().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        sync(sb, target, &REPLICA_SETS)
    }
}

impl Controller for ReplicationManager {
    fn name(&self) -> &'static str {
        "replicationcontroller"
    }

    fn primary(&self) -> ResourceId {
        replicationcontrollers().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        sync(sb, target, &REPLICATION_CONTROLLERS)
    }
}

/// The selector of a ReplicaSet (a LabelSelector) or a ReplicationController (a map of labels).
fn selector_of(rs: &Value) -> Result<LabelSelector, String> {
    let selector = &rs["spec"]["selector"];
    if rs["kind"] == "ReplicationController" {
        return LabelSelector::from_object(&json!({"matchLabels": selector}));
    }
    LabelSelector::from_object(selector)
}

/// One reconcile of a ReplicaSet or ReplicationController.
fn sync(sb: &Sandbox, target: &ObjectRef, kind: &Kind) -> Result<Action, ApiError> {
    let Some(rs) = sb.get((kind.rt)(), Some(&target.namespace), &target.name) else {
        return Ok(Action::Done);
    };
    // An invalid selector cannot be acted on; upstream logs it and waits for a fix.
    let Ok(selector) = selector_of(&rs) else {
        return Ok(Action::Done);
    };
    let active = active_pods(sb, &rs, &selector)?;
    let failure = if is_deleting(&rs) { None } else { manage(sb, kind, &rs, active) };
    let active = active_pods(sb, &rs, &selector)?;
    let now = Timestamp::now();
    let (mut status, mut recheck) = status_of(&rs, &active, now);
    note_failure(&mut status, &rs, active.len(), failure.as_deref(), now);
    if rs["status"] != status {
        owners::update_status(sb, (kind.rt)(), &rs, |next| next["status"] = status)?;
    }
    if failure.is_some() {
        // Upstream retries with a rate limit; a fixed pause keeps the events readable.
        recheck = Some(recheck.map_or(RETRY_FAILED, |r| r.min(RETRY_FAILED)));
    }
    Ok(recheck.map_or(Action::Done, Action::RequeueAfter))
}

/// The ReplicaSet's pods that count: claimed, not being deleted, not finished.
fn active_pods(sb: &Sandbox, rs: &Value, selector: &LabelSelector) -> Result<Vec<Arc<Value>>, ApiError> {
    let (snapshot, _) = sb.store().list(&pods().id(), Some(object::namespace(rs)), None, 0, |_| true);
    let claimed = owners::claim(sb, pods(), rs, selector, snapshot.items)?;
    Ok(claimed.into_iter().filter(|p| is_active(p)).collect())
}

/// How long to wait before trying again after a pod could not be created.
const RETRY_FAILED: Duration = Duration::from_secs(5);

/// Creates or deletes pods until there are `spec.replicas` of them; says why a creation failed.
fn manage(sb: &Sandbox, kind: &Kind, rs: &Value, active: Vec<Arc<Value>>) -> Option<String> {
    let wanted = int(&rs["spec"]["replicas"]).max(0) as usize;
    if active.len() < wanted {
        for _ in active.len()..wanted {
            // Stop at the first failure, as upstream's slow-start batches do.
            if let Err(message) = create_pod(sb, kind.source, rs) {
                return Some(message);
            }
        }
    } else if active.len() > wanted {
        for pod in pods_to_delete(active, wanted) {
            delete_pod(sb, kind.source, rs, &pod);
        }
    }
    None
}

/// Sets or clears the ReplicaFailure condition, as upstream's status calculation does.
fn note_failure(status: &mut Value, rs: &Value, active: usize, failure: Option<&str>, now: Timestamp) {
    let mut conditions: Vec<Value> = status["conditions"].as_array().cloned().unwrap_or_default();
    let present = conditions.iter().any(|c| c["type"] == "ReplicaFailure");
    match failure {
        Some(message) if !present => {
            let reason = if (active as i64) < int(&rs["spec"]["replicas"]) { "FailedCreate" } else { "FailedDelete" };
            conditions
                .push(json!({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": time::rfc3339(now),
                                   "reason": reason, "message": message}));
        }
        None if present => conditions.retain(|c| c["type"] != "ReplicaFailure"),
        _ => return,
    }
    if let Some(map) = status.as_object_mut() {
        if conditions.is_empty() {
            map.remove("conditions");
        } else {
            map.insert("conditions".into(), json!(conditions));
        }
    }
}

fn create_pod(sb: &Sandbox, source: Source, rs: &Value) -> Result<(), String> {
    let namespace = object::namespace(rs).to_string();
    match sb.create(pods(), Some(&namespace), pod_from_template(rs), WriteOptions::default()) {
        Ok(outcome) => {
            let message = format!("Created pod: {}", object::name(&outcome.object));
            sb.record(source, rs, EventType::Normal, "SuccessfulCreate", message);
            Ok(())
        }
        Err(error) => {
            let failure = error.message.clone();
            let message = format!("Error creating: {}", error.message);
            sb.record(source, rs, EventType::Warning, "FailedCreate", message);
            Err(failure)
        }
    }
}

fn delete_pod(sb: &Sandbox, source: Source, rs: &Value, pod: &Value) {
    let options = DeleteOptions { uid: Some(object::uid(pod).to_string()), ..Default::default() };
    match sb.delete(pods(), Some(object::namespace(pod)), object::name(pod), &options) {
        Ok(_) => {
            let message = format!("Deleted pod: {}", object::name(pod));
            sb.record(source, rs, EventType::Normal, "SuccessfulDelete", message);
        }
        // Already gone or replaced: nothing left to do for this one.
        Err(error) if error.is_not_found() || error.is_conflict() => {}
        Err(error) => {
            let message = format!("Error deleting: {}", error.message);
            sb.record(source, rs, EventType::Warning, "FailedDelete", message);
        }
    }
}

/// A new pod for the ReplicaSet: the template's labels, annotations and spec, a generated name
/// and a controller reference back to it.
pub fn pod_from_template(rs: &Value) -> Value {
    let template = &rs["spec"]["template"];
    let mut meta = Map::new();
    meta.insert("generateName".into(), json!(format!("{}-", object::name(rs))));
    meta.insert("namespace".into(), json!(object::namespace(rs)));
    for field in ["labels", "annotations", "finalizers"] {
        if let Some(value) = template["metadata"].get(field).filter(|v| !v.is_null()) {
            meta.insert(field.into(), value.clone());
        }
    }
    meta.insert("ownerReferences".into(), json!([owners::owner_reference(rs)]));
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]})
}

/// Scheduled, phase, ready, ready since, restarts, created, name: see [`deletion_rank`].
type Rank = (bool, u8, bool, Reverse<i64>, Reverse<i64>, Reverse<String>, Reverse<String>);

/// The sort key that puts the pods to delete first: unscheduled before scheduled, Pending before
/// Unknown before Running, not ready before ready, ready for less time first, more restarts first,
/// newer first (upstream's ranking, without the per-node spreading a single node makes moot).
fn deletion_rank(pod: &Value) -> Rank {
    let scheduled = pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    let phase = match pod["status"]["phase"].as_str().unwrap_or("Pending") {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 3,
    };
    let ready_since = owners::ready_since(pod).map(|t| t.as_second()).unwrap_or(i64::MIN);
    let restarts = pod["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |all| all.iter().map(|c| int(&c["restartCount"])).max().unwrap_or(0));
    let created = pod["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string();
    (
        scheduled,
        phase,
        is_ready(pod),
        Reverse(ready_since),
        Reverse(restarts),
        Reverse(created),
        Reverse(object::name(pod).to_string()),
    )
}

/// The pods to delete so that `keep` remain, best candidates first.
pub fn pods_to_delete(mut pods: Vec<Arc<Value>>, keep: usize) -> Vec<Arc<Value>> {
    let surplus = pods.len().saturating_sub(keep);
    pods.sort_by_cached_key(|p| deletion_rank(p));
    pods.truncate(surplus);
    pods
}

/// The status for these active pods, and when to look again for pods about to become available.
pub fn status_of(rs: &Value, active: &[Arc<Value>], now: Timestamp) -> (Value, Option<Duration>) {
    let min_ready = int(&rs["spec"]["minReadySeconds"]);
    let template_labels = rs["spec"]["template"]["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    let mut recheck: Option<Duration> = None;
    for pod in active {
        let labels = &pod["metadata"]["labels"];
        if template_labels.iter().all(|(k, v)| &labels[k] == v) {
            fully_labeled += 1;
        }
        if is_ready(pod) {
            ready += 1;
        }
        match availability(pod, min_ready, now) {
            (true, _) => available += 1,
            (false, Some(wait)) => recheck = Some(recheck.map_or(wait, |r| r.min(wait))),
            (false, None) => {}
        }
    }
    // Zero counts are omitted, as upstream's omitempty fields are; `replicas` always shows.
    let mut status = Map::new();
    status.insert("replicas".into(), json!(active.len()));
    for (field, count) in
        [("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready), ("availableReplicas", available)]
    {
        if count > 0 {
            status.insert(field.into(), json!(count));
        }
    }
    if let Some(generation) = rs["metadata"]["generation"].as_i64() {
        status.insert("observedGeneration".into(), json!(generation));
    }
    if let Some(conditions) = rs["status"].get("conditions").filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) {
        status.insert("conditions".into(), conditions.clone());
    }
    (Value::Object(status), recheck)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, created: &str, phase: &str, ready: bool, node: bool) -> Arc<Value> {
        let mut pod = json!({"metadata": {"name": name, "creationTimestamp": created, "labels": {"app": "web"}},
                             "spec": {}, "status": {"phase": phase}});
        if node {
            pod["spec"]["nodeName"] = json!("sandbox");
        }
        if ready {
            pod["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": created}]);
        }
        Arc::new(pod)
    }

    fn names(pods: &[Arc<Value>]) -> Vec<&str> {
        pods.iter().map(|p| object::name(p)).collect()
    }

    #[test]
    fn surplus_pods_are_chosen_not_ready_and_newest_first() {
        let all = vec![
            pod("old-ready", "2026-01-01T00:00:00Z", "Running", true, true),
            pod("new-ready", "2026-01-01T00:01:00Z", "Running", true, true),
            pod("pending", "2026-01-01T00:00:30Z", "Pending", false, true),
            pod("unscheduled", "2026-01-01T00:00:10Z", "Pending", false, false),
        ];
        assert_eq!(names(&pods_to_delete(all.clone(), 3)), ["unscheduled"]);
        assert_eq!(names(&pods_to_delete(all.clone(), 1)), ["unscheduled", "pending", "new-ready"]);
        assert!(pods_to_delete(all, 4).is_empty());
    }

    #[test]
    fn among_equal_pods_the_newest_goes_first() {
        let all = vec![
            pod("a", "2026-01-01T00:00:00Z", "Pending", false, false),
            pod("b", "2026-01-01T00:00:09Z", "Pending", false, false),
        ];
        assert_eq!(names(&pods_to_delete(all, 1)), ["b"]);
    }

    #[test]
    fn a_pod_copies_the_template_and_points_back_at_its_replica_set() {
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d4f8",
            "namespace": "team", "uid": "rs-1"},
            "spec": {"template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8"},
                "creationTimestamp": null},
                                   "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
        let pod = pod_from_template(&rs);
        assert_eq!(pod["metadata"]["generateName"], "web-5d4f8-");
        assert_eq!(pod["metadata"]["namespace"], "team");
        assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], "5d4f8");
        let owner = &pod["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["kind"].as_str(), owner["uid"].as_str(), owner["controller"].as_bool()),
            (Some("ReplicaSet"), Some("rs-1"), Some(true))
        );
        assert_eq!(owner["blockOwnerDeletion"], true);
        assert_eq!(pod["spec"]["containers"][0]["image"], "nginx");
    }

    #[test]
    fn the_status_counts_labelled_ready_and_available_pods() {
        let rs = json!({"metadata": {"generation": 4}, "spec": {"minReadySeconds": 30,
            "template": {"metadata": {"labels": {"app": "web"}}}}});
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let active = vec![
            pod("long-ready", "2026-01-01T00:00:00Z", "Running", true, true),
            pod("just-ready", "2026-01-01T00:00:50Z", "Running", true, true),
            pod("pending", "2026-01-01T00:00:50Z", "Pending", false, true),
        ];
        let (status, recheck) = status_of(&rs, &active, now);
        assert_eq!(
            status,
            json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 2, "availableReplicas": 1,
                "observedGeneration": 4})
        );
        assert_eq!(recheck, Some(Duration::from_secs(20)));
    }

    #[test]
    fn no_pods_still_reports_zero_replicas() {
        let rs = json!({"metadata": {"generation": 1}, "spec": {"template": {}}});
        let (status, recheck) = status_of(&rs, &[], Timestamp::now());
        assert_eq!(status, json!({"replicas": 0, "observedGeneration": 1}));
        assert_eq!(recheck, None);
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;

    #[test]
    fn a_failed_creation_sets_replica_failure_until_it_succeeds() {
        let rs = json!({"spec": {"replicas": 2}});
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut status = json!({"replicas": 1});
        note_failure(&mut status, &rs, 1, Some("pods \"web-\" is forbidden: quota"), now);
        assert_eq!(status["conditions"][0]["reason"], "FailedCreate");
        assert_eq!(status["conditions"][0]["message"], "pods \"web-\" is forbidden: quota");
        note_failure(&mut status, &rs, 2, None, now);
        assert!(status.get("conditions").is_none());
    }
}

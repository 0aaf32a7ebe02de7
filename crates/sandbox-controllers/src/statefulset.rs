//! The StatefulSet controller: pods with stable names `NAME-0..N-1`, made in order (OrderedReady:
//! the next only once the previous one is Running and Ready) or all at once (Parallel), a claim per
//! `volumeClaimTemplates` entry and ordinal (kept when the set shrinks, as upstream's default
//! retention does), scale-down from the highest ordinal, and RollingUpdate (highest ordinal first,
//! down to `partition`) or OnDelete updates. Revisions are named `NAME-HASH` from the pod
//! template's hash, each kept as a ControllerRevision (`revisions.rs`) for `kubectl rollout
//! history|undo`; a pod recreated below the partition gets the current template rather than its
//! old revision's.

use super::owners::{self, availability, int, is_deleting, is_ready};
use super::rollout::template_hash;
use super::runtime::{Action, Controller, ObjectRef};
use crate::revisions;
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType, builtin_type};
use gitops_sandbox_core::selectors::LabelSelector;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const SOURCE: Source = Source { component: "statefulset-controller", host: None };

/// The label naming the revision a pod was made from (`NAME-HASH` for a StatefulSet's pods).
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// The label carrying a StatefulSet pod's own name, so a Service can pick one pod.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label carrying a StatefulSet pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// Reconciles StatefulSets against their pods and claims.
pub struct StatefulSetController;

fn statefulsets() -> &'static ResourceType {
    builtin_type("apps", "statefulsets")
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

fn claims() -> &'static ResourceType {
    builtin_type("", "persistentvolumeclaims")
}

impl Controller for StatefulSetController {
    fn name(&self) -> &'static str {
        "statefulset"
    }

    fn primary(&self) -> ResourceId {
        statefulsets().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(set) = sb.get(statefulsets(), Some(&target.namespace), &target.name) else {
            return Ok(Action::Done);
        };
        // An invalid selector cannot be acted on; upstream logs it and waits for a fix.
        let Ok(selector) = LabelSelector::from_object(&set["spec"]["selector"]) else {
            return Ok(Action::Done);
        };
        if !is_deleting(&set) {
            let revision = update_revision(&set);
            let hash = revision.rsplit_once('-').map_or("", |(_, hash)| hash).to_string();
            revisions::record(sb, &set, &revision, &hash)?;
            let members = members(sb, &set, &selector)?;
            Plan::of(&set, &members).apply(sb, &set, &members)?;
        }
        let members = members(sb, &set, &selector)?;
        let (status, recheck) = status_of(&set, &members, Timestamp::now());
        if set["status"] != status {
            owners::update_status(sb, statefulsets(), &set, |next| next["status"] = status)?;
        }
        Ok(recheck.map_or(Action::Done, Action::RequeueAfter))
    }
}

/// The set's pods by ordinal: claimed, and named `NAME-ORDINAL` (others are not its members).
fn members(sb: &Sandbox, set: &Value, selector: &LabelSelector) -> Result<BTreeMap<i64, Arc<Value>>, ApiError> {
    let (snapshot, _) = sb.store().list(&pods().id(), Some(object::namespace(set)), None, 0, |_| true);
    let claimed = owners::claim(sb, pods(), set, selector, snapshot.items)?;
    let prefix = format!("{}-", object::name(set));
    Ok(claimed
        .into_iter()
        .filter_map(|pod| {
            let ordinal = object::name(&pod).strip_prefix(&prefix)?.parse::<i64>().ok()?;
            Some((ordinal, pod))
        })
        .collect())
}

/// The revision of the set's current template: `NAME-HASH`.
pub fn update_revision(set: &Value) -> String {
    let collisions = set["status"]["collisionCount"].as_i64().filter(|c| *c > 0);
    format!("{}-{}", object::name(set), template_hash(&set["spec"]["template"], collisions))
}

fn revision_of(pod: &Value) -> &str {
    pod["metadata"]["labels"][REVISION_LABEL].as_str().unwrap_or_default()
}

fn running_and_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && is_ready(pod) && !is_deleting(pod)
}

fn finished(pod: &Value) -> bool {
    matches!(pod["status"]["phase"].as_str(), Some("Failed" | "Succeeded"))
}

/// The ordinals the set should have: `start..start+replicas`.
fn wanted(set: &Value) -> std::ops::Range<i64> {
    let start = int(&set["spec"]["ordinals"]["start"]).max(0);
    start..start + int(&set["spec"]["replicas"]).max(0)
}

/// One step of the set's pod management, decided from what exists: which pods to create and
/// which to delete. OrderedReady does at most one thing and waits for its result.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    create: Vec<i64>,
    delete: Vec<i64>,
}

impl Plan {
    fn of(set: &Value, members: &BTreeMap<i64, Arc<Value>>) -> Self {
        let parallel = set["spec"]["podManagementPolicy"] == "Parallel";
        let range = wanted(set);
        let mut plan = Plan::default();
        // A pod that ended is replaced, as upstream does for a failed pod.
        for (&ordinal, pod) in members {
            if finished(pod) && !is_deleting(pod) {
                plan.delete.push(ordinal);
            }
        }
        if !plan.delete.is_empty() {
            return plan;
        }
        for ordinal in range.clone() {
            match members.get(&ordinal) {
                None => {
                    plan.create.push(ordinal);
                    if !parallel {
                        return plan;
                    }
                }
                Some(pod) if !parallel && !running_and_ready(pod) => return plan,
                Some(_) => {}
            }
        }
        if !plan.create.is_empty() {
            return plan;
        }
        // Scale down from the highest ordinal; in order, only once every other pod is healthy.
        let condemned: Vec<i64> = members.keys().copied().filter(|o| !range.contains(o)).rev().collect();
        for ordinal in condemned {
            let pod = &members[&ordinal];
            if is_deleting(pod) {
                if parallel {
                    continue;
                }
                return plan;
            }
            if !parallel && members.iter().any(|(&o, p)| o < ordinal && !running_and_ready(p)) {
                return plan;
            }
            plan.delete.push(ordinal);
            if !parallel {
                return plan;
            }
        }
        if !plan.delete.is_empty() || members.values().any(|p| is_deleting(p)) {
            return plan;
        }
        plan.rolling_update(set, members, range);
        plan
    }

    /// RollingUpdate: the highest ordinal at or above the partition that is not at the update
    /// revision goes (and comes back updated), one at a time, each only when all pods are healthy.
    fn rolling_update(&mut self, set: &Value, members: &BTreeMap<i64, Arc<Value>>, range: std::ops::Range<i64>) {
        let strategy = &set["spec"]["updateStrategy"];
        if strategy["type"] == "OnDelete" || members.values().any(|p| !running_and_ready(p)) {
            return;
        }
        let revision = update_revision(set);
        let lowest = range.start + int(&strategy["rollingUpdate"]["partition"]).max(0);
        let stale = range
            .rev()
            .take_while(|o| *o >= lowest)
            .find(|o| members.get(o).is_some_and(|p| revision_of(p) != revision));
        self.delete.extend(stale);
    }

    fn apply(&self, sb: &Sandbox, set: &Value, members: &BTreeMap<i64, Arc<Value>>) -> Result<(), ApiError> {
        for &ordinal in &self.create {
            make_claims(sb, set, ordinal)?;
            let pod = pod_for(set, ordinal);
            let name = object::name(&pod).to_string();
            match sb.create(pods(), Some(object::namespace(set)), pod, WriteOptions::default()) {
                Ok(_) => record(sb, set, "Create", &name, None),
                // The old pod of that name is still on its way out: its deletion brings us back.
                Err(error) if error.is_conflict() => {}
                Err(error) => {
                    record(sb, set, "Create", &name, Some(&error.message));
                    return Err(error);
                }
            }
        }
        for ordinal in &self.delete {
            let pod = &members[ordinal];
            let options = DeleteOptions { uid: Some(object::uid(pod).to_string()), ..Default::default() };
            match sb.delete(pods(), Some(object::namespace(pod)), object::name(pod), &options) {
                Ok(_) => record(sb, set, "Delete", object::name(pod), None),
                Err(error) if error.is_not_found() || error.is_conflict() => {}
                Err(error) => record(sb, set, "Delete", object::name(pod), Some(&error.message)),
            }
        }
        Ok(())
    }
}

/// Upstream's event for a pod created or deleted: `create Pod web-0 in StatefulSet web successful`.
fn record(sb: &Sandbox, set: &Value, verb: &str, pod: &str, error: Option<&str>) {
    let what = format!("{} Pod {pod} in StatefulSet {}", verb.to_lowercase(), object::name(set));
    match error {
        None => sb.record(SOURCE, set, EventType::Normal, &format!("Successful{verb}"), format!("{what} successful")),
        Some(e) => {
            sb.record(SOURCE, set, EventType::Warning, &format!("Failed{verb}"), format!("{what} failed error: {e}"))
        }
    }
}

/// The claim of template `template` for pod `ordinal`: `TEMPLATE-SET-ORDINAL`.
pub fn claim_name(template: &Value, set: &Value, ordinal: i64) -> String {
    format!("{}-{}-{ordinal}", object::name(template), object::name(set))
}

/// Creates the pod's missing claims from the templates (existing ones are kept and reused).
fn make_claims(sb: &Sandbox, set: &Value, ordinal: i64) -> Result<(), ApiError> {
    let namespace = object::namespace(set);
    for template in set["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let name = claim_name(template, set, ordinal);
        if sb.get(claims(), Some(namespace), &name).is_some() {
            continue;
        }
        let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
        if let Some(selected) = set["spec"]["selector"]["matchLabels"].as_object() {
            labels.extend(selected.clone());
        }
        let mut meta = json!({"name": name, "namespace": namespace, "labels": labels});
        if let Some(annotations) = template["metadata"].get("annotations").filter(|a| a.is_object()) {
            meta["annotations"] = annotations.clone();
        }
        let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": template["spec"]});
        let what =
            format!("create Claim {name} Pod {}-{ordinal} in StatefulSet {}", object::name(set), object::name(set));
        match sb.create(claims(), Some(namespace), claim, WriteOptions::default()) {
            Ok(_) => sb.record(SOURCE, set, EventType::Normal, "SuccessfulCreate", format!("{what} success")),
            Err(error) if error.is_conflict() => {}
            Err(error) => {
                sb.record(
                    SOURCE,
                    set,
                    EventType::Warning,
                    "FailedCreate",
                    format!("{what} failed error: {}", error.message),
                );
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The pod for `ordinal`: the template with the set's identity (name, hostname, subdomain, the
/// revision and identity labels) and a volume per claim template, replacing one of the same name.
pub fn pod_for(set: &Value, ordinal: i64) -> Value {
    let template = &set["spec"]["template"];
    let name = format!("{}-{ordinal}", object::name(set));
    let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), json!(update_revision(set)));
    labels.insert(POD_NAME_LABEL.into(), json!(name));
    labels.insert(POD_INDEX_LABEL.into(), json!(ordinal.to_string()));
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    meta.insert("namespace".into(), json!(object::namespace(set)));
    meta.insert("labels".into(), json!(labels));
    if let Some(annotations) = template["metadata"].get("annotations").filter(|a| a.is_object()) {
        meta.insert("annotations".into(), annotations.clone());
    }
    meta.insert("ownerReferences".into(), json!([owners::owner_reference(set)]));
    let mut spec = template["spec"].clone();
    spec["hostname"] = json!(name);
    if let Some(service) = set["spec"]["serviceName"].as_str().filter(|s| !s.is_empty()) {
        spec["subdomain"] = json!(service);
    }
    let mut volumes: Vec<Value> = spec["volumes"].as_array().cloned().unwrap_or_default();
    for template in set["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let volume = object::name(template);
        volumes.retain(|v| v["name"] != volume);
        volumes
            .push(json!({"name": volume, "persistentVolumeClaim": {"claimName": claim_name(template, set, ordinal)}}));
    }
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

/// The set's status from its pods, as upstream computes it, and when to look again for pods
/// about to become available. A finished rolling update makes the update revision current.
pub fn status_of(set: &Value, members: &BTreeMap<i64, Arc<Value>>, now: Timestamp) -> (Value, Option<Duration>) {
    let update = update_revision(set);
    let current = set["status"]["currentRevision"].as_str().filter(|c| !c.is_empty()).unwrap_or(&update).to_string();
    let min_ready = int(&set["spec"]["minReadySeconds"]);
    let (mut ready, mut available, mut at_current, mut updated) = (0, 0, 0, 0);
    let mut recheck: Option<Duration> = None;
    for pod in members.values() {
        if running_and_ready(pod) {
            ready += 1;
        }
        match availability(pod, min_ready, now) {
            (true, _) if running_and_ready(pod) => available += 1,
            (false, Some(wait)) => recheck = Some(recheck.map_or(wait, |r| r.min(wait))),
            _ => {}
        }
        if !is_deleting(pod) {
            at_current += i64::from(revision_of(pod) == current);
            updated += i64::from(revision_of(pod) == update);
        }
    }
    let replicas = members.len() as i64;
    let (current, at_current) =
        if set["spec"]["updateStrategy"]["type"] != "OnDelete" && updated == replicas && ready == replicas {
            (update.clone(), updated)
        } else {
            (current, at_current)
        };
    let mut status = Map::new();
    status.insert("observedGeneration".into(), json!(int(&set["metadata"]["generation"])));
    status.insert("replicas".into(), json!(replicas));
    // Zero counts are omitted as upstream's omitempty fields are; availableReplicas always shows.
    for (field, count) in [("readyReplicas", ready), ("currentReplicas", at_current), ("updatedReplicas", updated)] {
        if count > 0 {
            status.insert(field.into(), json!(count));
        }
    }
    status.insert("currentRevision".into(), json!(current));
    status.insert("updateRevision".into(), json!(update));
    status.insert("collisionCount".into(), json!(int(&set["status"]["collisionCount"])));
    status.insert("availableReplicas".into(), json!(available));
    (Value::Object(status), recheck)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(replicas: i64, policy: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default",
            "uid": "s-1", "generation": 2},
            "spec": {"replicas": replicas, "podManagementPolicy": policy, "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db",
                    "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}]}})
    }

    fn member(set: &Value, ordinal: i64, ready: bool) -> (i64, Arc<Value>) {
        let mut pod = pod_for(set, ordinal);
        pod["status"] = json!({"phase": if ready { "Running" } else { "Pending" }});
        if ready {
            pod["status"]["conditions"] =
                json!([{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
        }
        (ordinal, Arc::new(pod))
    }

    #[test]
    fn ordered_ready_makes_one_pod_at_a_time_and_waits_for_it() {
        let s = set(3, "OrderedReady");
        assert_eq!(Plan::of(&s, &BTreeMap::new()), Plan { create: vec![0], delete: vec![] });
        let waiting = BTreeMap::from([member(&s, 0, false)]);
        assert_eq!(Plan::of(&s, &waiting), Plan::default());
        let ready = BTreeMap::from([member(&s, 0, true)]);
        assert_eq!(Plan::of(&s, &ready), Plan { create: vec![1], delete: vec![] });
    }

    #[test]
    fn parallel_makes_every_missing_pod_at_once() {
        let s = set(3, "Parallel");
        let members = BTreeMap::from([member(&s, 1, false)]);
        assert_eq!(Plan::of(&s, &members), Plan { create: vec![0, 2], delete: vec![] });
    }

    #[test]
    fn scaling_down_removes_the_highest_ordinal_first() {
        let s = set(1, "OrderedReady");
        let members = BTreeMap::from([member(&s, 0, true), member(&s, 1, true), member(&s, 2, true)]);
        assert_eq!(Plan::of(&s, &members), Plan { create: vec![], delete: vec![2] });
        let parallel = set(1, "Parallel");
        assert_eq!(Plan::of(&parallel, &members), Plan { create: vec![], delete: vec![2, 1] });
    }

    #[test]
    fn a_pod_gets_the_sets_identity_and_its_claim() {
        let pod = pod_for(&set(1, "OrderedReady"), 4);
        assert_eq!(pod["metadata"]["name"], "db-4");
        assert_eq!(pod["spec"]["hostname"], "db-4");
        assert_eq!(pod["spec"]["subdomain"], "db");
        assert_eq!(pod["metadata"]["labels"][POD_INDEX_LABEL], "4");
        assert!(pod["metadata"]["labels"][REVISION_LABEL].as_str().unwrap().starts_with("db-"));
        assert_eq!(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "data-db-4");
    }

    #[test]
    fn a_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
        let old = set(3, "OrderedReady");
        let members = BTreeMap::from([member(&old, 0, true), member(&old, 1, true), member(&old, 2, true)]);
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
        assert_eq!(Plan::of(&new, &members), Plan { create: vec![], delete: vec![2] });
        new["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(3);
        assert_eq!(Plan::of(&new, &members), Plan::default(), "everything is below the partition");
        new["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        assert_eq!(Plan::of(&new, &members), Plan::default());
    }

    #[test]
    fn the_status_counts_revisions_and_completes_a_rollout() {
        let s = set(2, "OrderedReady");
        let members = BTreeMap::from([member(&s, 0, true), member(&s, 1, false)]);
        let (status, _) = status_of(&s, &members, Timestamp::now());
        let revision = update_revision(&s);
        assert_eq!(
            status,
            json!({"observedGeneration": 2, "replicas": 2, "readyReplicas": 1, "currentReplicas": 2,
                "updatedReplicas": 2, "currentRevision": revision, "updateRevision": revision, "collisionCount": 0,
                "availableReplicas": 1})
        );
        let mut new = s.clone();
        new["status"] = status;
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
        let (status, _) = status_of(&new, &members, Timestamp::now());
        assert_eq!(status["currentRevision"], revision.as_str());
        assert_ne!(status["updateRevision"], revision.as_str());
        assert!(status.get("updatedReplicas").is_none());
    }
}

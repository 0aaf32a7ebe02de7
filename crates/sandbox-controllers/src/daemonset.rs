//! The DaemonSet controller: one pod on every node whose labels match the template's
//! `nodeSelector` and whose NoSchedule/NoExecute taints the pod tolerates (node affinity in the
//! template is not evaluated). A daemon pod is pinned to its node with a `metadata.name` node
//! affinity, as upstream does, and gets upstream's default daemon tolerations. Updates are
//! RollingUpdate (old pods replaced while at most `maxUnavailable` nodes lack an available pod;
//! `maxSurge` is treated as 0) or OnDelete.

use super::owners::{self, availability, int, is_active, is_deleting, is_ready};
use super::rollout::{scaled_value, template_hash};
use super::runtime::{Action, Controller, ObjectRef};
use super::statefulset::REVISION_LABEL;
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

const SOURCE: Source = Source { component: "daemonset-controller", host: None };
/// The (deprecated, still set) label with the DaemonSet generation a pod was made from.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// How soon to look again when no Node is registered yet (the node registers at start).
const NO_NODE_YET: Duration = Duration::from_secs(1);

/// Reconciles DaemonSets against the nodes and their pods.
pub struct DaemonSetController;

fn daemonsets() -> &'static ResourceType {
    builtin_type("apps", "daemonsets")
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

fn nodes() -> &'static ResourceType {
    builtin_type("", "nodes")
}

impl Controller for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn primary(&self) -> ResourceId {
        daemonsets().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(ds) = sb.get(daemonsets(), Some(&target.namespace), &target.name) else {
            return Ok(Action::Done);
        };
        let Ok(selector) = LabelSelector::from_object(&ds["spec"]["selector"]) else {
            return Ok(Action::Done);
        };
        let (nodes, _) = sb.store().list(&nodes().id(), None, None, 0, |_| true);
        let nodes: Vec<(String, bool)> =
            nodes.items.iter().map(|n| (object::name(n).to_string(), should_run(&ds, n))).collect();
        let (snapshot, _) = sb.store().list(&pods().id(), Some(&target.namespace), None, 0, |_| true);
        let claimed = owners::claim(sb, pods(), &ds, &selector, snapshot.items.clone())?;
        if !is_deleting(&ds) {
            let hash = current_hash(&ds);
            revisions::record(sb, &ds, &format!("{}-{hash}", object::name(&ds)), &hash)?;
            for (pod, create_on) in plan(&ds, &nodes, &claimed) {
                match (pod, create_on) {
                    (Some(pod), _) => delete_pod(sb, &ds, &pod),
                    (None, Some(node)) => create_pod(sb, &ds, &node)?,
                    (None, None) => {}
                }
            }
        }
        let (snapshot, _) = sb.store().list(&pods().id(), Some(&target.namespace), None, 0, |_| true);
        let claimed: Vec<Arc<Value>> =
            snapshot.items.into_iter().filter(|p| owners::is_controlled_by(p, &ds)).collect();
        let (status, recheck) = status_of(&ds, &nodes, &claimed, Timestamp::now());
        if ds["status"] != status {
            owners::update_status(sb, daemonsets(), &ds, |next| next["status"] = status)?;
        }
        let recheck = if nodes.is_empty() { Some(NO_NODE_YET) } else { recheck };
        Ok(recheck.map_or(Action::Done, Action::RequeueAfter))
    }
}

/// Whether the DaemonSet's pod belongs on `node`: its nodeSelector matches the node's labels and
/// it tolerates the node's NoSchedule and NoExecute taints.
pub fn should_run(ds: &Value, node: &Value) -> bool {
    let spec = &ds["spec"]["template"]["spec"];
    let labels = &node["metadata"]["labels"];
    let selected = spec["nodeSelector"].as_object().into_iter().flatten().all(|(k, v)| &labels[k] == v);
    let tolerations = tolerations(spec);
    let tolerated = node["spec"]["taints"].as_array().into_iter().flatten().all(|taint| {
        !matches!(taint["effect"].as_str(), Some("NoSchedule" | "NoExecute"))
            || tolerations.iter().any(|t| tolerates(t, taint))
    });
    selected && tolerated
}

/// Whether a toleration covers a taint, by upstream's rules (an empty key with Exists covers all).
fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let effect = toleration["effect"].as_str().unwrap_or_default();
    if !effect.is_empty() && taint["effect"] != effect {
        return false;
    }
    let key = toleration["key"].as_str().unwrap_or_default();
    if !key.is_empty() && taint["key"] != key {
        return false;
    }
    match toleration["operator"].as_str().unwrap_or("Equal") {
        "Exists" => true,
        _ => {
            !key.is_empty()
                && taint["value"].as_str().unwrap_or_default() == toleration["value"].as_str().unwrap_or_default()
        }
    }
}

/// The template's tolerations plus the ones upstream adds to every daemon pod.
fn tolerations(spec: &Value) -> Vec<Value> {
    let mut all: Vec<Value> = spec["tolerations"].as_array().cloned().unwrap_or_default();
    let mut defaults = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec["hostNetwork"] == true {
        defaults.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    for (key, effect) in defaults {
        if !all.iter().any(|t| t["key"] == key && t["effect"] == effect) {
            all.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
    all
}

/// The node a daemon pod is for: its binding, or the node its affinity pins it to.
fn node_of(pod: &Value) -> String {
    if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        return node.to_string();
    }
    let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    terms["nodeSelectorTerms"][0]["matchFields"][0]["values"][0].as_str().unwrap_or_default().to_string()
}

/// The current template's hash, the value of the pods' `controller-revision-hash`.
pub fn current_hash(ds: &Value) -> String {
    let collisions = ds["status"]["collisionCount"].as_i64().filter(|c| *c > 0);
    template_hash(&ds["spec"]["template"], collisions)
}

fn is_current(ds: &Value, pod: &Value) -> bool {
    pod["metadata"]["labels"][REVISION_LABEL] == current_hash(ds).as_str()
}

/// What to do: `(Some(pod), _)` deletes a pod, `(None, Some(node))` creates one for a node.
fn plan(ds: &Value, nodes: &[(String, bool)], claimed: &[Arc<Value>]) -> Vec<(Option<Arc<Value>>, Option<String>)> {
    let mut steps = Vec::new();
    let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
    for pod in claimed.iter().filter(|p| !is_deleting(p)) {
        if is_active(pod) {
            by_node.entry(node_of(pod)).or_default().push(pod.clone());
        } else {
            // A daemon pod that ended is replaced, as upstream does for a failed one.
            steps.push((Some(pod.clone()), None));
        }
    }
    for (node, eligible) in nodes {
        let mut here = by_node.remove(node).unwrap_or_default();
        if !eligible {
            steps.extend(here.into_iter().map(|p| (Some(p), None)));
            continue;
        }
        if here.is_empty() {
            steps.push((None, Some(node.clone())));
            continue;
        }
        // Keep one, preferring an up-to-date pod, then the oldest.
        here.sort_by_key(|p| (!is_current(ds, p), p["metadata"]["creationTimestamp"].as_str().map(str::to_string)));
        steps.extend(here.drain(1..).map(|p| (Some(p), None)));
    }
    // Pods for nodes that no longer exist.
    steps.extend(by_node.into_values().flatten().map(|p| (Some(p), None)));
    if steps.is_empty() {
        steps = rolling_update(ds, nodes, claimed).into_iter().map(|p| (Some(p), None)).collect();
    }
    steps
}

/// The old pods a RollingUpdate step deletes: unavailable ones at once, available ones while
/// fewer than `maxUnavailable` nodes lack an available pod.
fn rolling_update(ds: &Value, nodes: &[(String, bool)], claimed: &[Arc<Value>]) -> Vec<Arc<Value>> {
    let strategy = &ds["spec"]["updateStrategy"];
    if strategy["type"] == "OnDelete" {
        return Vec::new();
    }
    let desired = nodes.iter().filter(|(_, e)| *e).count() as i64;
    let allowed = scaled_value(&strategy["rollingUpdate"]["maxUnavailable"], desired, true).unwrap_or(1).max(1);
    let now = Timestamp::now();
    let min_ready = int(&ds["spec"]["minReadySeconds"]);
    let available = |p: &Value| availability(p, min_ready, now).0;
    let live: Vec<&Arc<Value>> = claimed.iter().filter(|p| is_active(p)).collect();
    let mut unavailable = desired - live.iter().filter(|p| available(p)).count() as i64;
    let mut chosen = Vec::new();
    for pod in live.iter().filter(|p| !is_current(ds, p)) {
        if !available(pod) {
            chosen.push((*pod).clone());
        } else if unavailable < allowed {
            unavailable += 1;
            chosen.push((*pod).clone());
        }
    }
    chosen
}

/// A daemon pod for `node`: the template, the revision labels, the node affinity and tolerations.
pub fn pod_for(ds: &Value, node: &str) -> Value {
    let template = &ds["spec"]["template"];
    let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), json!(current_hash(ds)));
    labels.insert(GENERATION_LABEL.into(), json!(int(&ds["metadata"]["generation"]).to_string()));
    let mut meta = Map::new();
    meta.insert("generateName".into(), json!(format!("{}-", object::name(ds))));
    meta.insert("namespace".into(), json!(object::namespace(ds)));
    meta.insert("labels".into(), json!(labels));
    if let Some(annotations) = template["metadata"].get("annotations").filter(|a| a.is_object()) {
        meta.insert("annotations".into(), annotations.clone());
    }
    meta.insert("ownerReferences".into(), json!([owners::owner_reference(ds)]));
    let mut spec = template["spec"].clone();
    spec["tolerations"] = json!(tolerations(&template["spec"]));
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({"nodeSelectorTerms":
        [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]});
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
}

fn create_pod(sb: &Sandbox, ds: &Value, node: &str) -> Result<(), ApiError> {
    match sb.create(pods(), Some(object::namespace(ds)), pod_for(ds, node), WriteOptions::default()) {
        Ok(outcome) => {
            let message = format!("Created pod: {}", object::name(&outcome.object));
            sb.record(SOURCE, ds, EventType::Normal, "SuccessfulCreate", message);
            Ok(())
        }
        Err(error) => {
            sb.record(SOURCE, ds, EventType::Warning, "FailedCreate", format!("Error creating: {}", error.message));
            Err(error)
        }
    }
}

fn delete_pod(sb: &Sandbox, ds: &Value, pod: &Value) {
    let options = DeleteOptions { uid: Some(object::uid(pod).to_string()), ..Default::default() };
    match sb.delete(pods(), Some(object::namespace(pod)), object::name(pod), &options) {
        Ok(_) => {
            let message = format!("Deleted pod: {}", object::name(pod));
            sb.record(SOURCE, ds, EventType::Normal, "SuccessfulDelete", message);
        }
        Err(error) if error.is_not_found() || error.is_conflict() => {}
        Err(error) => {
            sb.record(SOURCE, ds, EventType::Warning, "FailedDelete", format!("Error deleting: {}", error.message));
        }
    }
}

/// The DaemonSet's status, counted per node as upstream does, and when to look again for pods
/// about to become available.
pub fn status_of(
    ds: &Value,
    nodes: &[(String, bool)],
    pods: &[Arc<Value>],
    now: Timestamp,
) -> (Value, Option<Duration>) {
    let min_ready = int(&ds["spec"]["minReadySeconds"]);
    let (mut desired, mut scheduled, mut misscheduled, mut ready, mut updated, mut available) = (0, 0, 0, 0, 0, 0);
    let mut recheck: Option<Duration> = None;
    for (node, eligible) in nodes {
        let here: Vec<&Arc<Value>> = pods.iter().filter(|p| is_active(p) && node_of(p) == *node).collect();
        if !eligible {
            misscheduled += i64::from(!here.is_empty());
            continue;
        }
        desired += 1;
        let Some(pod) = here.iter().find(|p| is_current(ds, p)).or(here.first()) else { continue };
        scheduled += 1;
        updated += i64::from(is_current(ds, pod));
        ready += i64::from(is_ready(pod));
        match availability(pod, min_ready, now) {
            (true, _) => available += 1,
            (false, Some(wait)) => recheck = Some(recheck.map_or(wait, |r| r.min(wait))),
            (false, None) => {}
        }
    }
    let mut status = Map::new();
    for (field, count) in [
        ("currentNumberScheduled", scheduled),
        ("numberMisscheduled", misscheduled),
        ("desiredNumberScheduled", desired),
        ("numberReady", ready),
        ("observedGeneration", int(&ds["metadata"]["generation"])),
    ] {
        status.insert(field.into(), json!(count));
    }
    // Upstream omits these when zero.
    for (field, count) in [
        ("updatedNumberScheduled", updated),
        ("numberAvailable", available),
        ("numberUnavailable", desired - available),
    ] {
        if count > 0 {
            status.insert(field.into(), json!(count));
        }
    }
    (Value::Object(status), recheck)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(selector: Value, tolerations: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default",
            "uid": "d-1", "generation": 3},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"nodeSelector": selector,
                    "tolerations": tolerations, "containers": [{"name": "a", "image": "busybox"}]}}}})
    }

    fn node(labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": "minikube", "labels": labels}, "spec": {"taints": taints}})
    }

    #[test]
    fn the_node_selector_and_taints_decide_where_a_daemon_runs() {
        let plain = node(json!({"kubernetes.io/os": "linux"}), json!([]));
        assert!(should_run(&ds(json!({"kubernetes.io/os": "linux"}), json!([])), &plain));
        assert!(!should_run(&ds(json!({"disk": "ssd"}), json!([])), &plain));
        let tainted = node(json!({}), json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]));
        assert!(!should_run(&ds(Value::Null, json!([])), &tainted));
        let tolerant = json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]);
        assert!(should_run(&ds(Value::Null, tolerant), &tainted));
        assert!(should_run(&ds(Value::Null, json!([{"operator": "Exists"}])), &tainted));
        let cordoned = node(json!({}), json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]));
        assert!(should_run(&ds(Value::Null, json!([])), &cordoned), "daemons tolerate a cordoned node");
    }

    #[test]
    fn a_daemon_pod_is_pinned_to_its_node_and_labelled_with_its_revision() {
        let d = ds(Value::Null, json!([]));
        let pod = pod_for(&d, "minikube");
        assert_eq!(node_of(&pod), "minikube");
        assert_eq!(pod["metadata"]["generateName"], "agent-");
        assert_eq!(pod["metadata"]["labels"][GENERATION_LABEL], "3");
        assert_eq!(pod["metadata"]["labels"][REVISION_LABEL], current_hash(&d).as_str());
        assert!(pod["spec"]["tolerations"].as_array().unwrap().len() >= 6);
    }
}

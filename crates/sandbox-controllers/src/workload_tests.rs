//! Deployments, ReplicaSets, the garbage collector and namespace defaults working together on a
//! real store, with pod readiness played by the test (the kubelet's job on a running sandbox).

use super::deployment::{DeploymentController, HASH_LABEL};
use super::deployment_status::{DESIRED_REPLICAS, MAX_REPLICAS, REVISION, REVISION_HISTORY};
use super::garbage_collector::GarbageCollector;
use super::namespace::NamespaceController;
use super::owners::{self, int, is_controlled_by};
use super::replicaset::ReplicaSetController;
use super::testing::Harness;
use gitops_sandbox_core::cluster::{DeleteOptions, Propagation, WriteOptions};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use serde_json::{Value, json};
use std::sync::Arc;

fn harness() -> Harness {
    Harness::new(vec![
        Arc::new(ReplicaSetController),
        Arc::new(DeploymentController),
        Arc::new(GarbageCollector::default()),
        Arc::new(NamespaceController),
    ])
}

fn deployment(replicas: i64, image: &str, strategy: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "strategy": {"type": strategy},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web",
                     "image": image}]}}}})
}

fn get(h: &Harness, plural: &str, name: &str) -> Arc<Value> {
    let group = if plural == "pods" { "" } else { "apps" };
    h.sb.get(h.rt(group, plural), Some("default"), name).unwrap_or_else(|| panic!("{plural}/{name} exists"))
}

fn patch(h: &Harness, plural: &str, name: &str, change: impl FnOnce(&mut Value)) {
    let rt = h.rt("apps", plural);
    h.sb.modify(rt, Some("default"), name, UpdateScope::Main, WriteOptions::default(), |current| {
        let mut next = current.clone();
        change(&mut next);
        Ok(next)
    })
    .expect("the change is accepted");
}

/// Replica sets by revision, as (revision, spec.replicas).
fn sets(h: &Harness) -> Vec<(i64, i64)> {
    let mut sets: Vec<(i64, i64)> = h
        .list("apps", "replicasets")
        .iter()
        .map(|rs| (super::deployment_status::revision(rs), int(&rs["spec"]["replicas"])))
        .collect();
    sets.sort();
    sets
}

/// Messages of the events with this reason, in the order they were recorded.
fn event_messages(h: &Harness, reason: &str) -> Vec<String> {
    let mut events = h.list("", "events");
    events.retain(|e| e["reason"] == reason);
    events.sort_by_key(|e| e["metadata"]["resourceVersion"].as_str().and_then(|rv| rv.parse::<u64>().ok()));
    events.iter().filter_map(|e| e["message"].as_str().map(str::to_string)).collect()
}

#[test]
fn a_deployment_makes_a_hashed_replica_set_whose_pods_it_owns() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx", "RollingUpdate"));
    h.settle();
    let replica_sets = h.list("apps", "replicasets");
    assert_eq!(replica_sets.len(), 1);
    let rs = &replica_sets[0];
    let hash = rs["metadata"]["labels"][HASH_LABEL].as_str().expect("the hash label").to_string();
    assert_eq!(object::name(rs), format!("web-{hash}"));
    assert_eq!(rs["spec"]["selector"]["matchLabels"][HASH_LABEL], hash.as_str());
    assert_eq!(rs["metadata"]["annotations"][REVISION], "1");
    assert_eq!(rs["metadata"]["annotations"][DESIRED_REPLICAS], "1");
    assert_eq!(rs["metadata"]["annotations"][MAX_REPLICAS], "2");
    let pods = h.list("", "pods");
    assert_eq!(pods.len(), 1);
    assert!(is_controlled_by(&pods[0], rs));
    assert!(object::name(&pods[0]).starts_with(&format!("web-{hash}-")));
    assert_eq!(pods[0]["metadata"]["labels"][HASH_LABEL], hash.as_str());
    let d = get(&h, "deployments", "web");
    assert_eq!(d["metadata"]["annotations"][REVISION], "1");
    assert_eq!(d["metadata"]["generation"], 1, "the revision annotation does not bump the generation");
    assert_eq!(d["status"]["updatedReplicas"], 1);
    assert_eq!(d["status"]["unavailableReplicas"], 1);
    assert_eq!(event_messages(&h, "ScalingReplicaSet"), [format!("Scaled up replica set web-{hash} from 0 to 1")]);
    assert_eq!(event_messages(&h, "SuccessfulCreate"), [format!("Created pod: {}", object::name(&pods[0]))]);
}

#[test]
fn scaling_up_and_down_changes_the_replica_set_and_its_pods() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx", "RollingUpdate"));
    h.settle();
    patch(&h, "deployments", "web", |d| d["spec"]["replicas"] = json!(3));
    h.settle();
    assert_eq!(sets(&h), [(1, 3)]);
    assert_eq!(h.list("", "pods").len(), 3);
    let rs = &h.list("apps", "replicasets")[0];
    assert_eq!(rs["status"]["replicas"], 3);
    assert_eq!(rs["metadata"]["annotations"][MAX_REPLICAS], "4");
    assert!(
        event_messages(&h, "ScalingReplicaSet")
            .contains(&format!("Scaled up replica set {} from 1 to 3", object::name(rs)))
    );
    patch(&h, "deployments", "web", |d| d["spec"]["replicas"] = json!(1));
    h.settle();
    assert_eq!(sets(&h), [(1, 1)]);
    assert_eq!(h.list("", "pods").len(), 1);
    assert_eq!(event_messages(&h, "SuccessfulDelete").len(), 2);
}

#[test]
fn a_deleted_pod_is_replaced() {
    let h = harness();
    h.create("apps", "deployments", deployment(2, "nginx", "RollingUpdate"));
    h.settle();
    let victim = object::name(&h.list("", "pods")[0]).to_string();
    h.delete("", "pods", &victim, DeleteOptions::default());
    h.settle();
    let names: Vec<String> = h.list("", "pods").iter().map(|p| object::name(p).to_string()).collect();
    assert_eq!(names.len(), 2);
    assert!(!names.contains(&victim));
}

#[test]
fn a_rolling_update_waits_for_available_pods_then_completes() {
    let h = harness();
    h.create("apps", "deployments", deployment(3, "nginx", "RollingUpdate"));
    h.settle();
    h.make_pods_ready();
    h.settle();
    assert_eq!(get(&h, "deployments", "web")["status"]["availableReplicas"], 3);
    patch(&h, "deployments", "web", |d| {
        d["spec"]["template"]["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/restartedAt": "now"})
    });
    h.settle();
    assert_eq!(sets(&h), [(1, 3), (2, 1)], "one surge pod, nothing removed until it is available");
    for _ in 0..6 {
        h.make_pods_ready();
        h.settle();
    }
    assert_eq!(sets(&h), [(1, 0), (2, 3)]);
    let d = get(&h, "deployments", "web");
    assert_eq!(d["metadata"]["annotations"][REVISION], "2");
    let conditions = d["status"]["conditions"].as_array().unwrap();
    let progressing = owners::find_condition(conditions, "Progressing").unwrap();
    assert_eq!(progressing["reason"], "NewReplicaSetAvailable", "{d:#}");
    assert_eq!(owners::find_condition(conditions, "Available").unwrap()["status"], "True");
    assert_eq!((d["status"]["replicas"].as_i64(), d["status"]["updatedReplicas"].as_i64()), (Some(3), Some(3)));
}

#[test]
fn going_back_to_an_old_template_reuses_its_replica_set_with_a_new_revision() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx:1.7.9", "RollingUpdate"));
    h.settle();
    patch(&h, "deployments", "web", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.11"));
    h.settle();
    patch(&h, "deployments", "web", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.7.9"));
    h.settle();
    let replica_sets = h.list("apps", "replicasets");
    assert_eq!(replica_sets.len(), 2);
    let reused = replica_sets
        .iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.7.9")
        .unwrap();
    assert_eq!(reused["metadata"]["annotations"][REVISION], "3");
    assert_eq!(reused["metadata"]["annotations"][REVISION_HISTORY], "1");
    assert_eq!(get(&h, "deployments", "web")["metadata"]["annotations"][REVISION], "3");
}

#[test]
fn recreate_removes_the_old_pods_before_making_new_ones() {
    let h = harness();
    h.create("apps", "deployments", deployment(2, "nginx:1.7.9", "Recreate"));
    h.settle();
    patch(&h, "deployments", "web", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.11"));
    h.settle();
    assert_eq!(sets(&h), [(1, 0), (2, 2)]);
    let pods = h.list("", "pods");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.11"));
    let scaling = event_messages(&h, "ScalingReplicaSet");
    let down = scaling.iter().position(|m| m.starts_with("Scaled down")).expect("a scale down");
    let up = scaling.iter().rposition(|m| m.ends_with("from 0 to 2")).expect("a scale up");
    assert!(down < up, "{scaling:?}");
}

#[test]
fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let h = harness();
    let mut d = deployment(1, "nginx:1", "Recreate");
    d["spec"]["revisionHistoryLimit"] = json!(1);
    h.create("apps", "deployments", d);
    h.settle();
    for tag in ["2", "3", "4"] {
        patch(&h, "deployments", "web", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(format!("nginx:{tag}"))
        });
        h.settle();
        h.make_pods_ready();
        h.settle();
    }
    assert_eq!(sets(&h), [(3, 0), (4, 1)]);
}

#[test]
fn deleting_a_deployment_in_the_background_removes_its_replica_sets_and_pods() {
    let h = harness();
    h.create("apps", "deployments", deployment(2, "nginx", "RollingUpdate"));
    h.settle();
    h.delete("apps", "deployments", "web", DeleteOptions::default());
    h.settle();
    assert!(h.list("apps", "replicasets").is_empty());
    assert!(h.list("", "pods").is_empty());
}

#[test]
fn foreground_deletion_keeps_the_owner_until_its_dependents_are_gone() {
    let h = harness();
    h.create("apps", "deployments", deployment(2, "nginx", "RollingUpdate"));
    h.settle();
    h.delete(
        "apps",
        "deployments",
        "web",
        DeleteOptions { propagation: Propagation::Foreground, ..Default::default() },
    );
    let held = get(&h, "deployments", "web");
    assert_eq!(held["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    h.settle();
    assert!(h.list("apps", "deployments").is_empty());
    assert!(h.list("apps", "replicasets").is_empty());
    assert!(h.list("", "pods").is_empty());
}

#[test]
fn orphan_deletion_leaves_the_dependents_without_an_owner() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx", "RollingUpdate"));
    h.settle();
    h.delete("apps", "deployments", "web", DeleteOptions { propagation: Propagation::Orphan, ..Default::default() });
    h.settle();
    assert!(h.list("apps", "deployments").is_empty());
    let replica_sets = h.list("apps", "replicasets");
    assert_eq!(replica_sets.len(), 1);
    assert!(replica_sets[0]["metadata"].get("ownerReferences").is_none());
    assert_eq!(h.list("", "pods").len(), 1, "the pods stay with their ReplicaSet");
}

#[test]
fn an_object_pointing_at_a_missing_owner_is_collected() {
    let h = harness();
    h.create(
        "",
        "configmaps",
        json!({"metadata": {"name": "stray", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gone", "uid": "no-such-uid"}]}}),
    );
    h.settle();
    assert!(h.sb.get(h.rt("", "configmaps"), Some("default"), "stray").is_none());
}

#[test]
fn removing_the_last_finalizer_of_a_deleted_object_deletes_it() {
    let h = Harness::new(Vec::new());
    h.create("", "configmaps", json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}));
    h.delete("", "configmaps", "held", DeleteOptions::default());
    assert!(h.sb.get(h.rt("", "configmaps"), Some("default"), "held").is_some(), "the finalizer holds it");
    h.sb.modify(
        h.rt("", "configmaps"),
        Some("default"),
        "held",
        UpdateScope::Main,
        WriteOptions::default(),
        |current| {
            let mut next = current.clone();
            next["metadata"]["finalizers"] = json!([]);
            Ok(next)
        },
    )
    .unwrap();
    assert!(h.sb.get(h.rt("", "configmaps"), Some("default"), "held").is_none());
}

#[test]
fn every_namespace_gets_a_default_service_account_and_the_root_ca() {
    let h = harness();
    let namespaces = h.rt("", "namespaces");
    h.sb.create(namespaces, None, json!({"metadata": {"name": "team"}}), WriteOptions::default()).unwrap();
    h.settle();
    let config_maps = h.rt("", "configmaps");
    let cm = h.sb.get(config_maps, Some("team"), "kube-root-ca.crt").expect("the root CA ConfigMap");
    assert_eq!(cm["data"]["ca.crt"].as_str(), Some(h.sb.certificates().ca_pem.as_str()));
    assert!(h.sb.get(h.rt("", "serviceaccounts"), Some("team"), "default").is_some());
    assert!(h.sb.get(config_maps, Some("kube-system"), "kube-root-ca.crt").is_some());
    h.sb.delete(config_maps, Some("team"), "kube-root-ca.crt", &DeleteOptions::default()).unwrap();
    h.settle();
    assert!(h.sb.get(config_maps, Some("team"), "kube-root-ca.crt").is_some(), "recreated");
    h.sb.delete(namespaces, None, "team", &DeleteOptions::default()).unwrap();
    h.settle();
    // The controller empties a Terminating namespace after a grace period; do its pass now.
    assert!(super::namespace::finish(&h.sb, "team").unwrap());
    h.settle();
    assert!(h.sb.get(config_maps, Some("team"), "kube-root-ca.crt").is_none(), "not recreated in a deleted namespace");
}

#[test]
fn a_paused_deployment_scales_but_does_not_roll_out() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx:1.7.9", "RollingUpdate"));
    h.settle();
    patch(&h, "deployments", "web", |d| {
        d["spec"]["paused"] = json!(true);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.11");
        d["spec"]["replicas"] = json!(2);
    });
    h.settle();
    assert_eq!(sets(&h), [(1, 2)], "no new ReplicaSet while paused");
    let d = get(&h, "deployments", "web");
    let progressing =
        owners::find_condition(d["status"]["conditions"].as_array().unwrap(), "Progressing").unwrap().clone();
    assert_eq!(
        (progressing["status"].as_str(), progressing["reason"].as_str()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );
    patch(&h, "deployments", "web", |d| d["spec"]["paused"] = json!(false));
    h.settle();
    assert_eq!(sets(&h).len(), 2, "resuming rolls out the new template");
}

#[test]
fn a_dependent_that_cannot_go_yet_holds_a_foreground_deletion() {
    let h = harness();
    h.create("apps", "deployments", deployment(1, "nginx", "RollingUpdate"));
    h.settle();
    let pods = h.rt("", "pods");
    let pod = object::name(&h.list("", "pods")[0]).to_string();
    let set_finalizers = |finalizers: Value| {
        h.sb.modify(pods, Some("default"), &pod, UpdateScope::Main, WriteOptions::default(), |current| {
            let mut next = current.clone();
            next["metadata"]["finalizers"] = finalizers;
            Ok(next)
        })
        .expect("the pod is updated");
    };
    set_finalizers(json!(["example.com/hold"]));
    let foreground = DeleteOptions { propagation: Propagation::Foreground, ..Default::default() };
    h.delete("apps", "deployments", "web", foreground);
    h.settle();
    assert_eq!(h.list("apps", "deployments").len(), 1, "waits for the ReplicaSet");
    let rs = &h.list("apps", "replicasets")[0];
    assert_eq!(rs["metadata"]["finalizers"], json!(["foregroundDeletion"]), "deleted in the foreground too");
    assert!(get(&h, "pods", &pod)["metadata"]["deletionTimestamp"].is_string());
    set_finalizers(json!([]));
    h.settle();
    assert!(h.list("apps", "deployments").is_empty());
    assert!(h.list("apps", "replicasets").is_empty());
    assert!(h.list("", "pods").is_empty());
}

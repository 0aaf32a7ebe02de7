//! StatefulSets, DaemonSets and ReplicationControllers on a real store with the storage
//! provisioner, pod readiness played by the test (the kubelet's job on a running sandbox).

use super::daemonset::DaemonSetController;
use super::owners::int;
use super::provisioner::Provisioner;
use super::replicaset::ReplicationManager;
use super::statefulset::{REVISION_LABEL, StatefulSetController};
use super::testing::Harness;
use gitops_sandbox_core::cluster::{DeleteOptions, WriteOptions};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use serde_json::{Value, json};
use std::sync::Arc;

fn harness() -> Harness {
    Harness::new(vec![
        Arc::new(StatefulSetController),
        Arc::new(DaemonSetController),
        Arc::new(ReplicationManager),
        Arc::new(Provisioner),
    ])
}

fn statefulset(replicas: i64, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": replicas, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": image}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}]}})
}

fn names(h: &Harness, plural: &str) -> Vec<String> {
    let mut names: Vec<String> = h.list("", plural).iter().map(|o| object::name(o).to_string()).collect();
    names.sort();
    names
}

fn change(h: &Harness, group: &str, plural: &str, name: &str, edit: impl FnOnce(&mut Value)) {
    h.sb.modify(h.rt(group, plural), Some("default"), name, UpdateScope::Main, WriteOptions::default(), |current| {
        let mut next = current.clone();
        edit(&mut next);
        Ok(next)
    })
    .expect("the change is accepted");
}

fn messages(h: &Harness, reason: &str) -> Vec<String> {
    let mut events = h.list("", "events");
    events.retain(|e| e["reason"] == reason);
    events.sort_by_key(|e| e["metadata"]["resourceVersion"].as_str().and_then(|rv| rv.parse::<u64>().ok()));
    events.iter().filter_map(|e| e["message"].as_str().map(str::to_string)).collect()
}

fn sts_status(h: &Harness) -> Value {
    h.sb.get(h.rt("apps", "statefulsets"), Some("default"), "db").expect("the set exists")["status"].clone()
}

#[test]
fn a_statefulset_makes_its_pods_in_order_each_with_a_bound_claim() {
    let h = harness();
    h.create("apps", "statefulsets", statefulset(3, "nginx"));
    h.settle();
    assert_eq!(names(&h, "pods"), ["db-0"], "the next pod waits for db-0 to be ready");
    assert_eq!(names(&h, "persistentvolumeclaims"), ["data-db-0"]);
    let claim = &h.list("", "persistentvolumeclaims")[0];
    assert_eq!(claim["status"]["phase"], "Bound", "the provisioner binds it");
    assert_eq!(claim["metadata"]["labels"]["app"], "db");
    h.make_pods_ready();
    h.settle();
    assert_eq!(names(&h, "pods"), ["db-0", "db-1"]);
    h.make_pods_ready();
    h.settle();
    h.make_pods_ready();
    h.settle();
    assert_eq!(names(&h, "pods"), ["db-0", "db-1", "db-2"]);
    let status = sts_status(&h);
    assert_eq!((int(&status["replicas"]), int(&status["readyReplicas"]), int(&status["updatedReplicas"])), (3, 3, 3));
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    assert_eq!(
        messages(&h, "SuccessfulCreate")[..2],
        ["create Claim data-db-0 Pod db-0 in StatefulSet db success", "create Pod db-0 in StatefulSet db successful"]
    );
    // Scaling down removes the highest ordinal first and keeps the claims.
    change(&h, "apps", "statefulsets", "db", |s| s["spec"]["replicas"] = json!(1));
    h.settle();
    assert_eq!(names(&h, "pods"), ["db-0"]);
    assert_eq!(
        messages(&h, "SuccessfulDelete"),
        ["delete Pod db-2 in StatefulSet db successful", "delete Pod db-1 in StatefulSet db successful"]
    );
    assert_eq!(names(&h, "persistentvolumeclaims"), ["data-db-0", "data-db-1", "data-db-2"]);
}

#[test]
fn a_rolling_update_replaces_pods_from_the_highest_ordinal_down_to_the_partition() {
    let h = harness();
    h.create("apps", "statefulsets", statefulset(3, "nginx"));
    for _ in 0..3 {
        h.settle();
        h.make_pods_ready();
        h.settle();
    }
    let old = sts_status(&h)["updateRevision"].as_str().unwrap().to_string();
    change(&h, "apps", "statefulsets", "db", |s| {
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
        s["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(1);
    });
    h.settle();
    let revisions = |h: &Harness| -> Vec<String> {
        let mut pods = h.list("", "pods");
        pods.sort_by_key(|p| object::name(p).to_string());
        pods.iter().map(|p| p["metadata"]["labels"][REVISION_LABEL].as_str().unwrap_or_default().to_string()).collect()
    };
    let status = sts_status(&h);
    let new = status["updateRevision"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    assert_eq!(revisions(&h), [old.clone(), old.clone(), new.clone()], "db-2 went first and waits to be ready");
    h.make_pods_ready();
    h.settle();
    assert_eq!(revisions(&h), [old.clone(), new.clone(), new.clone()], "the partition keeps db-0");
    h.make_pods_ready();
    h.settle();
    let status = sts_status(&h);
    assert_eq!((int(&status["currentReplicas"]), int(&status["updatedReplicas"])), (1, 2));
    assert_eq!(status["currentRevision"], old.as_str(), "a partitioned rollout does not finish");
    change(&h, "apps", "statefulsets", "db", |s| s["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = json!(0));
    h.settle();
    h.make_pods_ready();
    h.settle();
    assert_eq!(revisions(&h), [new.clone(), new.clone(), new.clone()]);
    assert_eq!(sts_status(&h)["currentRevision"], new.as_str());
}

#[test]
fn on_delete_waits_for_the_learner_to_delete_a_pod() {
    let h = harness();
    let mut set = statefulset(1, "nginx");
    set["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    h.create("apps", "statefulsets", set);
    h.settle();
    h.make_pods_ready();
    h.settle();
    change(&h, "apps", "statefulsets", "db", |s| {
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27")
    });
    h.settle();
    assert_eq!(h.list("", "pods")[0]["spec"]["containers"][0]["image"], "nginx");
    h.delete("", "pods", "db-0", DeleteOptions::default());
    h.settle();
    assert_eq!(h.list("", "pods")[0]["spec"]["containers"][0]["image"], "nginx:1.27");
}

fn node(h: &Harness, labels: Value) {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "minikube", "labels": labels}});
    h.sb.create(h.rt("", "nodes"), None, node, WriteOptions::default()).expect("the node is registered");
}

fn daemonset(image: &str, node_selector: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"nodeSelector": node_selector,
                "containers": [{"name": "agent", "image": image}]}}}})
}

fn ds_status(h: &Harness) -> Value {
    h.sb.get(h.rt("apps", "daemonsets"), Some("default"), "agent").expect("the daemon set exists")["status"].clone()
}

#[test]
fn a_daemonset_runs_one_pod_on_the_node_and_rolls_it() {
    let h = harness();
    node(&h, json!({"kubernetes.io/os": "linux"}));
    h.create("apps", "daemonsets", daemonset("busybox", json!({"kubernetes.io/os": "linux"})));
    h.settle();
    let pods = h.list("", "pods");
    assert_eq!(pods.len(), 1);
    let affinity = &pods[0]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(affinity["nodeSelectorTerms"][0]["matchFields"][0]["values"], json!(["minikube"]));
    h.make_pods_ready();
    h.settle();
    let status = ds_status(&h);
    assert_eq!(
        [
            &status["desiredNumberScheduled"],
            &status["currentNumberScheduled"],
            &status["numberReady"],
            &status["updatedNumberScheduled"],
            &status["numberAvailable"]
        ],
        [&json!(1); 5]
    );
    change(&h, "apps", "daemonsets", "agent", |d| {
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox:1.36")
    });
    h.settle();
    let pods = h.list("", "pods");
    assert_eq!(pods.len(), 1, "the old pod went and a new one came");
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "busybox:1.36");
    assert_eq!(ds_status(&h)["observedGeneration"], 2);
}

#[test]
fn a_daemonset_whose_selector_no_node_matches_runs_nothing() {
    let h = harness();
    node(&h, json!({"kubernetes.io/os": "linux"}));
    h.create("apps", "daemonsets", daemonset("busybox", json!({"disk": "ssd"})));
    h.settle();
    assert!(h.list("", "pods").is_empty());
    assert_eq!(ds_status(&h)["desiredNumberScheduled"], 0);
    change(&h, "apps", "daemonsets", "agent", |d| d["spec"]["template"]["spec"]["nodeSelector"] = json!({}));
    h.settle();
    assert_eq!(h.list("", "pods").len(), 1);
}

#[test]
fn a_replication_controller_keeps_its_replicas_like_a_replica_set() {
    let h = harness();
    h.create(
        "",
        "replicationcontrollers",
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"app": "web"}, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
    );
    h.settle();
    let pods = h.list("", "pods");
    assert_eq!(pods.len(), 2);
    assert_eq!(pods[0]["metadata"]["ownerReferences"][0]["kind"], "ReplicationController");
    h.make_pods_ready();
    h.settle();
    let rc = h.sb.get(h.rt("", "replicationcontrollers"), Some("default"), "web").unwrap();
    assert_eq!((int(&rc["status"]["replicas"]), int(&rc["status"]["readyReplicas"])), (2, 2));
    change(&h, "", "replicationcontrollers", "web", |rc| rc["spec"]["replicas"] = json!(1));
    h.settle();
    assert_eq!(h.list("", "pods").len(), 1);
    assert_eq!(messages(&h, "SuccessfulCreate").len(), 2);
}

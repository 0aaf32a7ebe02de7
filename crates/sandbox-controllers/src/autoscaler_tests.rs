//! The HorizontalPodAutoscaler scaling a ReplicaSet on a real store, with the images' CPU use
//! given by the test (the node's image table on a running sandbox) and pod readiness played by
//! the test.

use super::autoscaler::{Autoscaler, CPU_ANNOTATION, LOAD_ANNOTATION};
use super::owners::int;
use super::replicaset::ReplicaSetController;
use super::testing::Harness;
use gitops_sandbox_core::cluster::WriteOptions;
use gitops_sandbox_core::lifecycle::UpdateScope;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// nginx uses 80m of CPU per container in these tests; other images are unknown. The autoscaler
/// measures at every reconcile (each `settle` is a sync).
fn harness() -> Harness {
    harness_with(Duration::ZERO)
}

fn harness_with(period: Duration) -> Harness {
    let image_cpu = Arc::new(|image: &str| (image == "nginx").then_some(80));
    Harness::new(vec![Arc::new(ReplicaSetController), Arc::new(Autoscaler::with_period(image_cpu, period))])
}

fn replica_set(replicas: i64, request: Option<&str>) -> Value {
    let mut container = json!({"name": "web", "image": "nginx"});
    if let Some(cpu) = request {
        container["resources"] = json!({"requests": {"cpu": cpu}});
    }
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}})
}

fn autoscaler(behavior: Value) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"},
            "minReplicas": 1, "maxReplicas": 5, "behavior": behavior,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}]}})
}

fn get(h: &Harness, group: &str, plural: &str) -> Arc<Value> {
    h.sb.get(h.rt(group, plural), Some("default"), "web").expect("the object exists")
}

fn condition(hpa: &Value, kind: &str) -> (String, String) {
    let found = hpa["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == kind).cloned().unwrap();
    (found["status"].as_str().unwrap().into(), found["reason"].as_str().unwrap().into())
}

fn rescales(h: &Harness) -> Vec<String> {
    let mut events = h.list("", "events");
    events.retain(|e| e["reason"] == "SuccessfulRescale");
    events.sort_by_key(|e| e["metadata"]["resourceVersion"].as_str().and_then(|rv| rv.parse::<u64>().ok()));
    events.iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_busy_workload_is_scaled_up_and_an_idle_one_down() {
    let h = harness();
    h.create("apps", "replicasets", replica_set(2, Some("100m")));
    h.settle();
    h.make_pods_ready();
    h.create(
        "autoscaling",
        "horizontalpodautoscalers",
        autoscaler(json!({"scaleDown": {"stabilizationWindowSeconds": 0}})),
    );
    h.settle();
    // 80m of 100m is 80% against a 50% target: 2 × 1.6 = 3.2, so 4.
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 4);
    assert_eq!(rescales(&h), ["New size: 4; reason: cpu resource utilization (percentage of request) above target"]);
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 80);
    // Its own status write brought it back at once (a zero period): 4 replicas, 2 not ready yet,
    // which count as idle, so no further change.
    assert_eq!((int(&hpa["status"]["currentReplicas"]), int(&hpa["status"]["desiredReplicas"])), (4, 4));
    assert_eq!(condition(&hpa, "AbleToScale"), ("True".into(), "ReadyForNewScale".into()));
    assert_eq!(condition(&hpa, "ScalingActive"), ("True".into(), "ValidMetricFound".into()));
    assert_eq!(condition(&hpa, "ScalingLimited"), ("False".into(), "DesiredWithinRange".into()));
    // The learner makes the workload idle: 20m shared by 4 pods of 100m is 5%, so 4 × 0.1 = 0.4, so 1.
    h.make_pods_ready();
    h.sb.modify(h.rt("apps", "replicasets"), Some("default"), "web", UpdateScope::Main, WriteOptions::default(), |c| {
        let mut next = c.clone();
        next["metadata"]["annotations"] = json!({LOAD_ANNOTATION: "20m"});
        Ok(next)
    })
    .unwrap();
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 1);
    assert_eq!(rescales(&h)[1], "New size: 1; reason: All metrics below target");
}

#[test]
fn scaling_down_is_held_by_the_default_stabilization_window() {
    let h = harness();
    h.create("apps", "replicasets", replica_set(3, Some("100m")));
    h.settle();
    h.make_pods_ready();
    let mut idle = autoscaler(Value::Null);
    idle["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] = json!(85);
    h.create("autoscaling", "horizontalpodautoscalers", idle);
    h.settle();
    // The first recommendation is 3 (80% is within 10% of 85%): 3; later ones may not go below it.
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 3);
    h.sb.modify(h.rt("apps", "replicasets"), Some("default"), "web", UpdateScope::Main, WriteOptions::default(), |c| {
        let mut next = c.clone();
        next["metadata"]["annotations"] = json!({LOAD_ANNOTATION: "5m"});
        Ok(next)
    })
    .unwrap();
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 3, "held for 300 s");
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(condition(&hpa, "AbleToScale"), ("True".into(), "ScaleDownStabilized".into()));
    assert_eq!(int(&hpa["status"]["desiredReplicas"]), 3);
}

#[test]
fn a_shared_load_settles_where_each_pod_meets_the_target() {
    let h = harness();
    let mut set = replica_set(2, Some("100m"));
    set["metadata"]["annotations"] = json!({LOAD_ANNOTATION: "160m"});
    h.create("apps", "replicasets", set);
    h.settle();
    h.make_pods_ready();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 4, "160m over 2 pods is 80%");
    h.make_pods_ready();
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 4, "160m over 4 pods is 40%: 4 × 0.8");
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 40);
}

#[test]
fn a_pods_own_usage_overrides_its_image() {
    let h = harness();
    let mut set = replica_set(1, Some("100m"));
    set["spec"]["template"]["metadata"]["annotations"] = json!({CPU_ANNOTATION: "50m"});
    h.create("apps", "replicasets", set);
    h.settle();
    h.make_pods_ready();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    h.settle();
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"], 50);
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 1);
}

#[test]
fn the_maximum_limits_a_scale_up_and_says_so() {
    let h = harness();
    h.create("apps", "replicasets", replica_set(4, Some("20m")));
    h.settle();
    h.make_pods_ready();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 5);
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(condition(&hpa, "ScalingLimited"), ("True".into(), "TooManyReplicas".into()));
}

#[test]
fn a_container_without_a_cpu_request_cannot_be_measured() {
    let h = harness();
    h.create("apps", "replicasets", replica_set(1, None));
    h.settle();
    h.make_pods_ready();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    h.settle();
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(condition(&hpa, "ScalingActive"), ("False".into(), "FailedGetResourceMetric".into()));
    let message = hpa["status"]["conditions"][1]["message"].as_str().unwrap().to_string();
    assert!(message.contains("missing request for cpu in container web of Pod web-"), "{message}");
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 1, "nothing changes");
}

#[test]
fn a_missing_target_is_reported_not_scaled() {
    let h = harness();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    h.settle();
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!(condition(&hpa, "AbleToScale"), ("False".into(), "FailedGetScale".into()));
    assert_eq!(
        hpa["status"]["conditions"][0]["message"],
        "the HPA controller was unable to get the target's current scale: replicasets.apps \"web\" not found"
    );
}

#[test]
fn its_own_status_write_does_not_start_a_new_sync_within_the_period() {
    let h = harness_with(super::autoscaler::SYNC_PERIOD);
    h.create("apps", "replicasets", replica_set(2, Some("100m")));
    h.settle();
    h.make_pods_ready();
    h.create("autoscaling", "horizontalpodautoscalers", autoscaler(Value::Null));
    let requeues = h.settle();
    let hpa = get(&h, "autoscaling", "horizontalpodautoscalers");
    assert_eq!((int(&hpa["status"]["currentReplicas"]), int(&hpa["status"]["desiredReplicas"])), (2, 4));
    assert_eq!(condition(&hpa, "AbleToScale"), ("True".into(), "SucceededRescale".into()));
    assert!(requeues.iter().any(|(t, _)| t.resource.plural == "horizontalpodautoscalers"), "it comes back later");
    // A change of its spec is acted on at once.
    h.sb.modify(
        h.rt("autoscaling", "horizontalpodautoscalers"),
        Some("default"),
        "web",
        UpdateScope::Main,
        WriteOptions::default(),
        |c| {
            let mut next = c.clone();
            next["spec"]["maxReplicas"] = json!(3);
            Ok(next)
        },
    )
    .unwrap();
    h.settle();
    assert_eq!(int(&get(&h, "apps", "replicasets")["spec"]["replicas"]), 3);
    assert_eq!(rescales(&h)[1], "New size: 3; reason: Current number of replicas above Spec.MaxReplicas");
}

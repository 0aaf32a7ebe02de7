//! Objects sent to a second served version of a resource, converted to the stored version on the
//! way in: an `autoscaling/v1` HorizontalPodAutoscaler (what `kubectl autoscale` creates) becomes
//! `autoscaling/v2`, its CPU target a `Resource` metric, as upstream's conversion does.

use gitops_sandbox_core::registry::{Registry, ResourceType};
use serde_json::{Value, json};

/// The type an object is stored as, and the object converted to it.
pub fn to_storage(rt: &'static ResourceType, mut obj: Value) -> (&'static ResourceType, Value) {
    let Some(stored) = Registry::builtin().by_id(&rt.id()) else { return (rt, obj) };
    if stored.version == rt.version || rt.kind != "HorizontalPodAutoscaler" {
        return (rt, obj);
    }
    if obj["apiVersion"].as_str().is_none_or(|v| v == rt.api_version()) {
        obj["apiVersion"] = json!(stored.api_version());
    }
    if let Some(spec) = obj["spec"].as_object_mut()
        && let Some(percent) = spec.remove("targetCPUUtilizationPercentage")
    {
        let target = json!({"type": "Utilization", "averageUtilization": percent});
        spec.insert("metrics".into(), json!([{"type": "Resource", "resource": {"name": "cpu", "target": target}}]));
    }
    (stored, obj)
}

/// A stored object as the version `rt` shows it (the answer to a create through autoscaling/v1).
pub fn from_storage(rt: &ResourceType, stored: &Value) -> Value {
    let mut obj = stored.clone();
    obj["apiVersion"] = json!(rt.api_version());
    if let Some(spec) = obj["spec"].as_object_mut()
        && let Some(metrics) = spec.remove("metrics")
    {
        let cpu = metrics.as_array().into_iter().flatten().find(|m| m["resource"]["name"] == "cpu");
        if let Some(percent) = cpu.and_then(|m| m["resource"]["target"]["averageUtilization"].as_i64()) {
            spec.insert("targetCPUUtilizationPercentage".into(), json!(percent));
        }
    }
    if let Some(status) = obj["status"].as_object_mut() {
        status.remove("conditions");
        status.remove("currentMetrics");
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_autoscaler_becomes_a_v2_one_with_a_cpu_metric() {
        let rt = Registry::builtin().by_plural("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                         "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 50}});
        let (stored, out) = to_storage(rt, obj);
        assert_eq!(stored.version, "v2");
        assert_eq!(out["apiVersion"], "autoscaling/v2");
        assert_eq!(out["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 50);
        assert!(out["spec"].get("targetCPUUtilizationPercentage").is_none());
        let back = from_storage(rt, &out);
        assert_eq!(back["apiVersion"], "autoscaling/v1");
        assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 50);
    }
}

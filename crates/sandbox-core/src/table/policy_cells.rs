//! Cells of the kinds after chapter 2 that need more than a path (autoscalers, quotas, storage
//! and ingress classes, component statuses), each following the matching rule of upstream's printers.

use super::expr::{CellFn, Ctx, first, text};
use serde_json::{Value, json};

/// The named cell functions of this module.
pub const FUNCTIONS: &[(&str, CellFn)] = &[
    ("hpaReference", hpa_reference),
    ("hpaTargets", hpa_targets),
    ("quotaUsage", quota_usage),
    ("storageClassName", storage_class_name),
    ("ingressClassParameters", ingress_class_parameters),
    ("flag", flag),
    ("componentHealth", component_health),
];

/// A ComponentStatus's `Healthy` condition as `kubectl get cs` shows it: `status` (Healthy or
/// Unhealthy), its `message` or its `error`.
fn component_health(c: &Ctx, args: &[String]) -> Option<Value> {
    let conditions = first(c.obj, ".conditions").and_then(Value::as_array);
    let healthy = conditions.into_iter().flatten().find(|cond| cond["type"] == "Healthy");
    let field = |key: &str| healthy.and_then(|cond| cond[key].as_str()).unwrap_or("").to_string();
    Some(json!(match args.first().map(String::as_str) {
        Some("status") if healthy.is_some_and(|cond| cond["status"] == "True") => "Healthy".to_string(),
        Some("status") => "Unhealthy".to_string(),
        Some(key) => field(key),
        None => String::new(),
    }))
}

/// A plain boolean field (Go's `bool`, not `*bool`): `false` when absent.
fn flag(c: &Ctx, args: &[String]) -> Option<Value> {
    let path = args.first().map(String::as_str).unwrap_or_default();
    Some(json!(first(c.obj, path).and_then(Value::as_bool).unwrap_or(false)))
}

fn hpa_reference(c: &Ctx, _: &[String]) -> Option<Value> {
    Some(json!(format!("{}/{}", text(c.obj, ".spec.scaleTargetRef.kind"), text(c.obj, ".spec.scaleTargetRef.name"))))
}

/// `cpu: 40%/80%` per metric, `<unknown>` for a current value not yet measured; `<none>` without metrics.
fn hpa_targets(c: &Ctx, _: &[String]) -> Option<Value> {
    let metrics = first(c.obj, ".spec.metrics").and_then(Value::as_array).cloned().unwrap_or_default();
    let current = first(c.obj, ".status.currentMetrics").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut parts = Vec::new();
    for (i, metric) in metrics.iter().enumerate() {
        if metric["type"] != "Resource" {
            parts.push("<unknown>/<unknown>".to_string());
            continue;
        }
        let name = metric["resource"]["name"].as_str().unwrap_or_default();
        let target = &metric["resource"]["target"];
        let now = &current.get(i).map(|m| m["resource"]["current"].clone()).unwrap_or(Value::Null);
        let (have, want) = match target["averageUtilization"].as_i64() {
            Some(want) => (now["averageUtilization"].as_i64().map(|n| format!("{n}%")), format!("{want}%")),
            None => (
                now["averageValue"].as_str().map(String::from),
                target["averageValue"].as_str().unwrap_or("").to_string(),
            ),
        };
        parts.push(format!("{name}: {}/{want}", have.unwrap_or_else(|| "<unknown>".into())));
    }
    Some(json!(if parts.is_empty() { "<none>".to_string() } else { parts.join(", ") }))
}

/// `pods: 1/10, requests.cpu: 0/1` for the hard limits whose names do (`limits`) or do not
/// (`requests`) start with `limits.`, sorted by name.
fn quota_usage(c: &Ctx, args: &[String]) -> Option<Value> {
    let limits = args.first().is_some_and(|a| a == "limits");
    let hard = first(c.obj, ".status.hard").or_else(|| first(c.obj, ".spec.hard")).and_then(Value::as_object);
    let used = first(c.obj, ".status.used").and_then(Value::as_object);
    let mut parts: Vec<String> = hard
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.starts_with("limits.") == limits)
        .map(|(name, value)| {
            let now = used.and_then(|u| u.get(name)).and_then(Value::as_str).unwrap_or("0");
            format!("{name}: {now}/{}", value.as_str().unwrap_or_default())
        })
        .collect();
    parts.sort();
    Some(json!(parts.join(", ")))
}

fn storage_class_name(c: &Ctx, _: &[String]) -> Option<Value> {
    let name = text(c.obj, ".metadata.name");
    let annotations = &c.obj["metadata"]["annotations"];
    let default = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
        .iter()
        .any(|key| annotations[*key] == "true");
    Some(json!(if default { format!("{name} (default)") } else { name.to_string() }))
}

fn ingress_class_parameters(c: &Ctx, _: &[String]) -> Option<Value> {
    let Some(params) = first(c.obj, ".spec.parameters") else { return Some(json!("<none>")) };
    let group = text(params, ".apiGroup");
    let kind =
        if group.is_empty() { text(params, ".kind").to_string() } else { format!("{}.{group}", text(params, ".kind")) };
    Some(json!(format!("{kind}/{}", text(params, ".name"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(f: CellFn, obj: Value, args: &[&str]) -> Value {
        let now = "2024-05-01T12:00:00Z".parse().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        f(&Ctx { obj: &obj, now }, &args).unwrap_or(Value::Null)
    }

    #[test]
    fn a_component_is_healthy_only_by_its_healthy_condition() {
        let ok = json!({"conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
        assert_eq!(cell(component_health, ok.clone(), &["status"]), "Healthy");
        assert_eq!(cell(component_health, ok, &["message"]), "ok");
        let down = json!({"conditions": [{"type": "Healthy", "status": "False", "error": "dial tcp: refused"}]});
        assert_eq!(cell(component_health, down.clone(), &["status"]), "Unhealthy");
        assert_eq!(cell(component_health, down, &["error"]), "dial tcp: refused");
        assert_eq!(cell(component_health, json!({}), &["status"]), "Unhealthy");
    }

    #[test]
    fn autoscaler_targets_show_unknown_until_measured() {
        let spec = json!({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]});
        assert_eq!(cell(hpa_targets, json!({"spec": spec.clone()}), &[]), json!("cpu: <unknown>/80%"));
        let status = json!({"currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]});
        assert_eq!(cell(hpa_targets, json!({"spec": spec, "status": status}), &[]), json!("cpu: 40%/80%"));
    }

    #[test]
    fn quotas_split_requests_from_limits() {
        let obj =
            json!({"status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3"}}});
        assert_eq!(cell(quota_usage, obj.clone(), &["requests"]), json!("pods: 3/10, requests.cpu: 0/1"));
        assert_eq!(cell(quota_usage, obj, &["limits"]), json!("limits.cpu: 0/2"));
    }

    #[test]
    fn the_default_storage_class_is_marked() {
        let obj = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}});
        assert_eq!(cell(storage_class_name, obj, &[]), json!("standard (default)"));
    }
}

//! The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

use super::objects::write_options;
use super::patch::{PatchKind, apply};
use super::render;
use super::request::{BodyFormat, Options, Target, decode_as, decode_body};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::custom::{set_value_at, value_at};
use gitops_sandbox_core::errors::{ApiError, ApiResult, FieldError};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::ResourceType;
use serde_json::{Value, json};

/// Where a kind keeps its wanted replicas: `.spec.replicas` for the built-in workloads, what the
/// definition declares for a custom resource.
fn spec_replicas_path(rt: &ResourceType) -> &str {
    match rt.custom.as_deref().and_then(|c| c.scale.as_ref()) {
        Some(paths) => &paths.spec_replicas,
        None => ".spec.replicas",
    }
}

/// The Scale view of a custom resource (its selector is a string at `labelSelectorPath`).
fn custom_scale_of(rt: &ResourceType, obj: &Value) -> Option<Value> {
    let paths = rt.custom.as_deref()?.scale.as_ref()?;
    let mut scale = builtin_scale_of(obj);
    let count = |path: &str| value_at(obj, path).and_then(Value::as_i64).unwrap_or(0);
    scale["spec"]["replicas"] = json!(count(&paths.spec_replicas));
    scale["status"]["replicas"] = json!(count(&paths.status_replicas));
    let selector = paths.label_selector.as_deref().and_then(|p| value_at(obj, p)).and_then(Value::as_str);
    scale["status"]["selector"] = json!(selector.unwrap_or_default());
    Some(scale)
}

/// The Scale view of a workload object.
pub fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    custom_scale_of(rt, obj).unwrap_or_else(|| builtin_scale_of(obj))
}

fn builtin_scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    // A ReplicationController's selector is a plain map; the others are LabelSelectors.
    let spec_selector = &obj["spec"]["selector"];
    let labels = if spec_selector["matchLabels"].is_object() { &spec_selector["matchLabels"] } else { spec_selector };
    let selector: Vec<String> = labels
        .as_object()
        .map(|labels| labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",")},
    })
}

/// GET, PUT or PATCH of `…/{name}/scale`.
pub fn handle(
    sb: &Sandbox,
    t: &Target,
    name: &str,
    method: &Method,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let current = sb.get(t.rt, t.namespace.as_deref(), name).ok_or_else(|| ApiError::not_found(t.rt, name))?;
    let wanted: Value = match *method {
        Method::GET => return Ok(render::json_response(StatusCode::OK, &scale_of(t.rt, &current))),
        Method::PUT => decode_body(headers, body)?,
        Method::PATCH => {
            let kind = PatchKind::from_headers(headers)?;
            let document = decode_as(BodyFormat::Json, body)?;
            let mut base = scale_of(t.rt, &current);
            base["metadata"].as_object_mut().map(|m| m.remove("resourceVersion"));
            apply(kind, base, &document, "autoscaling/v1", "Scale")?
        }
        _ => return Err(ApiError::method_not_allowed(method.as_str(), t.rt)),
    };
    let replicas = &wanted["spec"]["replicas"];
    let Some(count) = replicas.as_i64().filter(|n| *n >= 0) else {
        let error = FieldError::invalid("spec.replicas", replicas.clone(), "must be greater than or equal to 0");
        return Err(ApiError::invalid(t.rt, name, &[error]));
    };
    let precondition = wanted["metadata"]["resourceVersion"].clone();
    let write = WriteOptions { subresource: Some("scale".into()), ..write_options(opts)? };
    let outcome = sb.modify(t.rt, t.namespace.as_deref(), name, UpdateScope::Main, write, |obj| {
        let mut obj = obj.clone();
        set_value_at(&mut obj, spec_replicas_path(t.rt), json!(count));
        if precondition.is_string() {
            obj["metadata"]["resourceVersion"] = precondition;
        }
        Ok(obj)
    })?;
    Ok(render::json_response(StatusCode::OK, &scale_of(t.rt, &outcome.object)))
}

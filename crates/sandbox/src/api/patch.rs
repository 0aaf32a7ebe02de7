//! `PATCH`: JSON patch, merge patch, strategic merge patch and server-side apply.

use super::objects::write_options;
use super::render;
use super::request::{BodyFormat, Options, Output, Target, content_type, decode_as};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::fields;
use gitops_sandbox_core::fields::apply::LAST_APPLIED;
use gitops_sandbox_core::fields::managed::{Operation, Writer};
use gitops_sandbox_core::fields::shape::Shape;
use gitops_sandbox_core::lifecycle::UpdateScope;
use serde_json::{Value, json};

/// The patch formats, by their media types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 6902 `application/json-patch+json`.
    Json,
    /// RFC 7386 `application/merge-patch+json`.
    Merge,
    /// Kubernetes `application/strategic-merge-patch+json`.
    Strategic,
    /// Server-side apply, `application/apply-patch+yaml`.
    Apply,
}

impl PatchKind {
    /// The kind named by the request's Content-Type; anything else is 415.
    pub fn from_headers(headers: &HeaderMap) -> ApiResult<Self> {
        match content_type(headers).as_str() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" => Ok(Self::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }

    fn body_format(self) -> BodyFormat {
        if self == Self::Apply { BodyFormat::Yaml } else { BodyFormat::Json }
    }
}

/// Upstream's refusal of a patch type a custom resource does not take.
const CUSTOM_PATCH_TYPES: &str = "the body of the request was in an unknown format - accepted media types include: \
    application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

/// Applies a patch document to `current` (an object of `api_version`/`kind`), taken by value so
/// that a JSON or merge patch changes it in place instead of a copy.
pub fn apply(kind: PatchKind, current: Value, patch: &Value, api_version: &str, object_kind: &str) -> ApiResult<Value> {
    let failed = |e: String| ApiError::unprocessable(format!("the patch cannot be applied: {e}"));
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is not a list of operations: {e}")))?;
            let mut doc = current;
            json_patch::patch(&mut doc, &ops).map_err(|e| failed(e.to_string()))?;
            Ok(doc)
        }
        PatchKind::Merge => {
            let mut doc = current;
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        // Server-side apply merges by field ownership (`server_side_apply`); applied to a plain
        // document (the scale subresource) it merges as a strategic patch.
        PatchKind::Strategic | PatchKind::Apply => {
            let schema = strategic_merge::MergeSchema::for_kind(api_version, object_kind);
            strategic_merge::apply_patch(&current, patch, &schema).map_err(|e| failed(e.to_string()))
        }
    }
}

/// `PATCH` of an object or its status.
pub fn patch(
    sb: &Sandbox,
    t: &Target,
    name: &str,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
    output: Output,
) -> ApiResult<Response> {
    let kind = PatchKind::from_headers(headers)?;
    // As upstream: a custom resource has no Go type to carry merge directives, so a strategic
    // merge patch of one is refused before its body is read.
    if kind == PatchKind::Strategic && t.rt.custom.is_some() {
        return Err(ApiError::unsupported_media_type_because(CUSTOM_PATCH_TYPES));
    }
    let document = decode_as(kind.body_format(), body)?;
    if !(document.is_object() || (kind == PatchKind::Json && document.is_array())) {
        return Err(ApiError::bad_request(
            "the patch must be a JSON object (or, for a JSON patch, a list of operations)",
        ));
    }
    let write = write_options(opts)?;
    let scope = if t.subresource.as_deref() == Some("status") { UpdateScope::Status } else { UpdateScope::Main };
    if kind == PatchKind::Apply {
        return server_side_apply(sb, t, name, opts, write, scope, document, output);
    }
    let (api_version, object_kind) = (t.rt.api_version(), t.rt.kind.clone());
    let outcome = sb
        .modify_speculative(t.rt, t.namespace.as_deref(), name, scope, write, |current| {
            let mut base = current.clone();
            // A merge or strategic patch only carries a resourceVersion when the client wants it
            // checked (kubectl diff does); a JSON patch may replace it (kubectl's upgrade to
            // server-side apply does), so it keeps the current one to replace.
            if kind != PatchKind::Json
                && let Some(meta) = base["metadata"].as_object_mut()
            {
                meta.remove("resourceVersion");
            }
            apply(kind, base, &document, &api_version, &object_kind)
        })
        .map_err(|e| match kind {
            PatchKind::Strategic => converter_error_on_patch(strict_error_on_patch(e, &document), &document),
            _ => strict_error_on_patch(e, &document),
        })?;
    render::written(StatusCode::OK, t.rt, outcome, output, &opts.include_object)
}

/// Server-side apply: the applied configuration merged by field ownership (see the core's
/// `fields::apply`); an object that does not exist is created from it.
#[allow(clippy::too_many_arguments)] // the handler's inputs, passed on as they are
fn server_side_apply(
    sb: &Sandbox,
    t: &Target,
    name: &str,
    opts: &Options,
    mut write: WriteOptions,
    scope: UpdateScope,
    document: Value,
    output: Output,
) -> ApiResult<Response> {
    let Some(manager) = write.manager.clone().filter(|_| !opts.field_manager.is_empty()) else {
        return Err(ApiError::bad_request("fieldManager is required for apply requests"));
    };
    write.apply = true;
    if sb.get(t.rt, t.namespace.as_deref(), name).is_none() {
        let outcome = sb.create(t.rt, t.namespace.as_deref(), document, write)?;
        return render::written(StatusCode::CREATED, t.rt, outcome, output, &opts.include_object);
    }
    let api_version = t.rt.api_version();
    let shape = Shape::for_type(t.rt);
    let subresource = if scope == UpdateScope::Status { "status" } else { "" };
    let time = gitops_sandbox_core::time::now_rfc3339();
    let writer =
        Writer { manager: &manager, operation: Operation::Apply, api_version: &api_version, subresource, time: &time };
    let outcome = sb.modify_speculative(t.rt, t.namespace.as_deref(), name, scope, write.clone(), |current| {
        let mut live = current.clone();
        if let Some(meta) = live["metadata"].as_object_mut() {
            meta.remove("resourceVersion");
        }
        let mut merged = fields::apply::apply(Some(&live), &document, shape, &writer, opts.force)
            .map_err(|conflicts| conflict_error(&conflicts))?;
        sync_last_applied(&live, &document, &mut merged, &manager);
        Ok(merged)
    })?;
    render::written(StatusCode::OK, t.rt, outcome, output, &opts.include_object)
}

/// Upstream's 409 for an apply that conflicts, with one cause per field.
fn conflict_error(conflicts: &fields::apply::Conflicts) -> ApiError {
    let mut error = ApiError::conflict_with(conflicts.message());
    error.details = Some(json!({"causes": conflicts.causes()}));
    error
}

/// As upstream: a server-side apply by kubectl (manager `kubectl`) over an object that has the
/// client-side annotation rewrites the annotation with the applied configuration, so switching
/// back to client-side apply starts from what was last applied.
fn sync_last_applied(live: &Value, applied: &Value, merged: &mut Value, manager: &str) {
    if manager != "kubectl" || live["metadata"]["annotations"].get(LAST_APPLIED).is_none() {
        return;
    }
    let mut config = applied.clone();
    if let Some(annotations) = config["metadata"].get_mut("annotations").and_then(Value::as_object_mut) {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            config["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    let text = format!("{}\n", serde_json::to_string(&sorted(&config)).unwrap_or_default());
    if !merged["metadata"]["annotations"].is_object() {
        merged["metadata"]["annotations"] = json!({});
    }
    merged["metadata"]["annotations"][LAST_APPLIED] = json!(text);
}

/// A copy with every object's keys in order, as Go's encoder writes maps.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Upstream reports unknown fields met while applying a patch as an Invalid `patch` field that
/// shows the patch in Go's map notation; kubectl prints it as `The request is invalid: patch: …`.
fn strict_error_on_patch(error: ApiError, patch: &Value) -> ApiError {
    let Some(at) = error.message.find(gitops_sandbox_core::lifecycle::STRICT_PREFIX) else { return error };
    // Upstream builds this error with an empty group, kind and name, hence the leading space.
    invalid_patch(patch, &error.message[at..])
}

/// The `patch: Invalid value` error upstream answers, with `detail` after the Go-printed patch.
fn invalid_patch(patch: &Value, detail: &str) -> ApiError {
    let cause = format!("Invalid value: {}: {detail}", go_quote(&go_format(patch)));
    let mut invalid = ApiError::unprocessable(format!(" \"\" is invalid: patch: {cause}"));
    invalid.details =
        Some(serde_json::json!({"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]}));
    invalid
}

/// A strategic merge patch is applied to the object as a map and then converted to the typed
/// object by upstream's unstructured converter, not by the JSON decoder: a value of the wrong type
/// is reported in the converter's words (`cannot restore map from string`), as an Invalid `patch`.
fn converter_error_on_patch(error: ApiError, patch: &Value) -> ApiError {
    let Some(at) = error.message.find("json: cannot unmarshal ") else { return error };
    let text = &error.message[at + "json: cannot unmarshal ".len()..];
    let Some((what, rest)) = text.split_once(" into Go ") else { return error };
    let Some((_, go_type)) = rest.rsplit_once(" of type ") else { return error };
    match converter_message(what, go_type) {
        Some(detail) => invalid_patch(patch, &detail),
        None => error,
    }
}

/// The converter's message for a `what` (Go decoder's words) found where `go_type` belongs.
fn converter_message(what: &str, go_type: &str) -> Option<String> {
    // (the Go type of the map value, the reflect kind the converter names)
    let (source, kind) = match what {
        "string" => ("string", "string"),
        "bool" => ("bool", "bool"),
        "object" => ("map[string]interface {}", "map"),
        "array" => ("[]interface {}", "slice"),
        number if number.starts_with("number") => match number.contains(['.', 'e', 'E']) {
            true => ("float64", "float64"),
            // A whole number converts to any integer type without complaint.
            false => return None,
        },
        _ => return None,
    };
    // Types with their own JSON decoding (quantities, int-or-string, times) keep the decoder's words.
    if ["IntOrString", "Quantity", "Time"].iter().any(|t| go_type.ends_with(t)) {
        return None;
    }
    Some(if go_type.starts_with("map[") {
        format!("cannot restore map from {kind}")
    } else if go_type.starts_with("[]") {
        format!("cannot restore slice from {kind}")
    } else if go_type.contains('.') {
        format!("cannot restore struct from: {kind}")
    } else {
        format!("cannot convert {source} to {go_type}")
    })
}

/// A string as Go's `%q` prints it: quoted, with quotes, backslashes and control characters escaped.
fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A JSON value as Go's `%+v` prints a decoded `map[string]interface{}`.
fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_format).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            format!("map[{}]", map.iter().map(|(k, v)| format!("{k}:{}", go_format(v))).collect::<Vec<_>>().join(" "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrong_types_in_strategic_patches_use_the_converters_words() {
        assert_eq!(converter_message("string", "map[string]string").as_deref(), Some("cannot restore map from string"));
        assert_eq!(converter_message("object", "[]v1.Container").as_deref(), Some("cannot restore slice from map"));
        assert_eq!(converter_message("string", "v1.PodSpec").as_deref(), Some("cannot restore struct from: string"));
        assert_eq!(converter_message("bool", "int32").as_deref(), Some("cannot convert bool to int32"));
        assert_eq!(converter_message("number 1.5", "int32").as_deref(), Some("cannot convert float64 to int32"));
        assert_eq!(converter_message("bool", "intstr.IntOrString"), None);
    }

    #[test]
    fn go_quoting_escapes_quotes_and_newlines() {
        assert_eq!(go_quote("a\"b\nc\\"), "\"a\\\"b\\nc\\\\\"");
    }

    #[test]
    fn patches_print_in_go_map_notation() {
        let patch = json!({"spec": {"replica": 3, "replicas": null, "names": ["a", "b"]}});
        assert_eq!(go_format(&patch), "map[spec:map[names:[a b] replica:3 replicas:<nil>]]");
    }

    use super::*;
    use gitops_sandbox_core::errors::Reason;
    use serde_json::json;

    #[test]
    fn a_json_patch_test_that_fails_is_unprocessable() {
        let patch = json!([{"op": "test", "path": "/data/a", "value": "x"}]);
        let err = apply(PatchKind::Json, json!({"data": {"a": "y"}}), &patch, "v1", "ConfigMap").unwrap_err();
        assert_eq!(err.reason, Reason::Invalid);
    }

    #[test]
    fn a_merge_patch_null_removes_a_field() {
        let out = apply(
            PatchKind::Merge,
            json!({"spec": {"replicas": 3, "x": 1}}),
            &json!({"spec": {"replicas": null}}),
            "apps/v1",
            "Deployment",
        )
        .unwrap();
        assert_eq!(out, json!({"spec": {"x": 1}}));
    }

    #[test]
    fn a_strategic_patch_merges_containers_by_name() {
        let current = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "3"}]}});
        let out = apply(PatchKind::Strategic, current, &patch, "v1", "Pod").unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "a", "image": "1"}, {"name": "b", "image": "3"}]));
    }
}

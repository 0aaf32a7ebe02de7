//! Handlers for objects and collections: get, list, create, update, delete and deletecollection.

use super::render;
use super::request::{Options, Output, Target, decode_body};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use gitops_sandbox_core::cluster::{DeleteOptions, Propagation, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::fields;
use gitops_sandbox_core::lifecycle::{FieldValidation, UpdateScope};
use gitops_sandbox_core::object;
use gitops_sandbox_core::selectors::{FieldSelector, LabelSelector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{Value, json};
use std::sync::Arc;

/// The write options a request's query asks for.
pub fn write_options(opts: &Options) -> ApiResult<WriteOptions> {
    Ok(WriteOptions {
        dry_run: opts.dry_run,
        field_validation: FieldValidation::parse(&opts.field_validation)?,
        manager: fields::manager_of_request(&opts.field_manager, &opts.user_agent),
        ..WriteOptions::default()
    })
}

/// `GET` of one object (or its status subresource).
pub fn get(sb: &Sandbox, t: &Target, name: &str, opts: &Options, output: Output) -> ApiResult<Response> {
    let obj = sb.get(t.rt, t.namespace.as_deref(), name).ok_or_else(|| ApiError::not_found(t.rt, name))?;
    render::object(StatusCode::OK, t.rt, obj, output, &opts.include_object)
}

/// The parsed selectors of a list, watch or deletecollection.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`; errors are 400s that quote the selector.
    pub fn new(t: &Target, opts: &Options) -> ApiResult<Self> {
        let labels = LabelSelector::parse(&opts.label_selector).map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(t.rt, &opts.field_selector).map_err(ApiError::bad_request)?;
        Ok(Self { labels, fields })
    }

    /// Whether an object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj["metadata"].get("labels")) && self.fields.matches(obj)
    }
}

/// `GET` of a collection, paged with `limit`/`continue`.
pub fn list(sb: &Sandbox, t: &Target, opts: &Options, output: Output) -> ApiResult<Response> {
    let filter = Filter::new(t, opts)?;
    let after = decode_continue(&opts.continue_token)?;
    let (snapshot, more) =
        sb.store().list(&t.rt.id(), t.namespace.as_deref(), after.as_ref(), opts.limit, |o| filter.matches(o));
    let mut meta = json!({"resourceVersion": snapshot.rv.to_string()});
    if more && let Some(last) = snapshot.items.last() {
        let position = [object::namespace(last), object::name(last)];
        let token = json!({"rv": snapshot.rv, "after": position}).to_string();
        meta["continue"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token));
    }
    render::list(t.rt, snapshot.items, Some(snapshot.json), meta, output, &opts.include_object)
}

fn decode_continue(token: &str) -> ApiResult<Option<(String, String)>> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ApiError::bad_request(format!(
            "continue key is not valid: {token:?} (use the token from the previous page unchanged)"
        ))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    match (value["after"][0].as_str(), value["after"][1].as_str()) {
        (Some(ns), Some(name)) => Ok(Some((ns.to_string(), name.to_string()))),
        _ => Err(invalid()),
    }
}

/// The object of a create or update. A body that is not JSON although sent as JSON (kubectl's
/// `create --raw -f file.yaml` sends the file as it is) gets upstream's decoder message.
fn decode_object(t: &Target, headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let decoded = decode_body(headers, body);
    let Err(error) = &decoded else { return decoded };
    let Err(json) = serde_json::from_slice::<Value>(body) else { return decoded };
    if body.is_empty() || !error.message.starts_with("the request body is not valid JSON") {
        return decoded;
    }
    Err(ApiError::bad_request(format!(
        "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {} ({})",
        t.rt.kind,
        go_json_error(body, &json),
        summarize(body)
    )))
}

/// Go's `encoding/json` wording for the common syntax errors; serde's otherwise.
fn go_json_error(body: &[u8], error: &serde_json::Error) -> String {
    if error.is_eof() {
        return "unexpected end of JSON input".to_string();
    }
    let line_start: usize = body.split(|b| *b == b'\n').take(error.line().saturating_sub(1)).map(|l| l.len() + 1).sum();
    let at = (line_start + error.column()).saturating_sub(1);
    let found = body.get(at).map(|b| char::from(*b)).unwrap_or(' ');
    let text = error.to_string();
    let context = if text.starts_with("expected value") || text.starts_with("expected ident") {
        "looking for beginning of value"
    } else if text.starts_with("expected `:`") {
        "after object key"
    } else if text.starts_with("expected `,` or `}`") {
        "after object key:value pair"
    } else if text.starts_with("expected `,` or `]`") {
        "after array element"
    } else {
        return text;
    };
    format!("invalid character '{found}' {context}")
}

/// Upstream's summary of a body it could not read: the first 30 bytes, as text for what looks
/// like JSON and in hexadecimal otherwise.
fn summarize(body: &[u8]) -> String {
    let head = &body[..body.len().min(30)];
    let more = if body.len() > 30 { " ..." } else { "" };
    match body.first() {
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        _ => format!("{}{more}", head.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
}

/// `POST` to a collection.
pub fn create(
    sb: &Sandbox,
    t: &Target,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
    output: Output,
) -> ApiResult<Response> {
    let obj = decode_object(t, headers, body)?;
    let (rt, obj) = super::versions::to_storage(t.rt, obj);
    let mut outcome = sb.create(rt, t.namespace.as_deref(), obj, write_options(opts)?)?;
    if !std::ptr::eq(rt, t.rt) {
        outcome.object = Arc::new(super::versions::from_storage(t.rt, &outcome.object));
        // Answered in the requested version, not as stored.
        outcome.json = None;
    }
    render::written(StatusCode::CREATED, t.rt, outcome, output, &opts.include_object)
}

/// `PUT` of an object or its status.
pub fn update(
    sb: &Sandbox,
    t: &Target,
    name: &str,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
    output: Output,
) -> ApiResult<Response> {
    let obj = decode_object(t, headers, body)?;
    let scope = if t.subresource.as_deref() == Some("status") { UpdateScope::Status } else { UpdateScope::Main };
    let outcome = sb.update(t.rt, t.namespace.as_deref(), name, obj, scope, write_options(opts)?)?;
    render::written(StatusCode::OK, t.rt, outcome, output, &opts.include_object)
}

/// Reads `DeleteOptions` from the query and an optional body (decoded as upstream's type, so a
/// field of the wrong type is a 400 naming it).
fn delete_options(opts: &Options, headers: &HeaderMap, body: &[u8]) -> ApiResult<DeleteOptions> {
    let body: meta::DeleteOptions = match body.iter().all(u8::is_ascii_whitespace) {
        true => meta::DeleteOptions::default(),
        false => typed("DeleteOptions", "v1", decode_body(headers, body)?)?,
    };
    let policy = body.propagation_policy.as_deref().unwrap_or(&opts.propagation_policy);
    let Some(propagation) = Propagation::parse(policy) else {
        return Err(ApiError::bad_request(format!(
            "propagationPolicy must be Orphan, Background or Foreground, not {policy:?}"
        )));
    };
    let dry_run = opts.dry_run || body.dry_run.iter().flatten().any(|v| v == "All");
    let preconditions = body.preconditions.unwrap_or_default();
    let text = |v: Option<String>| v.filter(|s| !s.is_empty());
    let grace_period = body.grace_period_seconds.or(opts.grace_period_seconds.map(|s| s as i64));
    if let Some(seconds) = grace_period.filter(|s| *s < 0) {
        return Err(ApiError::bad_request(format!(
            "gracePeriodSeconds must be a non-negative whole number, not {seconds}"
        )));
    }
    Ok(DeleteOptions {
        dry_run,
        uid: text(preconditions.uid),
        resource_version: text(preconditions.resource_version),
        propagation,
        grace_period,
    })
}

/// A request body read as one of upstream's types; a value of the wrong type is upstream's 400.
pub fn typed<T: serde::de::DeserializeOwned>(kind: &str, version: &str, body: Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!("{kind} in version \"{version}\" cannot be handled as a {kind}: {e}"))
    })
}

/// `DELETE` of one object.
pub fn delete(
    sb: &Sandbox,
    t: &Target,
    name: &str,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let options = delete_options(opts, headers, body)?;
    let obj = gitops_sandbox_core::custom::in_version(t.rt, sb.delete(t.rt, t.namespace.as_deref(), name, &options)?);
    Ok(render::json_response(StatusCode::OK, &obj))
}

/// `DELETE` of a collection: every matching object, answered with the list of what was deleted.
pub fn delete_collection(
    sb: &Sandbox,
    t: &Target,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let options = delete_options(opts, headers, body)?;
    let filter = Filter::new(t, opts)?;
    let (snapshot, _) = sb.store().list(&t.rt.id(), t.namespace.as_deref(), None, 0, |o| filter.matches(o));
    let mut deleted: Vec<Arc<Value>> = Vec::new();
    for obj in snapshot.items {
        let name = object::name(&obj);
        let namespace = obj["metadata"]["namespace"].as_str();
        match sb.delete(t.rt, namespace, name, &options) {
            Ok(obj) => deleted.push(obj),
            // Deleted by someone else in the meantime: that is the goal anyway.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    let meta = json!({"resourceVersion": sb.store().resource_version().to_string()});
    render::list(t.rt, deleted, None, meta, Output::Object, "")
}

//! The HTTP layer: a route table for the fixed paths, and one dispatcher for resource paths that
//! hands each verb to its handler module. Handlers translate HTTP to [`Sandbox`] operations only.

mod discovery;
#[cfg(test)]
mod fuzz_tests;
mod objects;
mod patch;
mod render;
mod request;
mod scale;
pub mod status;
mod streaming;
mod versions;
mod watch;

pub use request::{MAX_BODY, Target};
pub use streaming::PodStreams;

use crate::Sandbox;
use crate::api::status::IntoStatus;
use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gitops_sandbox_core::auth;
use gitops_sandbox_core::custom;
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::openapi;
use request::Options;
use serde_json::Value;
use std::sync::Arc;

/// The sandbox's routes, with exec, logs and port-forward served by `pods` (the simulated node;
/// tests pass a fake one).
pub fn router(sandbox: Arc<Sandbox>, pods: Arc<dyn PodStreams>) -> Router {
    Router::new()
        .route("/version", get(|| async { json(discovery::version()) }))
        .route("/healthz", get(ok_text))
        .route("/readyz", get(ok_text))
        .route("/livez", get(ok_text))
        .route("/api", get(core_groups))
        .route("/apis", get(groups))
        .route("/api/{version}", get(core_resources))
        .route("/apis/{group}", get(group))
        .route("/apis/{group}/{version}", get(group_resources))
        .route("/openapi/v3", get(|State(sb): State<Arc<Sandbox>>| async move { json(openapi_index(&sb)) }))
        .route("/openapi/v3/{*path}", get(openapi_group))
        .route("/openapi/v2", get(openapi_v2))
        .merge(streaming::routes(sandbox.clone(), pods))
        .fallback(resource)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sandbox.clone(), authenticate))
        .with_state(sandbox)
}

/// A fixed path asked with a verb it does not serve: a `Status`, like every other refusal.
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let message = format!("the server does not allow this method on the requested resource ({method} {})", uri.path());
    ApiError::method_not_allowed_on(message).into_status()
}

async fn ok_text() -> &'static str {
    "ok"
}

fn json(value: Value) -> Response {
    render::json_response(StatusCode::OK, &value)
}

fn found(value: Option<Value>, uri: &Uri) -> Response {
    match value {
        Some(value) => json(value),
        None => ApiError::unknown_path(uri.path()).into_status(),
    }
}

/// `GET /api`: the aggregated form when the client prefers it (kubectl does), else the versions.
async fn core_groups(State(sb): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
    match wants_aggregated(&headers) {
        true => aggregated(discovery::aggregated(sb.registry(), true)),
        false => json(discovery::core_versions()),
    }
}

/// `GET /apis`: the aggregated form when the client prefers it (kubectl does), else the groups.
async fn groups(State(sb): State<Arc<Sandbox>>, headers: HeaderMap) -> Response {
    match wants_aggregated(&headers) {
        true => aggregated(discovery::aggregated(sb.registry(), false)),
        false => json(discovery::group_list(sb.registry())),
    }
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    discovery::prefers_aggregated(accept)
}

/// An aggregated discovery answer: its own media type (kubectl takes nothing else as one), and
/// `Vary: Accept`, since the same path answers in two forms.
fn aggregated(value: Value) -> Response {
    let mut response = json(value);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(discovery::AGGREGATED));
    headers.insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

async fn core_resources(State(sb): State<Arc<Sandbox>>, Path(version): Path<String>, uri: Uri) -> Response {
    found(discovery::resource_list(sb.registry(), "", &version), &uri)
}

async fn group(State(sb): State<Arc<Sandbox>>, Path(group): Path<String>, uri: Uri) -> Response {
    found(discovery::group(sb.registry(), &group), &uri)
}

async fn group_resources(
    State(sb): State<Arc<Sandbox>>,
    Path((group, version)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    found(discovery::resource_list(sb.registry(), &group, &version), &uri)
}

/// The v3 index: the built-in group versions, then the custom resources' (whose URLs' hashes
/// change with their definitions, so kubectl's cache never serves an old schema).
fn openapi_index(sb: &Sandbox) -> Value {
    let mut index = openapi::v3_index();
    let registry = sb.registry();
    for key in custom::openapi::group_versions(registry) {
        let Some(document) = custom::openapi::v3_document(registry, &key) else { continue };
        let hash = format!("{:016X}", gitops_sandbox_core::digest::fnv1a_64(document.to_string().as_bytes()));
        index["paths"][&key] = serde_json::json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")});
    }
    index
}

async fn openapi_group(State(sb): State<Arc<Sandbox>>, Path(path): Path<String>, uri: Uri) -> Response {
    if let Some(text) = openapi::v3_group_text(&path) {
        return raw_json(text);
    }
    let key = path.split('?').next().unwrap_or_default().trim_matches('/');
    match custom::openapi::v3_document(sb.registry(), key) {
        Some(document) => json(document),
        None => ApiError::unknown_path(uri.path()).into_status(),
    }
}

/// A prebuilt JSON document, sent without re-serializing it.
/// The swagger document, in protobuf when the client asks for it (kubectl's validation does) and
/// as JSON otherwise.
async fn openapi_v2(headers: axum::http::HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains(openapi::V2_PROTOBUF) {
        let body = openapi::v2_document_protobuf();
        return (StatusCode::OK, [(header::CONTENT_TYPE, openapi::V2_PROTOBUF_REPLY)], body).into_response();
    }
    raw_json(openapi::v2_document_text())
}

fn raw_json(text: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Authenticates and authorizes every request (upstream's filters run before routing), and hands
/// the caller's identity to the handlers.
async fn authenticate(State(sb): State<Arc<Sandbox>>, mut request: Request, next: Next) -> Response {
    let query = Query::<Vec<(String, String)>>::try_from_uri(request.uri()).map(|q| q.0).unwrap_or_default();
    match auth::admit(&sb, request.method(), request.uri(), &query, request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(error) => error.into_status(),
    }
}

/// Every `/api/v1/…` and `/apis/{group}/{version}/…` resource path.
async fn resource(
    State(sb): State<Arc<Sandbox>>,
    Extension(caller): Extension<auth::Identity>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_status(),
    };
    let result = async {
        let target = parse_target(&sb, uri.path())?;
        if auth::reviews::is_review(target.rt) {
            return review(&sb, &caller, &target, &method, &headers, &body);
        }
        let mut opts = Options::parse(&pairs)?;
        opts.user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        if opts.watch && method == Method::GET && target.name.is_none() {
            let output = request::output(&headers)?;
            return watch::watch(&sb, &target, &opts, output);
        }
        if deferrable(&method, &target) {
            return deferred(&sb, &target, &method, &opts, &headers, &body).await;
        }
        // Other handlers may wait for a commit on their thread: run them off the async workers.
        tokio::task::spawn_blocking(move || {
            let answer = dispatch(&sb, &target, &method, &opts, &headers, &body);
            // A changed definition changes what is served: at once, so the next request sees it.
            if target.rt.plural == "customresourcedefinitions" && method != Method::GET && !opts.dry_run {
                sb.refresh_custom_types();
            }
            answer
        })
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("the request handler stopped: {e}"))))
    }
    .await;
    result.unwrap_or_else(IntoStatus::into_status)
}

/// Creates, updates and patches of an object or its status: handlers that make one store write
/// and read nothing back, so they can run on the async worker with their write deferred. On
/// unless `GITOPS_LAB_DEFERRED_WRITES=0`: on a quiet machine it gave 32 writers 5.6–7.5 times one
/// writer's creates against 4.2–5.0 without it, at less CPU per write; under heavy load (other
/// builds on the two cores) it lost throughput (docs/benchmarks.md, issue 9). The switch lets one
/// binary be measured both ways.
fn deferrable(method: &Method, t: &Target) -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*ON.get_or_init(|| std::env::var("GITOPS_LAB_DEFERRED_WRITES").map_or(true, |v| v != "0")) {
        return false;
    }
    // A CRD's write changes what is served (above): not deferred.
    if t.rt.plural == "customresourcedefinitions" {
        return false;
    }
    let main_or_status = matches!(t.subresource.as_deref(), None | Some("status"));
    match *method {
        Method::POST => t.name.is_none() && t.subresource.is_none(),
        Method::PUT | Method::PATCH => t.name.is_some() && main_or_status,
        _ => false,
    }
}

/// Runs a write's handler on this async worker (decoding, admission and the decision are CPU
/// work, and the store's locks are held briefly), then waits for its commit as a parked task, so
/// a write costs no hand-off to a blocking-pool thread and back. The answer is sent only once
/// the write is durable, as before.
async fn deferred(
    sb: &Sandbox,
    t: &Target,
    method: &Method,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let run = || dispatch(sb, t, method, opts, headers, body);
    let (answer, rv) = sb.store().deferred(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)));
    if rv > 0 {
        sb.store().durable(rv).await.map_err(|e| ApiError::internal(e.to_string()))?;
    }
    answer.unwrap_or_else(|_| Err(ApiError::internal("the request handler stopped: it panicked".to_string())))
}

/// How much of an oversized body is read and dropped so the client sees the 413, not a reset.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a request body of at most [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> ApiResult<axum::body::Bytes> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut collected = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("the request body could not be read: {e}")))?;
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen <= MAX_BODY {
            collected.extend_from_slice(&chunk);
        }
    }
    if seen > MAX_BODY {
        return Err(ApiError::too_large(MAX_BODY));
    }
    Ok(collected.into())
}

/// The review APIs answer from the caller's identity and store nothing.
fn review(
    sb: &Sandbox,
    caller: &auth::Identity,
    t: &Target,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    if *method != Method::POST || t.name.is_some() {
        return Err(ApiError::method_not_allowed(method.as_str(), t.rt));
    }
    let answer = auth::reviews::review(sb, caller, t.rt, request::decode_body(headers, body)?)?;
    Ok(render::json_response(StatusCode::CREATED, &answer))
}

fn parse_target(sb: &Sandbox, path: &str) -> ApiResult<Target> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api", version, rest @ ..] => Target::parse(sb.registry(), "", version, rest, path),
        ["apis", group, version, rest @ ..] => Target::parse(sb.registry(), group, version, rest, path),
        _ => Err(ApiError::unknown_path(path)),
    }
}

fn dispatch(
    sb: &Sandbox,
    t: &Target,
    method: &Method,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let answer = dispatch_verb(sb, t, method, opts, headers, body);
    // Every answer about a deprecated kind carries upstream's deprecation warning (kubectl prints it).
    match &t.rt.deprecated {
        Some(warning) => answer.map(|response| render::with_warnings(response, std::slice::from_ref(warning))),
        None => answer,
    }
}

fn dispatch_verb(
    sb: &Sandbox,
    t: &Target,
    method: &Method,
    opts: &Options,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    let verb_allowed =
        |verb: &str| if t.rt.allows(verb) { Ok(()) } else { Err(ApiError::method_not_allowed(method.as_str(), t.rt)) };
    let output = || request::output(headers);
    match (&t.name, t.subresource.as_deref()) {
        (Some(name), Some("scale")) => scale::handle(sb, t, name, method, opts, headers, body),
        (Some(name), Some("token")) if *method == Method::POST => {
            let request = request::decode_body(headers, body)?;
            let answer = auth::create_token(sb, t.namespace.as_deref().unwrap_or("default"), name, request)?;
            Ok(render::json_response(StatusCode::CREATED, &answer))
        }
        (Some(_), Some("token")) => Err(ApiError::method_not_allowed(method.as_str(), t.rt)),
        (Some(name), _) => match *method {
            Method::GET => verb_allowed("get").and_then(|_| objects::get(sb, t, name, opts, output()?)),
            Method::PUT => {
                verb_allowed("update").and_then(|_| objects::update(sb, t, name, opts, headers, body, output()?))
            }
            Method::PATCH => {
                verb_allowed("patch").and_then(|_| patch::patch(sb, t, name, opts, headers, body, output()?))
            }
            Method::DELETE if t.subresource.is_none() => {
                verb_allowed("delete").and_then(|_| objects::delete(sb, t, name, opts, headers, body))
            }
            _ => Err(ApiError::method_not_allowed(method.as_str(), t.rt)),
        },
        (None, _) => match *method {
            Method::GET => verb_allowed("list").and_then(|_| objects::list(sb, t, opts, output()?)),
            Method::POST => verb_allowed("create").and_then(|_| objects::create(sb, t, opts, headers, body, output()?)),
            Method::DELETE => {
                verb_allowed("deletecollection").and_then(|_| objects::delete_collection(sb, t, opts, headers, body))
            }
            _ => Err(ApiError::method_not_allowed(method.as_str(), t.rt)),
        },
    }
}

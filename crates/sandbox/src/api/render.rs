//! Writing answers: objects, lists (streamed in chunks), Tables and metadata-only forms, with warnings.

use super::request::Output;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_sandbox_core::cluster::Outcome;
use gitops_sandbox_core::custom;
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::registry::ResourceType;
use gitops_sandbox_core::table::{self, IncludeObject};
use serde_json::{Value, json};
use std::sync::Arc;

/// Lists are sent in pieces of about this size, so a large LIST never needs one huge buffer.
const LIST_CHUNK: usize = 64 * 1024;

/// A JSON answer with a status code.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Adds `Warning: 299 - "…"` headers, which kubectl prints as `Warning: …`.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!("299 - \"{}\"", warning.replace('"', "\\\""));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// One object in the shape the client asked for.
pub fn object(
    code: StatusCode,
    rt: &ResourceType,
    obj: Arc<Value>,
    output: Output,
    include: &str,
) -> ApiResult<Response> {
    // A custom resource is answered in the version asked for (see `custom::in_version`).
    let obj = custom::in_version(rt, obj);
    Ok(match output {
        Output::Object => json_response(code, &obj),
        Output::Metadata => json_response(code, &partial_metadata(&obj)),
        Output::Table => {
            let rv = obj["metadata"]["resourceVersion"].clone();
            let table = table::to_table_with(
                rt,
                &[obj],
                json!({"resourceVersion": rv}),
                jiff::Timestamp::now(),
                include_object(include)?,
            );
            json_response(code, &table)
        }
    })
}

/// The answer to a write: the written object in the shape asked for, with the write's warnings.
pub fn written(
    code: StatusCode,
    rt: &ResourceType,
    outcome: Outcome,
    output: Output,
    include: &str,
) -> ApiResult<Response> {
    // A custom resource's stored encoding is in its storage version, not always the one asked for.
    let json = outcome.json.filter(|_| rt.custom.is_none());
    let response = match (output, json) {
        // The store's encoding of this very object: the same bytes a GET answers, not a second
        // encoding (managedFields included, as upstream sends them; kubectl hides them itself).
        (Output::Object, Some(json)) => (code, [(header::CONTENT_TYPE, "application/json")], json).into_response(),
        _ => object(code, rt, outcome.object, output, include)?,
    };
    Ok(with_warnings(response, &outcome.warnings))
}

/// The metadata-only form of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// The rows' `object` form from `?includeObject=`; a bad value is a 400.
pub fn include_object(text: &str) -> ApiResult<IncludeObject> {
    IncludeObject::parse(text).map_err(ApiError::bad_request)
}

/// A list of objects in the shape the client asked for.
/// `json`, when given, holds the items' stored encodings (same order), so they are not encoded again.
pub fn list(
    rt: &ResourceType,
    items: Vec<Arc<Value>>,
    json: Option<Vec<Bytes>>,
    list_meta: Value,
    output: Output,
    include: &str,
) -> ApiResult<Response> {
    let (items, json) = match rt.custom {
        Some(_) => (items.into_iter().map(|o| custom::in_version(rt, o)).collect(), None),
        None => (items, json),
    };
    Ok(match output {
        Output::Table => {
            let table = table::to_table_with(rt, &items, list_meta, jiff::Timestamp::now(), include_object(include)?);
            json_response(StatusCode::OK, &table)
        }
        Output::Metadata => {
            let items: Vec<Value> = items.iter().map(|o| partial_metadata(o)).collect();
            let body = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta, "items": items});
            json_response(StatusCode::OK, &body)
        }
        Output::Object => {
            let head =
                json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": list_meta});
            let json = json.unwrap_or_else(|| {
                items.iter().map(|o| Bytes::from(serde_json::to_vec(o.as_ref()).unwrap_or_default())).collect()
            });
            streamed_list(head, json)
        }
    })
}

/// Writes `{…head…,"items":[…]}` as a stream of chunks.
fn streamed_list(head: Value, items: Vec<Bytes>) -> Response {
    let mut head_text = serde_json::to_string(&head).unwrap_or_else(|_| "{}".into());
    head_text.pop(); // reopen the object to append "items"
    head_text.push_str(",\"items\":[");
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut buffer = head_text.into_bytes();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buffer.push(b',');
        }
        buffer.extend_from_slice(item);
        if buffer.len() >= LIST_CHUNK {
            chunks.push(Bytes::from(std::mem::take(&mut buffer)));
        }
    }
    buffer.extend_from_slice(b"]}");
    chunks.push(Bytes::from(buffer));
    let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::convert::Infallible>));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

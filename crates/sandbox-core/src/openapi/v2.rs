//! The swagger 2.0 document at `/openapi/v2`, for clients that fall back from v3.

use super::paths::{self, Body, Operation, PathItem};
use super::{API_VERSION_INFO, REPLY_TYPES, gvk_extension, reply_def, success_codes};
use crate::registry::Registry;
use crate::schema::{self, defs::REF_PREFIX};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

const V2_PREFIX: &str = "#/definitions/";

fn cached() -> &'static (Value, String) {
    static DOC: OnceLock<(Value, String)> = OnceLock::new();
    DOC.get_or_init(|| {
        let document = build();
        let text = document.to_string();
        (document, text)
    })
}

/// The whole swagger 2.0 document: every served path, every definition.
pub fn v2_document() -> Value {
    cached().0.clone()
}

/// [`v2_document`] already serialized.
pub fn v2_document_text() -> &'static str {
    &cached().1
}

fn build() -> Value {
    let mut path_map = Map::new();
    for rt in Registry::builtin().types() {
        for item in paths::paths_for(rt) {
            path_map.insert(item.path.clone(), path(&item));
        }
    }
    let mut definitions = Value::Object(schema::definitions().schemas.clone());
    rewrite_refs(&mut definitions);
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": API_VERSION_INFO},
        "paths": path_map,
        "definitions": definitions,
    })
}

/// Points `$ref`s at `#/definitions/` instead of the v3 components.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get_mut("$ref")
                && let Some(name) = target.strip_prefix(REF_PREFIX)
            {
                *target = format!("{V2_PREFIX}{name}");
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{V2_PREFIX}{name}")})
}

fn path(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.operations {
        out.insert(op.method.clone(), operation(op));
    }
    let mut params = Vec::new();
    if item.named {
        params.push(json!({"description": "name of the object", "in": "path", "name": "name",
                           "required": true, "type": "string", "uniqueItems": true}));
    }
    if item.namespaced {
        params.push(json!({"description": "object name and auth scope, such as for teams and projects",
                           "in": "path", "name": "namespace", "required": true, "type": "string",
                           "uniqueItems": true}));
    }
    out.insert("parameters".into(), Value::Array(params));
    Value::Object(out)
}

fn operation(op: &Operation) -> Value {
    let table = paths::table();
    let mut parameters: Vec<Value> = op
        .query
        .iter()
        .filter_map(|name| table.parameters.get(name).map(|spec| (name, spec)))
        .map(|(name, spec)| {
            json!({"description": spec.description, "in": "query", "name": name, "type": spec.kind,
                   "uniqueItems": true})
        })
        .collect();
    let consumes: Vec<String> = match op.body {
        Body::None => vec![],
        Body::Patch => table.patch_types.clone(),
        Body::Object | Body::Delete => vec!["*/*".into()],
    };
    let body_def = match op.body {
        Body::None => None,
        Body::Object => Some(op.object_def.as_str()),
        Body::Patch => Some("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"),
        Body::Delete => Some("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
    };
    if let Some(def) = body_def {
        parameters.push(json!({"in": "body", "name": "body", "required": op.body != Body::Delete,
                               "schema": reference(def)}));
    }
    let reply = reference(&reply_def(op));
    let mut responses = Map::new();
    for (code, text) in success_codes(op) {
        responses.insert(code.to_string(), json!({"description": text, "schema": reply}));
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut out = json!({
        "description": op.description,
        "operationId": op.operation_id,
        "parameters": parameters,
        "produces": REPLY_TYPES,
        "responses": responses,
        "schemes": ["https"],
        "tags": [op.tag],
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": gvk_extension(op),
    });
    if let (false, Value::Object(map)) = (consumes.is_empty(), &mut out) {
        map.insert("consumes".into(), json!(consumes));
    }
    out
}

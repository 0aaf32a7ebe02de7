//! The `/openapi/v2` and `/openapi/v3` documents kubectl fetches before `apply`, `diff` and `explain`.
//!
//! Built once from the registry (which paths and verbs), `data/operations.yaml` (how operations
//! look) and the schema module's definitions (what objects look like), then cached with their text.

mod paths;

use crate::registry::Registry;
use crate::schema::{self, defs::REF_PREFIX};
use paths::{Body, Operation, PathItem, Reply};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// The Kubernetes version the documents describe (k8s-openapi's `v1_33` schemas).
const API_VERSION_INFO: &str = "v1.33.0";

/// Media types a reply can be encoded in, as upstream lists them.
const REPLY_TYPES: [&str; 3] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

/// One group version's v3 document with its text and hash.
struct GroupDoc {
    key: String,
    document: Value,
    text: String,
    hash: String,
}

fn group_docs() -> &'static [GroupDoc] {
    static DOCS: OnceLock<Vec<GroupDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        group_versions()
            .into_iter()
            .map(|(group, version)| {
                let key = paths::prefix(&group, &version).trim_start_matches('/').to_string();
                let document = build_group(&group, &version);
                let text = document.to_string();
                let hash = fnv_hex(&text);
                GroupDoc { key, document, text, hash }
            })
            .collect()
    })
}

/// The group versions of the registry, in first-seen order.
fn group_versions() -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = Vec::new();
    for t in Registry::builtin().types() {
        let gv = (t.group.clone(), t.version.clone());
        if !seen.contains(&gv) {
            seen.push(gv);
        }
    }
    seen
}

/// A stable 64-bit FNV-1a hash in upper-case hex: kubectl only uses it as a cache key.
fn fnv_hex(text: &str) -> String {
    format!("{:016X}", crate::digest::fnv1a_64(text.as_bytes()))
}

/// The `/openapi/v3` index: one entry per group version.
pub fn v3_index() -> Value {
    let mut entries = Map::new();
    for doc in group_docs() {
        let url = format!("/openapi/v3/{}?hash={}", doc.key, doc.hash);
        entries.insert(doc.key.clone(), json!({"serverRelativeURL": url}));
    }
    json!({"paths": entries})
}

/// Accepts `api/v1`, `/api/v1`, `/openapi/v3/api/v1` and a trailing `?hash=…`.
fn find_group(path: &str) -> Option<&'static GroupDoc> {
    let path = path.split('?').next().unwrap_or(path);
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("openapi/v3/").unwrap_or(path).trim_end_matches('/');
    group_docs().iter().find(|doc| doc.key == path)
}

/// The document for one group version path, such as `api/v1` or `apis/apps/v1`.
pub fn v3_group(path: &str) -> Option<Value> {
    find_group(path).map(|doc| doc.document.clone())
}

/// [`v3_group`] already serialized, to answer without copying the document.
pub fn v3_group_text(path: &str) -> Option<&'static str> {
    find_group(path).map(|doc| doc.text.as_str())
}

/// The hash the index gives a group version's URL (upstream answers a request whose `hash`
/// matches with `Cache-Control: public, immutable`).
pub fn v3_hash(path: &str) -> Option<&'static str> {
    find_group(path).map(|doc| doc.hash.as_str())
}

fn build_group(group: &str, version: &str) -> Value {
    let mut path_map = Map::new();
    let mut roots = BTreeSet::new();
    for rt in Registry::builtin().types().iter().filter(|t| t.group == group && t.version == version) {
        for item in paths::paths_for(rt) {
            for op in &item.operations {
                roots.insert(op.object_def.clone());
                roots.insert(op.list_def.clone());
            }
            path_map.insert(item.path.clone(), v3_path(&item));
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": API_VERSION_INFO},
        "paths": path_map,
        "components": {"schemas": components(roots)},
    })
}

/// [`components`] for other documents (the custom resources').
pub(crate) fn components_of(roots: BTreeSet<String>) -> Map<String, Value> {
    components(roots)
}

/// The definitions reachable from the given ones, plus those every operation refers to.
fn components(roots: BTreeSet<String>) -> Map<String, Value> {
    let all = &schema::definitions().schemas;
    let mut todo: Vec<String> = roots.into_iter().collect();
    for shared in ["Status", "DeleteOptions", "Patch", "ListMeta", "WatchEvent"] {
        todo.push(format!("io.k8s.apimachinery.pkg.apis.meta.v1.{shared}"));
    }
    let mut out = Map::new();
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(schema) = all.get(&name) else {
            continue;
        };
        collect_refs(schema, &mut todo);
        out.insert(name, schema.clone());
    }
    out
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX)) {
                into.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{name}")})
}

fn path_parameters(item: &PathItem) -> Vec<Value> {
    let mut params = Vec::new();
    let mut path_param = |name: &str, description: &str| {
        params.push(json!({"description": description, "in": "path", "name": name, "required": true,
                           "schema": {"type": "string", "uniqueItems": true}}));
    };
    if item.named {
        path_param("name", "name of the object");
    }
    if item.namespaced {
        path_param("namespace", "object name and auth scope, such as for teams and projects");
    }
    let pretty = &paths::table().parameters["pretty"];
    params.push(json!({"description": pretty.description, "in": "query", "name": "pretty",
                       "schema": {"type": pretty.kind, "uniqueItems": true}}));
    params
}

fn v3_path(item: &PathItem) -> Value {
    let mut out = Map::new();
    for op in &item.operations {
        out.insert(op.method.clone(), v3_operation(op));
    }
    out.insert("parameters".into(), Value::Array(path_parameters(item)));
    Value::Object(out)
}

fn query_parameters(op: &Operation) -> impl Iterator<Item = (&String, &'static paths::ParamSpec)> {
    let table = paths::table();
    op.query.iter().filter_map(move |name| table.parameters.get(name).map(|spec| (name, spec)))
}

fn reply_def(op: &Operation) -> String {
    match op.reply {
        Reply::Object => op.object_def.clone(),
        Reply::List => op.list_def.clone(),
        Reply::Status => "io.k8s.apimachinery.pkg.apis.meta.v1.Status".into(),
    }
}

fn gvk_extension(op: &Operation) -> Value {
    json!({"group": op.gvk.0, "kind": op.gvk.2, "version": op.gvk.1})
}

/// Status codes a successful operation answers with, by method.
fn success_codes(op: &Operation) -> &'static [(&'static str, &'static str)] {
    match op.method.as_str() {
        "post" => &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
        "put" | "patch" => &[("200", "OK"), ("201", "Created")],
        "delete" => &[("200", "OK"), ("202", "Accepted")],
        _ => &[("200", "OK")],
    }
}

fn v3_operation(op: &Operation) -> Value {
    let parameters: Vec<Value> = query_parameters(op)
        .map(|(name, spec)| {
            json!({"description": spec.description, "in": "query", "name": name,
                   "schema": {"type": spec.kind, "uniqueItems": true}})
        })
        .collect();
    let reply = reference(&reply_def(op));
    let content: Map<String, Value> = REPLY_TYPES.iter().map(|t| (t.to_string(), json!({"schema": reply}))).collect();
    let mut responses = Map::new();
    for (code, text) in success_codes(op) {
        responses.insert(code.to_string(), json!({"content": content, "description": text}));
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    let mut out = json!({
        "description": op.description,
        "operationId": op.operation_id,
        "parameters": parameters,
        "responses": responses,
        "tags": [op.tag],
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": gvk_extension(op),
    });
    let body = match op.body {
        Body::None => None,
        Body::Object => Some(json!({"content": {"*/*": {"schema": reference(&op.object_def)}}, "required": true})),
        Body::Delete => Some(json!({"content": {"*/*": {"schema":
            reference("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")}}})),
        Body::Patch => {
            let patch = reference("io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
            let types: Map<String, Value> =
                paths::table().patch_types.iter().map(|t| (t.clone(), json!({"schema": patch}))).collect();
            Some(json!({"content": types, "required": true}))
        }
    };
    if let (Some(body), Value::Object(map)) = (body, &mut out) {
        map.insert("requestBody".into(), body);
    }
    out
}

mod v2;
mod v2_proto;
pub use v2::{v2_document, v2_document_text};
pub use v2_proto::{V2_PROTOBUF, V2_PROTOBUF_REPLY, v2_document_protobuf};

#[cfg(test)]
mod tests;

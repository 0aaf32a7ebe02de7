//! OpenAPI v3 documents for custom resources, one per group version, built from the definitions'
//! schemas: what `kubectl explain <kind>` reads, and what tells `kubectl apply` that the server
//! checks fields itself (a `patch` operation with the kind's `x-kubernetes-group-version-kind` and
//! a `fieldValidation` parameter), so that an unknown field is refused under `--validate=strict`.

use crate::registry::{Registry, ResourceType};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The definition name upstream gives a custom kind: the group reversed, the version, the kind
/// (`com.example.lab.v1.Lesson`).
pub fn definition_name(rt: &ResourceType) -> String {
    let reversed: Vec<&str> = rt.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), rt.version, rt.kind)
}

/// The `apis/{group}/{version}` keys of the custom group versions `registry` serves.
pub fn group_versions(registry: &Registry) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for t in registry.types().iter().filter(|t| t.custom.is_some()) {
        let key = format!("apis/{}/{}", t.group, t.version);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The v3 document of one custom group version (`apis/{group}/{version}`), if served.
pub fn v3_document(registry: &Registry, key: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = registry
        .types()
        .iter()
        .filter(|t| t.custom.is_some() && format!("apis/{}/{}", t.group, t.version) == key)
        .collect();
    if types.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = crate::openapi::components_of(BTreeSet::from([OBJECT_META.to_string()]));
    for rt in types {
        let name = definition_name(rt);
        let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let scoped = if rt.namespaced { "/namespaces/{namespace}" } else { "" };
        let item = format!("/apis/{}/{}{scoped}/{}/{{name}}", rt.group, rt.version, rt.plural);
        paths.insert(item, item_path(&name, &gvk));
        schemas.insert(name, kind_schema(rt, gvk));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

/// The item path's operations: enough for kubectl to see which kind they serve and how it may
/// validate fields.
fn item_path(name: &str, gvk: &Value) -> Value {
    let object = json!({"$ref": format!("{}{name}", crate::schema::defs::REF_PREFIX)});
    let reply = json!({"200": {"description": "OK", "content": {"application/json": {"schema": object}}}});
    let writes = [
        query("dryRun", "When present, indicates that modifications should not be persisted."),
        query("fieldManager", "A name associated with the actor or entity that is making these changes."),
        query("fieldValidation", "How the server handles unknown fields: Ignore, Warn or Strict."),
    ];
    json!({
        "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, "responses": reply},
        "put": {"x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk, "parameters": writes,
                "requestBody": {"content": {"*/*": {"schema": object}}, "required": true}, "responses": reply},
        "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": writes,
                  "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
                                  "required": true},
                  "responses": reply},
    })
}

/// The kind's schema as upstream publishes it: the definition's schema with `apiVersion`, `kind`
/// and `metadata` described, and the kind named in `x-kubernetes-group-version-kind`.
fn kind_schema(rt: &ResourceType, gvk: Value) -> Value {
    let mut schema = rt.custom.as_ref().map(|c| c.schema.clone()).unwrap_or_else(|| json!({"type": "object"}));
    if !schema["properties"].is_object() {
        schema["properties"] = json!({});
    }
    let properties = schema["properties"].as_object_mut().expect("made an object");
    properties.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation \
               of an object."}),
    );
    properties.insert(
        "kind".into(),
        json!({"type": "string", "description": "Kind is a string value representing the REST resource this \
               object represents."}),
    );
    properties.insert(
        "metadata".into(),
        json!({"allOf": [{"$ref": format!("{}{OBJECT_META}", crate::schema::defs::REF_PREFIX)}],
               "description": "Standard object's metadata."}),
    );
    schema["x-kubernetes-group-version-kind"] = json!([gvk]);
    schema
}

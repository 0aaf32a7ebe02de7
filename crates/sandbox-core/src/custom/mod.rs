//! Custom resources: what a CustomResourceDefinition (apiextensions.k8s.io/v1) declares, turned
//! into served types that go through the same paths as the built-in kinds (discovery, CRUD, watch,
//! selectors, tables). The schema work (structural check, pruning, defaults, validation) is in
//! `schema`; keeping the served set in step with the stored definitions is in `serve`.

pub mod openapi;
mod schema;
mod serve;
#[cfg(test)]
mod tests;

pub use schema::{apply_defaults, check_structural, strip_unknown, unknown_fields, validate};
pub use serve::{CLEANUP_FINALIZER, CustomState, definitions, terminating_condition};

use crate::errors::FieldError;
use crate::registry::{Deletion, ResourceType};
use serde_json::Value;
use std::sync::Arc;

/// What one served version of a custom resource declares beyond its names.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomSpec {
    /// The version's `openAPIV3Schema` (`Null` when none).
    pub schema: Value,
    /// `additionalPrinterColumns`, in order.
    pub columns: Vec<PrinterColumn>,
    /// The scale subresource's paths, when declared.
    pub scale: Option<ScalePaths>,
    /// `<group>/<storage version>`: the apiVersion every object of the resource is stored with.
    pub storage_api_version: String,
    /// The storage version's `openAPIV3Schema` (`Null` when none): objects are pruned with it when
    /// stored, and defaulted with it when read back, as upstream's storage codec does.
    pub storage_schema: Value,
}

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    /// The header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date` (shown as an age).
    pub kind: String,
    /// The OpenAPI format, if any.
    pub format: String,
    /// What the column means.
    pub description: String,
    /// 0 = always shown; higher only with `-o wide`.
    pub priority: i64,
    /// A simple JSON path such as `.spec.cronSpec`.
    pub json_path: String,
}

/// Where the scale subresource reads and writes replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    /// e.g. `.spec.replicas`.
    pub spec_replicas: String,
    /// e.g. `.status.replicas`.
    pub status_replicas: String,
    /// e.g. `.status.selector`, if declared.
    pub label_selector: Option<String>,
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The definition's names with upstream's defaults: `singular` is the lowercased kind when unset,
/// `listKind` is the kind followed by `List`. This is what `status.acceptedNames` reports.
pub fn accepted_names(crd: &Value) -> Value {
    let mut names = crd["spec"]["names"].clone();
    let kind = text(&names["kind"]);
    if text(&names["singular"]).is_empty() {
        names["singular"] = Value::String(kind.to_lowercase());
    }
    if text(&names["listKind"]).is_empty() {
        names["listKind"] = Value::String(format!("{kind}List"));
    }
    names
}

/// The types a stored definition serves: one per served version, the storage version first (a
/// resource's storage identity is its first type in the registry).
pub fn types_from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = accepted_names(crd);
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let storage = versions.iter().find(|v| v["storage"].as_bool().unwrap_or(false));
    let storage_version = StorageVersion {
        api_version: format!("{}/{}", text(&spec["group"]), storage.map(|v| text(&v["name"])).unwrap_or_default()),
        schema: storage.map(|v| v["schema"]["openAPIV3Schema"].clone()).unwrap_or_default(),
    };
    let mut served: Vec<&Value> = versions.iter().filter(|v| v["served"].as_bool().unwrap_or(false)).collect();
    served.sort_by_key(|v| !v["storage"].as_bool().unwrap_or(false));
    served.into_iter().map(|version| version_type(spec, &names, version, &storage_version)).collect()
}

/// What every served version needs to know of the storage version.
struct StorageVersion {
    api_version: String,
    schema: Value,
}

/// A stored custom resource as the version `rt` shows it, as upstream's `conversion.strategy:
/// None` (the only one served) reads it: decoded with the storage version's defaults, then only
/// its `apiVersion` changed, and, in another version, pruned with that version's schema; last
/// the version's own defaults, which upstream applies on every read. Other kinds are as stored.
pub fn in_version(rt: &ResourceType, stored: Arc<Value>) -> Arc<Value> {
    let Some(custom) = &rt.custom else { return stored };
    let mut obj = stored.as_ref().clone();
    if !obj.is_object() {
        return stored;
    }
    let api_version = rt.api_version();
    if api_version != custom.storage_api_version {
        schema::default_with(&custom.storage_schema, &mut obj);
        obj["apiVersion"] = Value::String(api_version);
        schema::prune_with(&custom.schema, &mut obj);
    } else {
        obj["apiVersion"] = Value::String(api_version);
    }
    apply_defaults(custom, &mut obj);
    if obj == *stored { stored } else { Arc::new(obj) }
}

/// A custom resource written through any served version, converted to its storage version as
/// upstream stores every object of a resource in one version: the `apiVersion` set, and the
/// fields the storage version's schema does not declare pruned (a field added only in a newer,
/// non-storage version is lost, as on a real cluster with strategy None).
pub fn to_storage_version(rt: &ResourceType, obj: &mut Value) {
    let Some(custom) = &rt.custom else { return };
    if !obj.is_object() || custom.storage_api_version == rt.api_version() {
        return;
    }
    obj["apiVersion"] = Value::String(custom.storage_api_version.clone());
    schema::prune_with(&custom.storage_schema, obj);
}

fn version_type(spec: &Value, names: &Value, version: &Value, storage: &StorageVersion) -> ResourceType {
    let subresources = &version["subresources"];
    let has_status = subresources.get("status").is_some_and(Value::is_object);
    let scale = subresources.get("scale").filter(|s| s.is_object()).map(|s| ScalePaths {
        spec_replicas: text(&s["specReplicasPath"]),
        status_replicas: text(&s["statusReplicasPath"]),
        label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
    });
    let mut subs = Vec::new();
    if has_status {
        subs.push("status".to_string());
    }
    if scale.is_some() {
        subs.push("scale".to_string());
    }
    let schema = version["schema"]["openAPIV3Schema"].clone();
    let columns = version["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| PrinterColumn {
            name: text(&c["name"]),
            kind: text(&c["type"]),
            format: text(&c["format"]),
            description: text(&c["description"]),
            priority: c["priority"].as_i64().unwrap_or(0),
            json_path: text(&c["jsonPath"]),
        })
        .collect();
    ResourceType {
        group: text(&spec["group"]),
        version: text(&version["name"]),
        kind: text(&names["kind"]),
        plural: text(&names["plural"]),
        singular: text(&names["singular"]),
        namespaced: spec["scope"] == "Namespaced",
        short_names: strings(&names["shortNames"]),
        categories: strings(&names["categories"]),
        verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]
            .map(String::from)
            .to_vec(),
        subresources: subs,
        generation_from: generation_paths(&schema, has_status),
        initial_status: None,
        name_label: None,
        deletion: Deletion::default(),
        create_steps: Vec::new(),
        status_also_writes: Vec::new(),
        deprecated: None,
        custom: Some(Arc::new(CustomSpec {
            schema,
            columns,
            scale,
            storage_api_version: storage.api_version.clone(),
            storage_schema: storage.schema.clone(),
        })),
    }
}

/// Upstream bumps a custom resource's generation on every change but to metadata (and to status
/// when the status subresource is on): here, every top-level field the schema names but those.
fn generation_paths(schema: &Value, has_status: bool) -> Vec<String> {
    let mut fields: Vec<String> =
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    for name in ["spec", "status", "data"] {
        if !fields.iter().any(|f| f == name) {
            fields.push(name.to_string());
        }
    }
    let skipped = |f: &str| matches!(f, "apiVersion" | "kind" | "metadata") || (has_status && f == "status");
    fields.retain(|f| !skipped(f));
    fields
}

/// The checks upstream makes on a definition before storing it (names, scope, versions, and a
/// structural schema per version), with upstream's field paths and wording.
pub fn check_crd(crd: &Value, _old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &crd["spec"];
    let (group, plural, kind) = (text(&spec["group"]), text(&spec["names"]["plural"]), text(&spec["names"]["kind"]));
    let name = text(&crd["metadata"]["name"]);
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            Value::String(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid("spec.group", Value::String(group), "should be a domain with at least one dot"));
    }
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    } else if plural != plural.to_lowercase() {
        errs.push(FieldError::invalid(
            "spec.names.plural",
            Value::String(plural),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
        ));
    }
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    match spec["scope"].as_str() {
        Some("Namespaced" | "Cluster") => {}
        None => errs.push(FieldError::required("spec.scope", "")),
        Some(other) => {
            errs.push(FieldError::not_supported("spec.scope", Value::String(other.into()), &["Cluster", "Namespaced"]))
        }
    }
    check_versions(spec, errs);
}

fn check_versions(spec: &Value, errs: &mut Vec<FieldError>) {
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Null,
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let storage = versions.iter().filter(|v| v["storage"].as_bool().unwrap_or(false)).count();
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::Array(versions.clone()),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, version) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        if text(&version["name"]).is_empty() {
            errs.push(FieldError::required(format!("{at}.name"), ""));
        }
        let schema = &version["schema"]["openAPIV3Schema"];
        if schema.is_null() {
            errs.push(FieldError::required(format!("{at}.schema.openAPIV3Schema"), "schemas are required"));
            continue;
        }
        check_structural(schema, &format!("{at}.schema.openAPIV3Schema"), errs);
    }
}

/// The value at a simple dotted path such as `.spec.replicas` (what the scale subresource's paths are).
pub fn value_at<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    path.trim_start_matches('.').split('.').try_fold(obj, |v, key| v.get(key))
}

/// Sets the value at a simple dotted path, making the maps on the way.
pub fn set_value_at(obj: &mut Value, path: &str, value: Value) {
    let mut node = obj;
    for key in path.trim_start_matches('.').split('.') {
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        node = node.as_object_mut().expect("made an object").entry(key).or_insert(Value::Null);
    }
    *node = value;
}

//! The REST paths and operations of served resources, from the registry and `data/operations.yaml`.

use crate::registry::ResourceType;
use crate::schema;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The operations data file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    operations: Vec<OpSpec>,
    subresources: BTreeMap<String, SubSpec>,
    /// Patch content types listed for `patch` operations.
    pub patch_types: Vec<String>,
    /// Query parameters by name.
    pub parameters: BTreeMap<String, ParamSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpSpec {
    path: PathKind,
    verb: String,
    method: String,
    action: String,
    id: String,
    #[serde(default)]
    body: Body,
    reply: Reply,
    description: String,
    query: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct SubSpec {
    suffix: String,
    what: String,
    group: String,
    version: String,
    kind: String,
}

/// A query parameter's type and description.
#[derive(Debug, Deserialize)]
pub struct ParamSpec {
    /// `string`, `integer` or `boolean`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it does.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PathKind {
    Collection,
    Item,
    All,
    Subresource,
}

/// What a request body carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    /// No body.
    #[default]
    None,
    /// The object itself.
    Object,
    /// A patch document.
    Patch,
    /// DeleteOptions.
    Delete,
}

/// What a successful reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// The object.
    Object,
    /// A list of objects.
    List,
    /// A Status.
    Status,
}

/// The parsed operations table.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_norway::from_str(include_str!("data/operations.yaml"))
            .expect("openapi/data/operations.yaml is valid (checked by a unit test)")
    })
}

/// One operation on one path, ready to render in either OpenAPI version.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Lower-case HTTP method: `get`, `post`, ….
    pub method: String,
    /// `x-kubernetes-action`.
    pub action: String,
    /// Upstream-style operationId, e.g. `patchAppsV1NamespacedDeployment`.
    pub operation_id: String,
    /// Human description.
    pub description: String,
    /// The tag, e.g. `apps_v1`.
    pub tag: String,
    /// Query parameter names.
    pub query: Vec<String>,
    /// The request body.
    pub body: Body,
    /// The reply.
    pub reply: Reply,
    /// The group, version and kind the operation serves.
    pub gvk: (String, String, String),
    /// The definition of the object the body and reply carry.
    pub object_def: String,
    /// The definition of its list.
    pub list_def: String,
}

/// One path with its path parameters and operations.
#[derive(Debug, Clone)]
pub struct PathItem {
    /// The URL template, e.g. `/apis/apps/v1/namespaces/{namespace}/deployments/{name}`.
    pub path: String,
    /// Whether `{namespace}` appears.
    pub namespaced: bool,
    /// Whether `{name}` appears.
    pub named: bool,
    /// The operations, in table order.
    pub operations: Vec<Operation>,
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") }
}

/// Upstream's word for a group in operation ids: `Core`, `Apps`, `RbacAuthorization`.
fn group_word(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group.trim_end_matches(".k8s.io").split('.').map(capitalize).collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Upstream's tag for a group version: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
pub fn tag(group: &str, version: &str) -> String {
    let word = group_word(group);
    let mut chars = word.chars();
    let lower: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect();
    format!("{lower}_{version}")
}

/// Every path of a served resource type with the operations its verbs allow.
pub fn paths_for(rt: &ResourceType) -> Vec<PathItem> {
    let table = table();
    let base = prefix(&rt.group, &rt.version);
    let scoped = if rt.namespaced { format!("{base}/namespaces/{{namespace}}") } else { base.clone() };
    let mut items = vec![
        PathItem {
            path: format!("{scoped}/{}", rt.plural),
            namespaced: rt.namespaced,
            named: false,
            operations: vec![],
        },
        PathItem {
            path: format!("{scoped}/{}/{{name}}", rt.plural),
            namespaced: rt.namespaced,
            named: true,
            operations: vec![],
        },
    ];
    if rt.namespaced {
        items.push(PathItem {
            path: format!("{base}/{}", rt.plural),
            namespaced: false,
            named: false,
            operations: vec![],
        });
    }
    let own = (rt.group.as_str(), rt.version.as_str(), rt.kind.as_str());
    for (index, kind) in [PathKind::Collection, PathKind::Item, PathKind::All].into_iter().enumerate() {
        if let Some(item) = items.get_mut(index) {
            item.operations = operations(rt, kind, own, "", "");
        }
    }
    for (name, sub) in &table.subresources {
        if !rt.has_subresource(name) {
            continue;
        }
        let group = if sub.group == "self" { rt.group.as_str() } else { sub.group.as_str() };
        let version = if sub.version == "self" { rt.version.as_str() } else { sub.version.as_str() };
        let kind = if sub.kind == "self" { rt.kind.as_str() } else { sub.kind.as_str() };
        let operations = operations(rt, PathKind::Subresource, (group, version, kind), &sub.suffix, &sub.what);
        items.push(PathItem {
            path: format!("{scoped}/{}/{{name}}/{name}", rt.plural),
            namespaced: rt.namespaced,
            named: true,
            operations,
        });
    }
    items.retain(|item| !item.operations.is_empty());
    items
}

/// The operations of one path kind that the type's verbs allow, for the given body kind.
fn operations(rt: &ResourceType, path: PathKind, gvk: (&str, &str, &str), suffix: &str, what: &str) -> Vec<Operation> {
    let defs = schema::definitions();
    let Some(kind_schema) = defs.kind(gvk.0, gvk.1, gvk.2) else {
        return Vec::new();
    };
    let scope = if rt.namespaced && path != PathKind::All { "Namespaced" } else { "" };
    table()
        .operations
        .iter()
        .filter(|spec| spec.path == path && rt.allows(&spec.verb))
        .map(|spec| Operation {
            method: spec.method.clone(),
            action: spec.action.clone(),
            operation_id: spec
                .id
                .replace("{Group}", &group_word(&rt.group))
                .replace("{Version}", &capitalize(&rt.version))
                .replace("{Scope}", scope)
                .replace("{Kind}", &rt.kind)
                .replace("{Sub}", suffix),
            description: spec.description.replace("{kind}", &rt.kind).replace("{what}", what),
            tag: tag(&rt.group, &rt.version),
            query: spec.query.clone(),
            body: spec.body,
            reply: spec.reply,
            gvk: (gvk.0.to_string(), gvk.1.to_string(), gvk.2.to_string()),
            object_def: kind_schema.name.clone(),
            list_def: kind_schema.list_name.clone(),
        })
        .collect()
}

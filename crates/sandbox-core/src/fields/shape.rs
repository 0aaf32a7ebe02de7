//! What field management needs to know of a type: whether an object is a struct (fields owned one
//! by one), a map (keys owned one by one) or atomic, and how a list's items are told apart. Read
//! from the kinds' OpenAPI schemas plus `data/list_types.yaml` (upstream's list and struct markers);
//! for a custom resource, from its definition's schema and the `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` it carries (the schema is the data).

use crate::registry::ResourceType;
use crate::schema::defs::{definitions, ref_name};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// How the items of a list are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType<'s> {
    /// Replaced whole.
    Atomic,
    /// Plain values, each its own item (`v:`).
    Set,
    /// Objects identified by these key fields (`k:{…}`), names as strings.
    Map(&'s [Value]),
}

/// The shape of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'s> {
    /// A struct of named fields (the name of its definition, when it has one).
    Struct(Option<&'static str>),
    /// A map from any key to values of one shape.
    Map,
    /// Owned whole.
    Atomic,
    /// A list.
    List(ListType<'s>),
    /// A number, string or boolean.
    Scalar,
    /// No schema: objects are maps, lists atomic (upstream's deduced type).
    Deduced,
}

/// A position in a type's schema; cheap to copy. `'s` is the schema's lifetime (a custom
/// resource's lives in its served type).
#[derive(Debug, Clone, Copy)]
pub struct Shape<'s> {
    schema: Option<&'s Value>,
    def: Option<&'static str>,
    list: Option<ListType<'s>>,
    source: Source,
}

/// Where a schema comes from, which says where its list and map types are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A built-in definition: the markers of `list_types.yaml`.
    Builtin,
    /// The root of a custom resource's schema (its `metadata` is upstream's ObjectMeta).
    CustomRoot,
    /// Inside a custom resource's schema: its `x-kubernetes-*` extensions.
    Custom,
}

/// The definition a custom resource's `metadata` is managed by, as upstream's.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Markers {
    lists: BTreeMap<String, BTreeMap<String, ListMarker>>,
    atomic: Vec<String>,
    key_defaults: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ListMarker {
    Keys(Vec<Value>),
    Set(SetWord),
}

/// The one word a list marker may be instead of keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SetWord {
    Set,
}

fn markers() -> &'static Markers {
    static MARKERS: OnceLock<Markers> = OnceLock::new();
    // Part of the crate and parsed by a unit test: a failure is a build defect, not bad input.
    MARKERS.get_or_init(|| serde_norway::from_str(include_str!("data/list_types.yaml")).expect("list_types.yaml"))
}

/// The value a missing key field of a map-list item takes (`protocol: TCP`), if any.
pub fn key_default(field: &str) -> Option<&'static Value> {
    markers().key_defaults.get(field)
}

impl Shape<'static> {
    /// The shape of a kind's objects; a kind without a schema is deduced from its values.
    pub fn for_kind(api_version: &str, kind: &str) -> Shape<'static> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let defs = definitions();
        match defs.kind(group, version, kind) {
            Some(k) => Shape::named(&k.name),
            None => Shape::deduced(),
        }
    }

    fn named(name: &str) -> Shape<'static> {
        let defs = definitions();
        match defs.schemas.get_key_value(name) {
            Some((key, schema)) => {
                Shape { schema: Some(schema), def: Some(key.as_str()), list: None, source: Source::Builtin }
            }
            None => Shape::deduced(),
        }
    }
}

impl<'s> Shape<'s> {
    /// The shape of a served type's objects: a custom resource's from its version's schema, a
    /// built-in kind's from its definition.
    pub fn for_type(rt: &'s ResourceType) -> Shape<'s> {
        match rt.custom.as_deref() {
            Some(custom) if custom.schema.is_object() => {
                Shape { schema: Some(&custom.schema), def: None, list: None, source: Source::CustomRoot }
            }
            Some(_) => Shape::deduced(),
            None => Shape::for_kind(&rt.api_version(), &rt.kind),
        }
    }

    /// The shape of values without a schema.
    pub fn deduced() -> Shape<'s> {
        Shape { schema: None, def: None, list: None, source: Source::Builtin }
    }

    /// Follows references and one-element `allOf`s to the schema that says what the value is.
    fn resolve(schema: &'s Value, list: Option<ListType<'s>>, source: Source) -> Shape<'s> {
        if source == Source::Builtin {
            if let Some(name) = ref_name(schema) {
                return Shape { list, ..Shape::named(name) };
            }
            if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                return Shape::resolve(only, list, source);
            }
        }
        Shape { schema: Some(schema), def: None, list, source }
    }

    /// What the value at this position is.
    pub fn kind(&self) -> Kind<'s> {
        let Some(schema) = self.schema else { return Kind::Deduced };
        if self.source != Source::Builtin {
            return custom_kind(schema);
        }
        if self.def.is_some_and(|d| markers().atomic.iter().any(|a| a == d)) {
            return Kind::Atomic;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") if schema.get("properties").is_some() => Kind::Struct(self.def),
            Some("object") if schema.get("additionalProperties").is_some_and(Value::is_object) => Kind::Map,
            Some("object") => Kind::Atomic,
            Some("array") => Kind::List(self.list.unwrap_or(ListType::Atomic)),
            Some(_) => Kind::Scalar,
            None => Kind::Atomic,
        }
    }

    /// The shape of a struct field or map value.
    pub fn field(&self, name: &str) -> Shape<'s> {
        if self.source == Source::CustomRoot && name == "metadata" {
            return Shape::named(OBJECT_META);
        }
        let Some(schema) = self.schema else { return Shape::deduced() };
        let source = match self.source {
            Source::Builtin => Source::Builtin,
            Source::CustomRoot | Source::Custom => Source::Custom,
        };
        if let Some(property) = schema.get("properties").and_then(|p| p.get(name)) {
            let list =
                self.def.and_then(|d| markers().lists.get(d)).and_then(|fields| fields.get(name)).map(|m| match m {
                    ListMarker::Keys(keys) => ListType::Map(keys.as_slice()),
                    ListMarker::Set(SetWord::Set) => ListType::Set,
                });
            return Shape::resolve(property, list, source);
        }
        match schema.get("additionalProperties") {
            Some(inner) if inner.is_object() => Shape::resolve(inner, None, source),
            _ => Shape::deduced(),
        }
    }

    /// The value a missing key field of this map-list item takes: for a custom resource the
    /// `default` its schema gives the field (upstream defaults before it merges), for a built-in
    /// kind upstream's (`protocol: TCP`).
    pub fn key_default(&self, field: &str) -> Option<&'s Value> {
        match self.source {
            Source::Builtin => key_default(field),
            Source::CustomRoot | Source::Custom => {
                self.schema?.get("properties")?.get(field)?.get("default").filter(|v| !v.is_null())
            }
        }
    }

    /// The shape of a list's items.
    pub fn items(&self) -> Shape<'s> {
        match self.schema.and_then(|s| s.get("items")) {
            Some(items) => Shape::resolve(items, None, self.source),
            None => Shape::deduced(),
        }
    }
}

/// What a node of a custom resource's (structural) schema is, as upstream's structured merge
/// reads it: lists atomic unless `x-kubernetes-list-type` says `set` or `map` (keyed by
/// `x-kubernetes-list-map-keys`), objects granular unless `x-kubernetes-map-type: atomic`, and
/// values that keep unknown fields deduced from what they hold.
fn custom_kind(schema: &Value) -> Kind<'_> {
    let extension = |name: &str| schema.get(name).and_then(Value::as_str);
    let preserved = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    if schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true) {
        return Kind::Scalar;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") if extension("x-kubernetes-map-type") == Some("atomic") => Kind::Atomic,
        Some("object") if schema.get("properties").is_some() => Kind::Struct(None),
        Some("object") if schema.get("additionalProperties").is_some_and(Value::is_object) => Kind::Map,
        Some("object") | None if preserved => Kind::Deduced,
        Some("object") => Kind::Atomic,
        Some("array") => Kind::List(match extension("x-kubernetes-list-type") {
            Some("set") => ListType::Set,
            Some("map") => match schema.get("x-kubernetes-list-map-keys").and_then(Value::as_array) {
                Some(keys) if !keys.is_empty() => ListType::Map(keys.as_slice()),
                // The definition's check refuses a map list without keys; atomic is the safe reading.
                _ => ListType::Atomic,
            },
            _ => ListType::Atomic,
        }),
        Some(_) => Kind::Scalar,
        None => Kind::Atomic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markers_parse_and_name_known_definitions() {
        let defs = definitions();
        for name in markers().lists.keys().chain(markers().atomic.iter()) {
            assert!(defs.schemas.contains_key(name), "{name} is not a definition");
        }
    }

    #[test]
    fn deployments_know_their_structs_maps_and_keyed_lists() {
        let d = Shape::for_kind("apps/v1", "Deployment");
        assert!(matches!(d.kind(), Kind::Struct(Some(_))));
        assert_eq!(d.field("metadata").field("labels").kind(), Kind::Map);
        assert_eq!(d.field("spec").field("selector").kind(), Kind::Atomic);
        assert_eq!(d.field("spec").field("replicas").kind(), Kind::Scalar);
        let pod = d.field("spec").field("template").field("spec");
        let containers = pod.field("containers");
        assert!(matches!(containers.kind(), Kind::List(ListType::Map([name])) if name == "name"));
        assert_eq!(containers.items().field("args").kind(), Kind::List(ListType::Atomic));
        assert!(matches!(containers.items().field("ports").kind(), Kind::List(ListType::Map(keys)) if keys.len() == 2));
        assert_eq!(d.field("metadata").field("finalizers").kind(), Kind::List(ListType::Set));
        assert_eq!(Shape::for_kind("example.com/v1", "Widget").kind(), Kind::Deduced);
    }
}

//! What field management needs to know of a type: whether an object is a struct (fields owned one
//! by one), a map (keys owned one by one) or atomic, and how a list's items are told apart. Read
//! from the kinds' OpenAPI schemas plus `data/list_types.yaml` (upstream's list and struct markers).

use crate::schema::defs::{definitions, ref_name};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// How the items of a list are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole.
    Atomic,
    /// Plain values, each its own item (`v:`).
    Set,
    /// Objects identified by these key fields (`k:{…}`).
    Map(&'static [String]),
}

/// The shape of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A struct of named fields (the name of its definition, when it has one).
    Struct(Option<&'static str>),
    /// A map from any key to values of one shape.
    Map,
    /// Owned whole.
    Atomic,
    /// A list.
    List(ListType),
    /// A number, string or boolean.
    Scalar,
    /// No schema: objects are maps, lists atomic (upstream's deduced type).
    Deduced,
}

/// A position in a type's schema; cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    schema: Option<&'static Value>,
    def: Option<&'static str>,
    list: Option<ListType>,
}

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
    Keys(Vec<String>),
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

impl Shape {
    /// The shape of a kind's objects; a kind without a schema is deduced from its values.
    pub fn for_kind(api_version: &str, kind: &str) -> Shape {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let defs = definitions();
        match defs.kind(group, version, kind) {
            Some(k) => Shape::named(&k.name),
            None => Shape::deduced(),
        }
    }

    /// The shape of values without a schema.
    pub fn deduced() -> Shape {
        Shape { schema: None, def: None, list: None }
    }

    fn named(name: &str) -> Shape {
        let defs = definitions();
        match defs.schemas.get_key_value(name) {
            Some((key, schema)) => Shape { schema: Some(schema), def: Some(key.as_str()), list: None },
            None => Shape::deduced(),
        }
    }

    /// Follows references and one-element `allOf`s to the schema that says what the value is.
    fn resolve(schema: &'static Value, list: Option<ListType>) -> Shape {
        if let Some(name) = ref_name(schema) {
            return Shape { list, ..Shape::named(name) };
        }
        if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            return Shape::resolve(only, list);
        }
        Shape { schema: Some(schema), def: None, list }
    }

    /// What the value at this position is.
    pub fn kind(&self) -> Kind {
        let Some(schema) = self.schema else { return Kind::Deduced };
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
    pub fn field(&self, name: &str) -> Shape {
        let Some(schema) = self.schema else { return Shape::deduced() };
        if let Some(property) = schema.get("properties").and_then(|p| p.get(name)) {
            let list =
                self.def.and_then(|d| markers().lists.get(d)).and_then(|fields| fields.get(name)).map(|m| match m {
                    ListMarker::Keys(keys) => ListType::Map(keys.as_slice()),
                    ListMarker::Set(SetWord::Set) => ListType::Set,
                });
            return Shape::resolve(property, list);
        }
        match schema.get("additionalProperties") {
            Some(inner) if inner.is_object() => Shape::resolve(inner, None),
            _ => Shape::deduced(),
        }
    }

    /// The shape of a list's items.
    pub fn items(&self) -> Shape {
        match self.schema.and_then(|s| s.get("items")) {
            Some(items) => Shape::resolve(items, None),
            None => Shape::deduced(),
        }
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

//! Unit tests of custom resources: types from a definition, the definition's checks, pruning,
//! defaults and validation with upstream's words.

use super::*;
use serde_json::json;

fn crd(schema: Value) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "lessons.lab.example.com"},
        "spec": {
            "group": "lab.example.com", "scope": "Namespaced",
            "names": {"kind": "Lesson", "plural": "lessons", "shortNames": ["lsn"], "categories": ["learning"]},
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": schema.clone()}},
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema},
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.seats",
                                                          "statusReplicasPath": ".status.seats"}}},
            ],
        },
    })
}

fn lesson_schema() -> Value {
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["minutes"], "properties": {
            "level": {"type": "string", "enum": ["basic", "advanced"], "default": "basic"},
            "minutes": {"type": "integer", "minimum": 1, "maximum": 600},
            "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }},
        "status": {"type": "object", "properties": {"seats": {"type": "integer"}}},
    }})
}

fn spec() -> CustomSpec {
    let types = types_from_crd(&crd(lesson_schema()));
    types[0].custom.as_deref().cloned().expect("a custom type")
}

fn messages(obj: Value) -> Vec<String> {
    let mut errs = Vec::new();
    validate(&spec(), &obj, &mut errs);
    errs.iter().map(ToString::to_string).collect()
}

#[test]
fn a_definition_serves_each_version_storage_first_with_its_names() {
    let types = types_from_crd(&crd(lesson_schema()));
    let versions: Vec<&str> = types.iter().map(|t| t.version.as_str()).collect();
    assert_eq!(versions, ["v1", "v1beta1"]);
    let v1 = &types[0];
    assert_eq!((v1.kind.as_str(), v1.plural.as_str(), v1.singular.as_str()), ("Lesson", "lessons", "lesson"));
    assert!(v1.namespaced);
    assert_eq!(v1.short_names, ["lsn"]);
    assert_eq!(v1.categories, ["learning"]);
    assert_eq!(v1.subresources, ["status", "scale"]);
    assert_eq!(v1.generation_from, ["spec", "data"], "status changes never move the generation");
    assert!(types[1].subresources.is_empty());
}

#[test]
fn a_definition_with_a_wrong_name_or_a_non_structural_schema_is_refused_in_upstreams_words() {
    let mut bad = crd(json!({"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}}}}));
    bad["metadata"]["name"] = json!("lessons");
    let mut errs = Vec::new();
    check_crd(&bad, None, &mut errs);
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "metadata.name: Invalid value: \"lessons\": must be spec.names.plural+\".\"+spec.group",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for \
             specified object fields",
            "spec.versions[1].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for \
             specified object fields",
        ]
    );
    let mut errs = Vec::new();
    check_crd(&crd(lesson_schema()), None, &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn unknown_fields_are_pruned_except_where_the_schema_keeps_them() {
    let mut obj = json!({"apiVersion": "lab.example.com/v1", "kind": "Lesson", "metadata": {"name": "a"},
        "spec": {"minutes": 5, "extra": 1, "free": {"anything": true}}, "top": 1});
    let removed = strip_unknown(&spec(), &mut obj);
    assert_eq!(removed, ["spec.extra", "top"]);
    assert_eq!(obj["spec"], json!({"minutes": 5, "free": {"anything": true}}));
    assert_eq!(obj["metadata"]["name"], "a");
}

#[test]
fn defaults_fill_absent_fields_only() {
    let mut obj = json!({"spec": {"minutes": 5}});
    apply_defaults(&spec(), &mut obj);
    assert_eq!(obj["spec"]["level"], "basic");
    let mut obj = json!({"spec": {"minutes": 5, "level": "advanced"}});
    apply_defaults(&spec(), &mut obj);
    assert_eq!(obj["spec"]["level"], "advanced");
}

#[test]
fn violations_are_reported_with_upstreams_field_paths_and_wording() {
    assert_eq!(
        messages(json!({"spec": {"minutes": "long"}})),
        ["spec.minutes: Invalid value: \"string\": spec.minutes in body must be of type integer: \"string\""]
    );
    assert_eq!(messages(json!({"spec": {}})), ["spec.minutes: Required value"]);
    assert_eq!(
        messages(json!({"spec": {"minutes": 0, "level": "expert"}})),
        [
            "spec.level: Unsupported value: \"expert\": supported values: \"basic\", \"advanced\"",
            "spec.minutes: Invalid value: 0: spec.minutes in body should be greater than or equal to 1",
        ]
    );
    assert_eq!(
        messages(json!({"spec": {"minutes": 601, "code": "x1", "tags": [1]}})),
        [
            "spec.code: Invalid value: \"x1\": spec.code in body should match '^[A-Z]{2}-[0-9]+$'",
            "spec.minutes: Invalid value: 601: spec.minutes in body should be less than or equal to 600",
            "spec.tags[0]: Invalid value: \"integer\": spec.tags[0] in body must be of type string: \"integer\"",
        ]
    );
    assert!(messages(json!({"metadata": {"name": "a"}, "spec": {"minutes": 3}})).is_empty());
}

#[test]
fn custom_resources_get_upstreams_default_columns_or_their_printer_columns() {
    let mut plain = spec();
    assert!(plain.columns.is_empty());
    plain.columns.push(PrinterColumn {
        name: "Minutes".into(),
        kind: "integer".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".spec.minutes".into(),
    });
    let mut rt = types_from_crd(&crd(lesson_schema())).remove(0);
    let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
    let obj = std::sync::Arc::new(json!({"metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
                                         "spec": {"minutes": 5}}));
    let table = crate::table::to_table(&rt, std::slice::from_ref(&obj), json!({}), now);
    let names: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Name", "Age"]);
    assert_eq!(table["rows"][0]["cells"], json!(["a", "10m"]));
    rt.custom = Some(std::sync::Arc::new(plain));
    let table = crate::table::to_table(&rt, &[obj], json!({}), now);
    assert_eq!(table["rows"][0]["cells"], json!(["a", 5]));
}

#[test]
fn a_schema_whose_root_is_not_an_object_or_whose_pattern_does_not_compile_is_refused() {
    let mut errs = Vec::new();
    check_structural(&json!({"type": "string", "pattern": "("}), "s", &mut errs);
    let texts: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        texts,
        [
            "s.type: Invalid value: \"string\": must be object at the root",
            "s.pattern: Invalid value: \"(\": must be a valid regular expression, but isn't",
        ]
    );
}

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

/// A definition with two served versions, each with its own schema: v1alpha1 (`minutes` a string,
/// `note` defaulted) and v1, the storage version (`minutes` an integer, `level` defaulted).
fn two_version_crd() -> Value {
    let alpha = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "minutes": {"type": "string"}, "note": {"type": "string", "default": "draft"}}}}});
    let v1 = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "minutes": {"type": "integer"}, "level": {"type": "string", "default": "basic"}}}}});
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "drills.lab.example.com"},
        "spec": {"group": "lab.example.com", "scope": "Namespaced", "names": {"kind": "Drill", "plural": "drills"},
            "versions": [
                {"name": "v1alpha1", "served": true, "storage": false, "schema": {"openAPIV3Schema": alpha}},
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": v1}},
                {"name": "v1beta1", "served": false, "storage": false, "schema": {"openAPIV3Schema": {"type": "object"}}},
            ]},
    })
}

fn served_sandbox(crd: Value) -> (tempfile::TempDir, crate::Sandbox) {
    let (dir, sb) = crate::testing::sandbox();
    sb.create(definitions_type(), None, crd, crate::cluster::WriteOptions::default()).expect("definition stored");
    sb.refresh_custom_types();
    (dir, sb)
}

fn definitions_type() -> &'static crate::registry::ResourceType {
    crate::registry::builtin_type("apiextensions.k8s.io", "customresourcedefinitions")
}

#[test]
fn an_object_is_stored_in_the_storage_version_and_shown_in_the_version_asked_for() {
    use crate::cluster::WriteOptions;
    use crate::lifecycle::UpdateScope;
    let (_dir, sb) = served_sandbox(two_version_crd());
    let registry = sb.registry();
    let alpha = registry.by_plural("lab.example.com", "v1alpha1", "drills").expect("v1alpha1 served");
    let v1 = registry.by_plural("lab.example.com", "v1", "drills").expect("v1 served");
    assert!(registry.by_plural("lab.example.com", "v1beta1", "drills").is_none(), "an unserved version is not served");

    // Written through v1alpha1: checked against v1alpha1's schema (a string is fine) and defaulted
    // by it, then stored as v1, pruned by v1's schema (`note` is v1alpha1's only).
    let sent = json!({"apiVersion": "lab.example.com/v1alpha1", "kind": "Drill",
                      "metadata": {"name": "d"}, "spec": {"minutes": "ten"}});
    let created = sb.create(alpha, Some("default"), sent, WriteOptions::default()).expect("created through v1alpha1");
    assert_eq!(in_version(alpha, created.object)["spec"], json!({"minutes": "ten", "note": "draft"}));
    let stored = sb.get(v1, Some("default"), "d").expect("stored");
    assert_eq!(stored["apiVersion"], "lab.example.com/v1");
    assert_eq!(stored["spec"], json!({"minutes": "ten"}));
    assert_eq!(stored["metadata"]["managedFields"][0]["apiVersion"], "lab.example.com/v1alpha1");

    // Read through each version: the apiVersion changes, the storage version's defaults come
    // first, then the fields the version does not declare go and its own defaults come.
    let as_alpha = in_version(alpha, stored.clone());
    assert_eq!(as_alpha["apiVersion"], "lab.example.com/v1alpha1");
    assert_eq!(as_alpha["spec"], json!({"minutes": "ten", "note": "draft"}), "v1's `level` is not v1alpha1's");
    let as_v1 = in_version(v1, stored.clone());
    assert_eq!(as_v1["apiVersion"], "lab.example.com/v1");
    assert_eq!(as_v1["spec"], json!({"minutes": "ten", "level": "basic"}));
    assert!(std::sync::Arc::ptr_eq(&in_version(v1, as_v1.clone()), &as_v1), "nothing copied when nothing changes");

    // The same object is refused by v1's schema, in upstream's words.
    let err = sb
        .create(
            v1,
            Some("default"),
            json!({"metadata": {"name": "e"}, "spec": {"minutes": "ten"}}),
            WriteOptions::default(),
        )
        .expect_err("v1 wants an integer");
    assert!(err.message.contains("spec.minutes in body must be of type integer"), "{}", err.message);

    // An update through v1alpha1 works on the object as v1alpha1 shows it and stores it as v1.
    let outcome = sb
        .modify(alpha, Some("default"), "d", UpdateScope::Main, WriteOptions::default(), |current| {
            assert_eq!(current["apiVersion"], "lab.example.com/v1alpha1");
            let mut new = current.clone();
            new["spec"]["minutes"] = json!("twenty");
            Ok(new)
        })
        .expect("updated through v1alpha1");
    assert_eq!(outcome.object["apiVersion"], "lab.example.com/v1");
    assert_eq!(outcome.object["spec"]["minutes"], "twenty");

    // A body naming another version than the URL's is refused as upstream refuses it.
    let err = sb
        .create(
            alpha,
            Some("default"),
            json!({"apiVersion": "lab.example.com/v1", "kind": "Drill",
        "metadata": {"name": "f"}}),
            WriteOptions::default(),
        )
        .expect_err("mismatched apiVersion");
    assert!(err.message.contains("does not match the expected API version"), "{}", err.message);
}

#[test]
fn stored_versions_grow_when_the_storage_version_changes_and_discovery_prefers_the_highest() {
    use crate::cluster::WriteOptions;
    use crate::lifecycle::UpdateScope;
    let (_dir, sb) = served_sandbox(two_version_crd());
    let name = "drills.lab.example.com";
    let stored = |sb: &crate::Sandbox| {
        sb.get(definitions_type(), None, name).expect("definition")["status"]["storedVersions"].clone()
    };
    assert_eq!(stored(&sb), json!(["v1"]));
    let groups = sb.registry().groups();
    let (_, versions) = groups.iter().find(|(g, _)| *g == "lab.example.com").expect("group served");
    assert_eq!(versions, &["v1", "v1alpha1"], "v1 is preferred whatever the order of the definition");

    sb.modify(definitions_type(), None, name, UpdateScope::Main, WriteOptions::default(), |crd| {
        let mut crd = crd.clone();
        crd["spec"]["versions"][0]["storage"] = json!(true);
        crd["spec"]["versions"][1]["storage"] = json!(false);
        Ok(crd)
    })
    .expect("storage version moved to v1alpha1");
    sb.refresh_custom_types();
    assert_eq!(stored(&sb), json!(["v1", "v1alpha1"]));
    let v1 = sb.registry().by_plural("lab.example.com", "v1", "drills").expect("v1 still served");
    sb.create(v1, Some("default"), json!({"metadata": {"name": "g"}, "spec": {"minutes": 3}}), WriteOptions::default())
        .expect("created through v1");
    assert_eq!(sb.get(v1, Some("default"), "g").expect("stored")["apiVersion"], "lab.example.com/v1alpha1");
}

#[test]
fn a_deleted_definition_is_held_by_its_cleanup_finalizer_and_refuses_new_resources() {
    use crate::cluster::{DeleteOptions, WriteOptions};
    let (_dir, sb) = served_sandbox(two_version_crd());
    let name = "drills.lab.example.com";
    let v1 = sb.registry().by_plural("lab.example.com", "v1", "drills").expect("v1 served");
    sb.create(v1, Some("default"), json!({"metadata": {"name": "a"}, "spec": {"minutes": 1}}), WriteOptions::default())
        .expect("created");
    let crd = sb.get(definitions_type(), None, name).expect("stored");
    assert!(crd["metadata"].get("finalizers").is_none(), "upstream adds the finalizer at the first delete");

    sb.delete(definitions_type(), None, name, &DeleteOptions::default()).expect("deleted");
    sb.refresh_custom_types();
    let crd = sb.get(definitions_type(), None, name).expect("kept by its finalizer");
    assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
    assert!(crd["metadata"]["deletionTimestamp"].is_string());
    let terminating = crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Terminating");
    assert_eq!(terminating.map(|c| c["reason"].clone()), Some(json!("InstanceDeletionPending")));

    // Still served (the cleanup reads and deletes through it), but nothing new is created.
    let v1 = sb.registry().by_plural("lab.example.com", "v1", "drills").expect("served while terminating");
    assert!(sb.get(v1, Some("default"), "a").is_some());
    let err = sb
        .create(
            v1,
            Some("default"),
            json!({"metadata": {"name": "b"}, "spec": {"minutes": 1}}),
            WriteOptions::default(),
        )
        .expect_err("refused while terminating");
    assert_eq!(err.message, "create not allowed while custom resource definition is terminating");
    assert_eq!(err.reason, crate::errors::Reason::MethodNotAllowed);
}

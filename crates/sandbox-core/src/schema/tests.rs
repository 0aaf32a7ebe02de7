//! Tests for the schema checks: golden files under `testdata/` and a few direct cases.

use super::*;
use crate::registry::Registry;
use serde::Deserialize;
use serde_json::json;

fn rt(api_version: &str, kind: &str) -> &'static ResourceType {
    Registry::builtin().by_kind(api_version, kind).unwrap_or_else(|| panic!("{api_version} {kind} is served"))
}

/// One line per finding (or `ok`) for each document of a YAML stream.
fn report(yaml: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let obj = Value::deserialize(document).expect("test manifests parse");
        if obj.is_null() {
            continue;
        }
        let api_version = obj["apiVersion"].as_str().expect("apiVersion");
        let kind = obj["kind"].as_str().expect("kind");
        let label = format!("{kind} {}", obj["metadata"]["name"].as_str().unwrap_or("?"));
        let rt = rt(api_version, kind);
        let mut found: Vec<String> = unknown_fields(rt, &obj)
            .into_iter()
            .map(|path| format!("{label}: unknown field \"{path}\""))
            .chain(type_errors(rt, &obj).into_iter().map(|e| format!("{label}: {e}")))
            .collect();
        // Key order depends on serde_json's map features; upstream reports in document order.
        found.sort();
        if found.is_empty() {
            found.push(format!("{label}: ok"));
        }
        lines.extend(found);
    }
    lines
}

#[test]
fn golden_manifests_report_exactly_their_expected_findings() {
    let dir = crate::crate_dir().join("src/schema/testdata");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata exists") {
        let input = entry.expect("readable dir").path();
        let Some(stem) = input.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".input.yaml")) else {
            continue;
        };
        let expected_path = dir.join(format!("{stem}.output.txt"));
        let yaml = std::fs::read_to_string(&input).expect("input readable");
        let expected = std::fs::read_to_string(&expected_path).expect("output file next to input");
        let mut expected: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
        expected.sort();
        let mut actual = report(&yaml);
        actual.sort();
        assert_eq!(actual, expected, "{stem}: actual report:\n{}", actual.join("\n"));
        checked += 1;
    }
    assert!(checked >= 3, "the golden files were found");
}

#[test]
fn every_served_kind_has_a_schema() {
    for t in Registry::builtin().types() {
        assert!(has_schema(t), "{} has no schema", t.qualified_kind());
    }
}

#[test]
fn the_custom_types_file_parses_and_names_existing_definitions() {
    #[derive(Deserialize)]
    struct Entry {
        name: String,
    }
    let entries: Vec<Entry> = serde_norway::from_str(include_str!("data/custom_types.yaml")).expect("valid YAML");
    for entry in entries {
        assert!(definitions().schemas.contains_key(&entry.name), "{} is not a definition", entry.name);
    }
}

#[test]
fn several_unknown_fields_are_all_reported_in_one_object() {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "nam": "b"}, "a": 1, "b": 2});
    let mut found = unknown_fields(rt("v1", "ConfigMap"), &obj);
    found.sort();
    assert_eq!(found, ["a", "b", "metadata.nam"]);
}

#[test]
fn free_form_and_map_fields_accept_any_keys() {
    let obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"any-key": "v"}, "annotations": {"x/y": "z"},
                     "managedFields": [{"fieldsV1": {"f:spec": {"f:anything": {}}}}]},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "i",
                 "resources": {"limits": {"example.com/gpu": "1"}}}]}
    });
    assert!(unknown_fields(rt("v1", "Pod"), &obj).is_empty());
    assert!(type_errors(rt("v1", "Pod"), &obj).is_empty());
}

#[test]
fn nulls_are_accepted_wherever_they_appear() {
    let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x",
        "creationTimestamp": null},
                     "spec": {"replicas": null, "template": {"spec": {"containers": null}}}});
    assert!(type_errors(rt("apps/v1", "Deployment"), &obj).is_empty());
}

#[test]
fn a_scale_body_is_checked_against_the_scale_schema() {
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
                       "spec": {"replicas": 3, "replicaz": 1}});
    assert_eq!(unknown_fields_of("autoscaling", "v1", "Scale", &scale), ["spec.replicaz"]);
}

#[test]
fn a_kind_without_a_schema_reports_nothing() {
    let obj = json!({"spec": {"whatever": 1}});
    assert!(unknown_fields_of("example.com", "v1", "Widget", &obj).is_empty());
    assert!(type_errors_of("example.com", "v1", "Widget", &obj).is_empty());
}

#[test]
fn the_deployment_kubectl_generates_passes_both_checks_every_time() {
    let deployment = rt("apps/v1", "Deployment");
    let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x", "labels": {"app": "x"}, "creationTimestamp": null},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "strategy": {},
                 "template": {"metadata": {"labels": {"app": "x"}, "creationTimestamp": null},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:latest", "resources": {}}]}}},
        "status": {}});
    warm_up();
    // The checks keep no state between objects: the hundredth answer is the first one.
    // (What a check costs is measured by the API benchmark, docs/benchmarks.md, not here.)
    for _ in 0..100 {
        assert!(unknown_fields(deployment, &obj).is_empty());
        assert!(type_errors(deployment, &obj).is_empty());
    }
}

#[test]
fn stripping_removes_exactly_the_unknown_fields_at_every_depth() {
    let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labelz": {}},
        "spec": {"replica": 3, "replicas": 2, "template": {"metadata": {"annotations": {"a.b/c": "d"}},
                 "spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "imagee": "busybox"}]}}}});
    let mut removed = strip_unknown_fields(rt("apps/v1", "Deployment"), &mut obj);
    removed.sort();
    assert_eq!(removed, ["metadata.labelz", "spec.replica", "spec.template.spec.containers[1].imagee"]);
    assert_eq!(obj["spec"]["template"]["spec"]["containers"][1], json!({"name": "b"}));
    assert_eq!(obj["spec"]["replicas"], 2);
    assert_eq!(obj["metadata"], json!({"name": "web"}));
    assert_eq!(obj["spec"]["template"]["metadata"]["annotations"]["a.b/c"], "d");
    assert!(unknown_fields(rt("apps/v1", "Deployment"), &obj).is_empty());
}

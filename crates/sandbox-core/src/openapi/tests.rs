//! Tests for the OpenAPI documents: the paths, extensions and schemas kubectl reads.

use super::*;

fn group(path: &str) -> Value {
    v3_group(path).unwrap_or_else(|| panic!("{path} is served"))
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

#[test]
fn the_operations_table_parses_and_names_only_known_parameters() {
    let table = paths::table();
    for item in Registry::builtin().types().iter().flat_map(paths::paths_for) {
        for op in &item.operations {
            for name in &op.query {
                assert!(table.parameters.contains_key(name), "{name} in {} is not described", op.operation_id);
            }
        }
    }
}

#[test]
fn the_index_lists_every_group_version_with_a_stable_hash() {
    let index = v3_index();
    let entries = index["paths"].as_object().expect("paths object");
    for key in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/authentication.k8s.io/v1",
        "apis/authorization.k8s.io/v1",
    ] {
        let url = entries[key]["serverRelativeURL"].as_str().expect("url");
        let hash = v3_hash(key).expect("hash");
        assert_eq!(url, format!("/openapi/v3/{key}?hash={hash}"));
    }
    let group_versions: usize =
        1 + Registry::builtin().groups().iter().map(|(_, versions)| versions.len()).sum::<usize>();
    assert_eq!(entries.len(), group_versions);
    assert_eq!(v3_index(), index, "the same index every time");
    assert_eq!(fnv_hex("kubectl"), fnv_hex("kubectl"));
    assert_ne!(v3_hash("api/v1"), v3_hash("apis/apps/v1"));
}

#[test]
fn group_paths_are_found_in_every_spelling_kubectl_might_use() {
    for spelling in ["apis/apps/v1", "/apis/apps/v1", "/openapi/v3/apis/apps/v1?hash=ABC", "apis/apps/v1/"] {
        assert!(v3_group_text(spelling).is_some(), "{spelling}");
    }
    assert!(v3_group("apis/unknown/v1").is_none());
    assert!(v3_group("api/v2").is_none());
}

#[test]
fn namespaced_paths_carry_every_operation_with_its_gvk_and_action() {
    let doc = group("api/v1");
    let pod = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
    for (method, action) in [("get", "get"), ("put", "put"), ("patch", "patch"), ("delete", "delete")] {
        assert_eq!(pod[method]["x-kubernetes-action"], action, "{method}");
        assert_eq!(pod[method]["x-kubernetes-group-version-kind"], gvk("", "v1", "Pod"));
    }
    let pods = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"];
    assert_eq!(pods["post"]["x-kubernetes-action"], "post");
    assert_eq!(pods["get"]["x-kubernetes-action"], "list");
    assert_eq!(pods["delete"]["x-kubernetes-action"], "deletecollection");
    assert_eq!(pod["patch"]["operationId"], "patchCoreV1NamespacedPod");
    assert_eq!(pods["delete"]["operationId"], "deleteCoreV1CollectionNamespacedPod");
    assert_eq!(doc["paths"]["/api/v1/pods"]["get"]["operationId"], "listCoreV1PodForAllNamespaces");
    assert!(doc["paths"]["/api/v1/pods"].get("post").is_none());
}

#[test]
fn every_patch_operation_accepts_field_validation_dry_run_and_field_manager() {
    for (key, _) in group_versions().iter().map(|(g, v)| (paths::prefix(g, v), ())) {
        let doc = group(&key);
        let mut patches = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let Some(patch) = item.get("patch") else {
                continue;
            };
            patches += 1;
            let names: Vec<&str> =
                patch["parameters"].as_array().expect("params").iter().filter_map(|p| p["name"].as_str()).collect();
            for wanted in ["fieldValidation", "dryRun", "fieldManager"] {
                assert!(names.contains(&wanted), "{path} patch lacks {wanted}");
            }
            assert!(patch["x-kubernetes-group-version-kind"].is_object(), "{path}");
            assert!(patch["requestBody"]["content"]["application/merge-patch+json"].is_object(), "{path}");
        }
        // The review groups serve only `create`.
        let patchable =
            Registry::builtin().types().iter().any(|t| paths::prefix(&t.group, &t.version) == key && t.allows("patch"));
        assert!(patches > 0 || !patchable, "{key} has patch operations");
    }
}

#[test]
fn cluster_scoped_kinds_have_no_namespace_in_their_paths() {
    let doc = group("apis/rbac.authorization.k8s.io/v1");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}"));
    assert!(paths.contains_key("/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles/{name}"));
    assert!(!paths.keys().any(|p| p.contains("namespaces/{namespace}/clusterroles")));
    let names = &paths["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["parameters"];
    assert!(!names.as_array().expect("params").iter().any(|p| p["name"] == "namespace"));
}

#[test]
fn namespaces_have_no_delete_collection_because_the_registry_forbids_it() {
    let doc = group("api/v1");
    assert!(doc["paths"]["/api/v1/namespaces"].get("delete").is_none());
    assert!(doc["paths"]["/api/v1/namespaces/{name}"].get("delete").is_some());
}

#[test]
fn subresources_are_listed_and_scale_speaks_autoscaling_v1() {
    let doc = group("apis/apps/v1");
    let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(scale["patch"]["x-kubernetes-group-version-kind"], gvk("autoscaling", "v1", "Scale"));
    assert_eq!(scale["get"]["operationId"], "readAppsV1NamespacedDeploymentScale");
    let status = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
    assert_eq!(status["put"]["x-kubernetes-group-version-kind"], gvk("apps", "v1", "Deployment"));
    assert!(doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
}

#[test]
fn components_hold_the_kinds_schemas_for_explain() {
    let doc = group("apis/apps/v1");
    let schemas = &doc["components"]["schemas"];
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(deployment["x-kubernetes-group-version-kind"], json!([gvk("apps", "v1", "Deployment")]));
    let spec_ref = deployment["properties"]["spec"]["allOf"][0]["$ref"].as_str().expect("spec ref");
    assert_eq!(spec_ref, "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec");
    let replicas = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"];
    assert_eq!(replicas["type"], "integer");
    assert!(replicas["description"].as_str().expect("text").contains("desired pods"));
    assert!(schemas["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"].is_array());
    // Everything referred to is present, so kubectl can resolve every reference.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for name in refs {
        assert!(schemas.get(&name).is_some(), "{name} is referred to but missing");
    }
    // Only what the group's kinds need: no Pod schema at the top of apps/v1's components.
    assert!(schemas.get("io.k8s.api.core.v1.Pod").is_none());
    assert!(schemas.get("io.k8s.api.core.v1.PodSpec").is_some());
}

#[test]
fn the_v2_document_is_swagger_with_definitions_and_gvk_extensions() {
    let doc = v2_document();
    assert_eq!(doc["swagger"], "2.0");
    let definitions = &doc["definitions"];
    assert_eq!(
        definitions["io.k8s.api.batch.v1.CronJob"]["x-kubernetes-group-version-kind"],
        json!([gvk("batch", "v1", "CronJob")])
    );
    let patch = &doc["paths"]["/apis/batch/v1/namespaces/{namespace}/cronjobs/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"], gvk("batch", "v1", "CronJob"));
    assert!(patch["consumes"].as_array().expect("consumes").iter().any(|c| c == "application/merge-patch+json"));
    assert!(!v2_document_text().contains("#/components/schemas/"), "every reference is rewritten");
    assert!(v2_document_text().contains("\"$ref\":\"#/definitions/io.k8s.api.core.v1.PodSpec\""));
}
#[test]
fn kinds_do_not_require_metadata_but_keep_their_real_required_fields() {
    let doc = group("apis/rbac.authorization.k8s.io/v1");
    let binding = &doc["components"]["schemas"]["io.k8s.api.rbac.v1.ClusterRoleBinding"];
    assert_eq!(binding["required"], json!(["roleRef"]));
    let config_map = &group("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"];
    assert!(config_map.get("required").is_none());
}

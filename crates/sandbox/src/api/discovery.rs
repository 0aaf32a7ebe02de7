//! Discovery: `/version`, `/api`, `/apis` and the per-group-version resource lists kubectl caches.

use gitops_sandbox_core::registry::{Registry, ResourceType};
use serde_json::{Value, json};

/// The Kubernetes release the sandbox reports: the same minor as the kubectl it is tested with, so
/// kubectl's dispatcher picks a matching client and prints no version-skew warning.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "gitops-lab-sandbox",
        "gitTreeState": "clean", "buildDate": "2026-11-26T00:00:00Z", "goVersion": "go1.23.8",
        "compiler": "gc", "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
}

fn group_entry(name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

/// `GET /apis`.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry.groups().iter().map(|(name, versions)| group_entry(name, versions)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`, if the group is served.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (name, versions) = registry.groups().into_iter().find(|(g, _)| *g == name)?;
    let mut entry = group_entry(name, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// `GET /api/v1` or `/apis/{group}/{version}`, if served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> =
        registry.types().iter().filter(|t| t.group == group && t.version == version).collect();
    let first = types.first()?;
    let mut resources = Vec::new();
    for t in &types {
        resources.push(json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced, "kind": t.kind,
            "verbs": t.verbs, "shortNames": t.short_names, "categories": t.categories,
        }));
        for sub in &t.subresources {
            resources.push(subresource_entry(t, sub));
        }
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": first.api_version(),
            "resources": resources}))
}

/// What each subresource looks like in discovery: its kind and verbs.
fn subresource_entry(t: &ResourceType, sub: &str) -> Value {
    let name = format!("{}/{sub}", t.plural);
    match sub {
        "scale" => json!({"name": name, "singularName": "", "namespaced": t.namespaced, "group": "autoscaling",
                          "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}),
        "exec" | "portforward" | "attach" => json!({"name": name, "singularName": "", "namespaced": t.namespaced,
                          "kind": format!("Pod{}Options", capitalised(sub)), "verbs": ["create", "get"]}),
        "token" => {
            json!({"name": name, "singularName": "", "namespaced": t.namespaced, "group": "authentication.k8s.io",
                          "version": "v1", "kind": "TokenRequest", "verbs": ["create"]})
        }
        "log" => {
            json!({"name": name, "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get"]})
        }
        _ => json!({"name": name, "singularName": "", "namespaced": t.namespaced, "kind": t.kind,
                    "verbs": ["get", "patch", "update"]}),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_lists_deployments_with_short_names_categories_and_scale() {
        let list = resource_list(Registry::builtin(), "apps", "v1").unwrap();
        let resources = list["resources"].as_array().unwrap();
        let deploy = resources.iter().find(|r| r["name"] == "deployments").unwrap();
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["categories"], json!(["all"]));
        let scale = resources.iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!((scale["group"].as_str(), scale["kind"].as_str()), (Some("autoscaling"), Some("Scale")));
    }

    #[test]
    fn the_group_list_names_each_served_group_once() {
        let list = group_list(Registry::builtin());
        let names: Vec<&str> = list["groups"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
        let upstream_order = [
            "apps",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "apiextensions.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "discovery.k8s.io",
        ];
        assert_eq!(names, upstream_order);
    }

    #[test]
    fn the_version_matches_kubectl_1_32() {
        assert_eq!(version()["minor"], "32");
    }
}

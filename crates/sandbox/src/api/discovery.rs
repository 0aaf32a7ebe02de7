//! Discovery: `/version`, `/api`, `/apis` and the per-group-version resource lists kubectl caches,
//! and the aggregated form of `/api` and `/apis` (every group, version and resource in one answer)
//! that kubectl 1.32 asks for first.

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

/// The media type of aggregated discovery, as kubectl asks for it and as the answer must name it.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether an `Accept` header prefers aggregated discovery (v2) to the plain lists: the first media
/// type the sandbox can answer decides, as the client lists them in its order of preference.
pub fn prefers_aggregated(accept: &str) -> bool {
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.filter(|p| !p.starts_with("q=")).collect();
        match essence {
            "application/json" if params.is_empty() => return false,
            "application/json"
                if ["g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"].iter().all(|p| params.contains(p)) =>
            {
                return true;
            }
            "*/*" | "application/*" => return false,
            // Another version (v2beta1), protobuf: not answered in that form, try the next.
            _ => {}
        }
    }
    false
}

/// `GET /api` (`core`) or `/apis` in the aggregated form: each group with its versions, preferred
/// first, each version with all its resources and their subresources.
pub fn aggregated(registry: &Registry, core: bool) -> Value {
    let groups = match core {
        true => vec![("", vec!["v1"])],
        false => registry.groups(),
    };
    let items: Vec<Value> = groups
        .iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|version| {
                    let served = registry.types().iter().filter(|t| t.group == *group && t.version == *version);
                    let resources: Vec<Value> = served.map(aggregated_resource).collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            let metadata = match core {
                true => json!({"creationTimestamp": null}),
                false => json!({"name": group, "creationTimestamp": null}),
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// One resource of the aggregated form; its subresources say what they answer with as the plain
/// list does (no group or version: the resource's own).
fn aggregated_resource(t: &ResourceType) -> Value {
    let subresources: Vec<Value> = t
        .subresources
        .iter()
        .map(|sub| {
            let entry = subresource_entry(t, sub);
            let kind = json!({
                "group": entry["group"].as_str().unwrap_or_default(),
                "version": entry["version"].as_str().unwrap_or_default(),
                "kind": entry["kind"],
            });
            json!({"subresource": sub, "responseKind": kind, "verbs": entry["verbs"]})
        })
        .collect();
    let mut resource = json!({
        "resource": t.plural,
        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular,
        "verbs": t.verbs,
    });
    // Empty lists are left out, as upstream's encoder does.
    for (field, list) in [("shortNames", json!(t.short_names)), ("categories", json!(t.categories))] {
        if list.as_array().is_some_and(|items| !items.is_empty()) {
            resource[field] = list;
        }
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
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
    fn kubectls_accept_header_gets_the_aggregated_form_and_plain_json_the_lists() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(prefers_aggregated(kubectl));
        assert!(!prefers_aggregated("application/json"));
        assert!(!prefers_aggregated(""));
        assert!(!prefers_aggregated(
            "application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ));
        assert!(!prefers_aggregated("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,*/*"));
    }

    #[test]
    fn the_aggregated_form_holds_what_the_lists_hold() {
        let registry = Registry::builtin();
        let apis = aggregated(registry, false);
        let names: Vec<&str> =
            apis["items"].as_array().unwrap().iter().filter_map(|g| g["metadata"]["name"].as_str()).collect();
        let listed = group_list(registry);
        let listed: Vec<&str> =
            listed["groups"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
        assert_eq!(names, listed);
        let apps = apis["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
        let resources = apps["versions"][0]["resources"].as_array().unwrap();
        let plain = resource_list(registry, "apps", "v1").unwrap();
        let plain_top =
            plain["resources"].as_array().unwrap().iter().filter(|r| !r["name"].as_str().unwrap().contains('/'));
        assert_eq!(resources.len(), plain_top.count());
        let deploy = resources.iter().find(|r| r["resource"] == "deployments").unwrap();
        assert_eq!(deploy["responseKind"], json!({"group": "apps", "version": "v1", "kind": "Deployment"}));
        assert_eq!((deploy["scope"].as_str(), deploy["shortNames"].clone()), (Some("Namespaced"), json!(["deploy"])));
        let scale = deploy["subresources"].as_array().unwrap().iter().find(|s| s["subresource"] == "scale").unwrap();
        assert_eq!(scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
        let core = aggregated(registry, true);
        let pods = core["items"][0]["versions"][0]["resources"].as_array().unwrap();
        let namespaces = pods.iter().find(|r| r["resource"] == "namespaces").unwrap();
        assert_eq!((namespaces["scope"].as_str(), namespaces["shortNames"].clone()), (Some("Cluster"), json!(["ns"])));
        assert!(core["items"][0]["metadata"].get("name").is_none(), "the core group has no name");
    }

    #[test]
    fn the_version_matches_kubectl_1_32() {
        assert_eq!(version()["minor"], "32");
    }
}

//! The resource types the sandbox serves, loaded from `data/resources.yaml`.

use serde::Deserialize;
use std::sync::OnceLock;

/// One served kind: how discovery names it and how its URLs are built.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// The object kind, e.g. `Deployment`.
    pub kind: String,
    /// The URL segment, e.g. `deployments`.
    pub plural: String,
    /// The singular name kubectl accepts, e.g. `deployment`.
    pub singular: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Short names such as `deploy`.
    #[serde(default)]
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Verbs allowed on the collection and its objects.
    #[serde(default = "standard_verbs")]
    pub verbs: Vec<String>,
    /// Subresources: `status`, `scale`, ….
    #[serde(default)]
    pub subresources: Vec<String>,
    /// Dotted paths whose change bumps `metadata.generation`; empty = the kind keeps no generation.
    #[serde(default)]
    pub generation_from: Vec<String>,
    /// The status a newly created object starts with, for kinds with a status subresource.
    #[serde(default)]
    pub initial_status: Option<serde_json::Value>,
    /// A label the server keeps equal to the object's name (namespaces get `kubernetes.io/metadata.name`).
    #[serde(default)]
    pub name_label: Option<String>,
    /// How a DELETE of this kind proceeds.
    #[serde(default)]
    pub deletion: Deletion,
    /// Server steps on create beyond defaults and validation.
    #[serde(default)]
    pub create_steps: Vec<CreateStep>,
    /// Dotted paths a write to the `status` subresource may change besides `status`.
    #[serde(default)]
    pub status_also_writes: Vec<String>,
    /// The warning every request to a deprecated kind gets (`v1 ComponentStatus is deprecated in v1.19+`).
    #[serde(default)]
    pub deprecated: Option<String>,
    /// For a custom resource, what its CustomResourceDefinition declares (schema, columns,
    /// subresources); `None` for the built-in kinds.
    #[serde(skip)]
    pub custom: Option<std::sync::Arc<crate::custom::CustomSpec>>,
}

/// A step the server takes when an object of a kind is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CreateStep {
    /// Mount the ServiceAccount's API credentials into every container (pods).
    MountServiceAccount,
    /// Give the object a cluster IP and node ports (services).
    AllocateAddresses,
    /// Take the priority of the PriorityClass named, or of the global default (pods).
    ResolvePriority,
}

/// How objects of a kind are deleted.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Deletion {
    /// The way a DELETE proceeds.
    #[serde(default)]
    pub style: DeletionStyle,
    /// Names that may never be deleted (the built-in namespaces).
    #[serde(default)]
    pub protected: Vec<String>,
    /// A finalizer the first DELETE puts on the object, so that it stays until a controller has
    /// cleaned up after it (`customresourcecleanup.apiextensions.k8s.io` on a definition).
    #[serde(default)]
    pub finalizer: Option<String>,
}

/// The ways a DELETE proceeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeletionStyle {
    /// Removed at once (unless finalizers hold it).
    #[default]
    Immediate,
    /// Bound to a node: marked with its grace period; the node removes it after stopping it.
    Graceful,
    /// Marked Terminating; its controller empties it, then removes it (namespaces).
    Terminating,
}

fn standard_verbs() -> Vec<String> {
    ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map(String::from).to_vec()
}

impl ResourceType {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The group-qualified resource name used in error messages: `pods`, `deployments.apps`.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// The group-qualified kind used in Invalid messages: `Pod`, `Deployment.apps`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) }
    }

    /// Whether the verb is served for this type.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// Whether the named subresource is served for this type.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }

    /// The stable identity of this type, used as a storage prefix.
    pub fn id(&self) -> ResourceId {
        ResourceId { group: self.group.clone(), plural: self.plural.clone() }
    }
}

/// A resource type's identity: group and plural name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    /// API group; empty for core.
    pub group: String,
    /// Plural resource name.
    pub plural: String,
}

/// All served types, in discovery order.
#[derive(Debug)]
pub struct Registry {
    types: Vec<ResourceType>,
}

/// A built-in type by group and plural, for code that names the types it works on (controllers,
/// the node, events). The names are constants of that code, run by its tests: one that is not
/// served is a bug, and panics at its first use.
pub fn builtin_type(group: &str, plural: &str) -> &'static ResourceType {
    // Indexed once: controllers ask this for every change the store publishes (a scan of every
    // type's names was a few percent of a write's CPU).
    type Index = std::collections::HashMap<(&'static str, &'static str), &'static ResourceType>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index: &std::collections::HashMap<(&str, &str), &'static ResourceType> = INDEX.get_or_init(|| {
        // Reversed, so that the first of two same-named types wins, as with the scan it replaced.
        Registry::builtin().types().iter().rev().map(|t| ((t.group.as_str(), t.plural.as_str()), t)).collect()
    });
    index.get(&(group, plural)).copied().unwrap_or_else(|| panic!("the built-in registry serves {plural}"))
}

impl Registry {
    /// The built-in registry, parsed once from the embedded data file.
    pub fn builtin() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| {
            let types: Vec<ResourceType> = serde_norway::from_str(include_str!("data/resources.yaml"))
                .expect("data/resources.yaml is valid (checked by a unit test)");
            Registry { types }
        })
    }

    /// The built-in types followed by `custom` (the served custom resources), as a registry that
    /// lives as long as the process: requests hold `&'static` types. Each call leaks one small
    /// registry, so callers build one only when the set of custom types changes.
    pub fn with_custom(custom: &[ResourceType]) -> &'static Registry {
        let types = Registry::builtin().types.iter().chain(custom).cloned().collect();
        Box::leak(Box::new(Registry { types }))
    }

    /// Every served type.
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `/{group}/{version}/{plural}`.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The type of an object with this apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.api_version() == api_version && t.kind == kind)
    }

    /// The type with this storage identity (its first, stored version when several are served).
    pub fn by_id(&self, id: &ResourceId) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == id.group && t.plural == id.plural)
    }

    /// The distinct API groups other than core, in first-seen order, with their versions.
    pub fn groups(&self) -> Vec<(&str, Vec<&str>)> {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) if !versions.contains(&t.version.as_str()) => versions.push(&t.version),
                Some(_) => {}
                None => groups.push((&t.group, vec![&t.version])),
            }
        }
        // Preferred first, as upstream's discovery orders a group's versions.
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| version_priority(v));
        }
        groups
    }
}

/// Kubernetes' version order, as a sort key (smaller first): GA versions, then betas, then
/// alphas, each by major then minor number from the highest; any other name after them, in
/// alphabetical order. `v2 < v1 < v1beta2 < v1beta1 < v1alpha1 < foo`.
pub fn version_priority(version: &str) -> (u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, String) {
    use std::cmp::Reverse;
    let other = (3, Reverse(0), Reverse(0), version.to_string());
    let Some(rest) = version.strip_prefix('v') else { return other };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (major, rest) = rest.split_at(digits);
    let Ok(major) = major.parse::<u64>() else { return other };
    if rest.is_empty() {
        return (0, Reverse(major), Reverse(0), String::new());
    }
    let (rank, minor) = match (rest.strip_prefix("beta"), rest.strip_prefix("alpha")) {
        (Some(minor), _) => (1, minor),
        (_, Some(minor)) => (2, minor),
        _ => return other,
    };
    match minor.parse::<u64>() {
        Ok(n) if minor.bytes().all(|b| b.is_ascii_digit()) => (rank, Reverse(major), Reverse(n), String::new()),
        _ => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_registry_parses_and_finds_deployments() {
        let registry = Registry::builtin();
        let deployments = registry.by_plural("apps", "v1", "deployments").expect("deployments served");
        assert_eq!(deployments.kind, "Deployment");
        assert_eq!(deployments.short_names, ["deploy"]);
        assert!(deployments.has_subresource("scale"));
        assert_eq!(deployments.qualified_plural(), "deployments.apps");
        assert_eq!(registry.by_kind("v1", "Pod").unwrap().plural, "pods");
    }

    #[test]
    fn versions_sort_in_kubernetes_priority_order() {
        let mut versions = ["v1alpha1", "foo", "v1beta1", "v1", "v2", "v1beta2", "v10", "v1alpha", "bar", "v2alpha1"];
        versions.sort_by_key(|v| version_priority(v));
        assert_eq!(
            versions,
            ["v10", "v2", "v1", "v1beta2", "v1beta1", "v2alpha1", "v1alpha1", "bar", "foo", "v1alpha"]
        );
    }

    #[test]
    fn every_type_has_a_unique_plural_per_group_version() {
        let registry = Registry::builtin();
        let mut seen = std::collections::HashSet::new();
        for t in registry.types() {
            assert!(seen.insert((t.id(), t.version.clone())), "{} listed twice", t.qualified_plural());
        }
        // A second version of a resource shares the first one's storage: by_id finds the first.
        let hpa = registry.by_id(&registry.by_plural("autoscaling", "v1", "horizontalpodautoscalers").unwrap().id());
        assert_eq!(hpa.map(|t| t.version.as_str()), Some("v2"));
    }

    #[test]
    fn pods_are_deleted_gracefully_and_namespaces_by_termination() {
        let registry = Registry::builtin();
        assert_eq!(registry.by_plural("", "v1", "pods").unwrap().deletion.style, DeletionStyle::Graceful);
        let ns = registry.by_plural("", "v1", "namespaces").unwrap();
        assert_eq!(ns.deletion.style, DeletionStyle::Terminating);
        assert!(ns.deletion.protected.iter().any(|n| n == "kube-system"));
        assert_eq!(registry.by_plural("", "v1", "configmaps").unwrap().deletion.style, DeletionStyle::Immediate);
    }

    #[test]
    fn namespaces_cannot_be_deleted_as_a_collection() {
        let ns = builtin_type("", "namespaces");
        assert!(!ns.allows("deletecollection"));
        assert!(ns.allows("watch"));
    }
}

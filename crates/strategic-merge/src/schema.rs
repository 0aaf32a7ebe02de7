//! Merge metadata per kind, loaded from `data/merge_keys.yaml`, and lookups by field path.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The built-in metadata, embedded at compile time.
const BUILTIN: &str = include_str!("data/merge_keys.yaml");

/// How a strategic merge patch treats one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PatchStrategy {
    /// Objects merge key by key; lists are atomic (replaced whole).
    #[default]
    Default,
    /// A list merged item by item: by merge key for objects, as a set for plain values.
    Merge,
    /// An object replaced whole instead of merged.
    Replace,
}

/// The patch metadata of one field, as upstream's `patchStrategy` and
/// `patchMergeKey` struct tags give it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMeta {
    /// How the field is merged.
    #[serde(default)]
    pub strategy: PatchStrategy,
    /// The item field identifying an item of a merged list of objects.
    #[serde(default)]
    pub merge_key: Option<String>,
    /// Whether keys missing from a `$retainKeys` directive are cleared (inside
    /// each item, for a list).
    #[serde(default)]
    pub retain_keys: bool,
    /// The named shape of the value (of each item, for a list).
    #[serde(default, rename = "type")]
    pub type_name: Option<String>,
}

/// One kind's entry in the data file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KindEntry {
    api_version: String,
    kind: String,
    #[serde(rename = "type")]
    type_name: String,
}

/// The whole data file: kinds, and the shapes they refer to by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    kinds: Vec<KindEntry>,
    types: BTreeMap<String, BTreeMap<String, FieldMeta>>,
}

/// Fields of one shape; `None` for values without metadata.
type Shape = Option<&'static BTreeMap<String, FieldMeta>>;

/// Field metadata shared by every field without an entry.
static PLAIN: FieldMeta =
    FieldMeta { strategy: PatchStrategy::Default, merge_key: None, retain_keys: false, type_name: None };

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    // The file is part of the crate and a test parses and checks it, so a
    // failure here is a build defect rather than bad input.
    CATALOG.get_or_init(|| serde_norway::from_str(BUILTIN).expect("merge_keys.yaml is valid"))
}

/// The merge metadata of one kind, or of one value inside it.
///
/// Cheap to copy. A schema without data (an unknown kind) merges objects key by
/// key and replaces every list, like a JSON merge patch.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeSchema {
    shape: Shape,
}

impl MergeSchema {
    /// The schema of a kind, e.g. `("apps/v1", "Deployment")`; a kind without
    /// data gets [`MergeSchema::atomic`].
    pub fn for_kind(api_version: &str, kind: &str) -> MergeSchema {
        let catalog = catalog();
        let entry = catalog.kinds.iter().find(|k| k.api_version == api_version && k.kind == kind);
        match entry {
            Some(entry) => MergeSchema::named(&entry.type_name),
            None => MergeSchema::atomic(),
        }
    }

    /// The schema without data: maps merge, lists are replaced whole.
    pub fn atomic() -> MergeSchema {
        MergeSchema { shape: None }
    }

    /// Whether this schema carries any metadata.
    pub fn has_data(&self) -> bool {
        self.shape.is_some()
    }

    /// The metadata of the field at a dotted path, e.g.
    /// `spec.template.spec.containers[].ports`; `[]` after a segment steps into
    /// the list's items (optional: a list's shape is its items' shape).
    /// Fields without an entry answer the plain default.
    pub fn field_meta(&self, path: &str) -> FieldMeta {
        let mut node = *self;
        let mut meta = &PLAIN;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            let name = segment.trim_end_matches("[]");
            let (field, child) = node.field(name);
            meta = field;
            node = child;
        }
        meta.clone()
    }

    /// The metadata of a direct field and the schema of its value (of its items,
    /// for a list).
    pub(crate) fn field(&self, name: &str) -> (&'static FieldMeta, MergeSchema) {
        let meta = self.shape.and_then(|fields| fields.get(name)).unwrap_or(&PLAIN);
        let child = meta.type_name.as_deref().map(MergeSchema::named).unwrap_or_default();
        (meta, child)
    }

    /// The schema of a named shape; an unknown name has no data.
    fn named(name: &str) -> MergeSchema {
        MergeSchema { shape: catalog().types.get(name) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(api_version: &str, kind: &str, path: &str) -> FieldMeta {
        MergeSchema::for_kind(api_version, kind).field_meta(path)
    }

    fn merged_by(key: &str) -> FieldMeta {
        FieldMeta { strategy: PatchStrategy::Merge, merge_key: Some(key.into()), ..FieldMeta::default() }
    }

    #[test]
    fn every_type_a_field_or_kind_names_exists() {
        let catalog = catalog();
        for kind in &catalog.kinds {
            assert!(catalog.types.contains_key(&kind.type_name), "{} {}", kind.kind, kind.type_name);
        }
        for (shape, fields) in &catalog.types {
            for (field, meta) in fields {
                if let Some(name) = &meta.type_name {
                    assert!(catalog.types.contains_key(name), "{shape}.{field} -> {name}");
                }
            }
        }
    }

    #[test]
    fn merged_lists_of_objects_name_a_key_and_keys_only_come_with_merge() {
        for (shape, fields) in &catalog().types {
            for (field, meta) in fields {
                if meta.merge_key.is_some() {
                    assert_eq!(meta.strategy, PatchStrategy::Merge, "{shape}.{field}");
                }
            }
        }
    }

    #[test]
    fn deployment_pod_template_containers_merge_by_name() {
        assert_eq!(meta("apps/v1", "Deployment", "spec.template.spec.containers"), {
            FieldMeta { type_name: Some("Container".into()), ..merged_by("name") }
        });
    }

    #[test]
    fn container_ports_resolve_through_the_pod_template_with_or_without_brackets() {
        for path in ["spec.template.spec.containers[].ports", "spec.template.spec.containers.ports"] {
            assert_eq!(meta("apps/v1", "Deployment", path), merged_by("containerPort"));
        }
    }

    #[test]
    fn cronjob_reaches_the_pod_template_through_the_job_template() {
        let path = "spec.jobTemplate.spec.template.spec.containers[].env";
        assert_eq!(meta("batch/v1", "CronJob", path), merged_by("name"));
    }

    #[test]
    fn pod_container_lists_and_fields_carry_upstream_keys() {
        let cases = [
            ("spec.initContainers[].volumeMounts", "mountPath"),
            ("spec.ephemeralContainers[].volumeDevices", "devicePath"),
            ("spec.imagePullSecrets", "name"),
            ("spec.hostAliases", "ip"),
            ("spec.topologySpreadConstraints", "topologyKey"),
            ("status.conditions", "type"),
            ("status.podIPs", "ip"),
        ];
        for (path, key) in cases {
            assert_eq!(meta("v1", "Pod", path).merge_key.as_deref(), Some(key), "{path}");
        }
    }

    #[test]
    fn volumes_and_resource_claims_merge_by_name_and_retain_keys() {
        for path in ["spec.volumes", "spec.resourceClaims"] {
            let volumes = meta("v1", "Pod", path);
            assert_eq!(volumes.merge_key.as_deref(), Some("name"));
            assert!(volumes.retain_keys);
        }
    }

    #[test]
    fn tolerations_and_args_are_atomic() {
        assert_eq!(meta("v1", "Pod", "spec.tolerations"), FieldMeta::default());
        assert_eq!(meta("v1", "Pod", "spec.containers[].args"), FieldMeta::default());
    }

    #[test]
    fn deployment_strategy_retains_keys_without_merging() {
        let strategy = meta("apps/v1", "Deployment", "spec.strategy");
        assert!(strategy.retain_keys);
        assert_eq!(strategy.strategy, PatchStrategy::Default);
    }

    #[test]
    fn service_ports_merge_by_port_and_service_account_secrets_by_name() {
        assert_eq!(meta("v1", "Service", "spec.ports"), merged_by("port"));
        assert_eq!(meta("v1", "ServiceAccount", "secrets"), merged_by("name"));
        assert_eq!(meta("v1", "ServiceAccount", "imagePullSecrets"), FieldMeta::default());
    }

    #[test]
    fn metadata_owner_references_merge_by_uid_and_finalizers_as_a_set() {
        for (api_version, kind) in [("v1", "ConfigMap"), ("rbac.authorization.k8s.io/v1", "Role")] {
            assert_eq!(meta(api_version, kind, "metadata.ownerReferences"), merged_by("uid"));
            let finalizers = meta(api_version, kind, "metadata.finalizers");
            assert_eq!(finalizers.strategy, PatchStrategy::Merge);
            assert_eq!(finalizers.merge_key, None);
        }
    }

    #[test]
    fn node_status_lists_merge_by_type() {
        assert_eq!(meta("v1", "Node", "status.addresses"), merged_by("type"));
        assert_eq!(meta("v1", "Node", "spec.podCIDRs").strategy, PatchStrategy::Merge);
    }

    #[test]
    fn an_unknown_kind_has_no_data_and_every_field_is_plain() {
        let schema = MergeSchema::for_kind("example.com/v1", "Widget");
        assert!(!schema.has_data());
        assert_eq!(schema.field_meta("metadata.finalizers"), FieldMeta::default());
    }
}

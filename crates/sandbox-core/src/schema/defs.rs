//! The kinds' OpenAPI 3 schemas, generated once from k8s-openapi's types.

use k8s_openapi::Resource;
use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, discovery, networking, policy, rbac,
    scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// Where a `$ref` points in the OpenAPI 3 documents.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// One kind with a schema: its group, version and kind, and its definition's name.
#[derive(Debug, Clone)]
pub struct KindSchema {
    /// API group; empty for core.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// The kind, e.g. `Deployment`.
    pub kind: &'static str,
    /// The definition's name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub name: String,
    /// The name of the list kind's definition, e.g. `io.k8s.api.apps.v1.DeploymentList`.
    pub list_name: String,
}

/// Every definition, keyed by upstream's name, and the kinds among them.
#[derive(Debug)]
pub struct Definitions {
    /// Definition name to OpenAPI 3 schema; `$ref`s point at [`REF_PREFIX`].
    pub schemas: Map<String, Value>,
    /// The top-level kinds, in the order they were added.
    pub kinds: Vec<KindSchema>,
}

impl Definitions {
    /// The kind with this group, version and kind name.
    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&KindSchema> {
        self.kinds.iter().find(|k| k.group == group && k.version == version && k.kind == kind)
    }
}

/// Adds a kind's schema (and everything it refers to) to the generator.
fn add<T: JsonSchema + Resource>(generator: &mut SchemaGenerator, kinds: &mut Vec<KindSchema>) {
    generator.subschema_for::<T>();
    let name = T::schema_name().into_owned();
    let list_name = format!("{}List", name);
    kinds.push(KindSchema { group: T::GROUP, version: T::VERSION, kind: T::KIND, name, list_name });
}

/// The definitions of every kind the sandbox knows, built on first use.
pub fn definitions() -> &'static Definitions {
    static DEFINITIONS: OnceLock<Definitions> = OnceLock::new();
    DEFINITIONS.get_or_init(build)
}

fn build() -> Definitions {
    let settings = SchemaSettings::openapi3().with(|s| s.meta_schema = None);
    let mut generator = settings.into_generator();
    let mut kinds = Vec::new();
    let g = &mut generator;
    let k = &mut kinds;
    // The served kinds first, then a few likely next ones: the list is the set of Rust types
    // whose schemas exist, the registry decides what is served.
    add::<core::v1::Pod>(g, k);
    add::<core::v1::ConfigMap>(g, k);
    add::<core::v1::Secret>(g, k);
    add::<core::v1::Service>(g, k);
    add::<core::v1::Namespace>(g, k);
    add::<core::v1::ServiceAccount>(g, k);
    add::<core::v1::Event>(g, k);
    add::<core::v1::Node>(g, k);
    add::<core::v1::Endpoints>(g, k);
    add::<discovery::v1::EndpointSlice>(g, k);
    add::<core::v1::ReplicationController>(g, k);
    add::<core::v1::PersistentVolumeClaim>(g, k);
    add::<core::v1::PersistentVolume>(g, k);
    add::<core::v1::ResourceQuota>(g, k);
    add::<core::v1::LimitRange>(g, k);
    add::<apps::v1::Deployment>(g, k);
    add::<apps::v1::ReplicaSet>(g, k);
    add::<apps::v1::StatefulSet>(g, k);
    add::<apps::v1::DaemonSet>(g, k);
    add::<batch::v1::Job>(g, k);
    add::<batch::v1::CronJob>(g, k);
    add::<rbac::v1::Role>(g, k);
    add::<rbac::v1::RoleBinding>(g, k);
    add::<rbac::v1::ClusterRole>(g, k);
    add::<rbac::v1::ClusterRoleBinding>(g, k);
    add::<authentication::v1::SelfSubjectReview>(g, k);
    add::<authorization::v1::SelfSubjectAccessReview>(g, k);
    add::<authorization::v1::SelfSubjectRulesReview>(g, k);
    add::<networking::v1::Ingress>(g, k);
    add::<networking::v1::NetworkPolicy>(g, k);
    add::<policy::v1::PodDisruptionBudget>(g, k);
    add::<autoscaling::v1::Scale>(g, k);
    add::<core::v1::PodTemplate>(g, k);
    add::<autoscaling::v2::HorizontalPodAutoscaler>(g, k);
    add::<autoscaling::v1::HorizontalPodAutoscaler>(g, k);
    add::<networking::v1::IngressClass>(g, k);
    add::<storage::v1::StorageClass>(g, k);
    add::<scheduling::v1::PriorityClass>(g, k);
    add::<coordination::v1::Lease>(g, k);
    add::<core::v1::ComponentStatus>(g, k);
    add::<apps::v1::ControllerRevision>(g, k);
    add::<apiextensions::v1::CustomResourceDefinition>(g, k);
    // Shared shapes the operations refer to.
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::WatchEvent<serde_json::Value>>();
    let mut schemas = generator.take_definitions(true);
    for kind in &kinds {
        mark_kind(&mut schemas, kind);
        let list = list_schema(kind);
        schemas.insert(kind.list_name.clone(), list);
    }
    Definitions { schemas, kinds }
}

/// Upstream tags each kind's definition with the group, version and kind it serves. k8s-openapi
/// lists `metadata` as required (it is not optional in Rust); upstream does not, and `kubectl
/// explain` would print it as required.
fn mark_kind(schemas: &mut Map<String, Value>, kind: &KindSchema) {
    if let Some(Value::Object(schema)) = schemas.get_mut(&kind.name) {
        let gvk_list = json!([gvk(kind, kind.kind)]);
        schema.insert("x-kubernetes-group-version-kind".into(), gvk_list);
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|field| field != "metadata");
            if required.is_empty() {
                schema.remove("required");
            }
        }
    }
}

fn gvk(kind: &KindSchema, name: &str) -> Value {
    json!({"group": kind.group, "kind": name, "version": kind.version})
}

/// k8s-openapi's `List<T>` has no schema of its own, so the `…List` definitions are made here
/// in upstream's shape.
fn list_schema(kind: &KindSchema) -> Value {
    let list_kind = format!("{}List", kind.kind);
    json!({
        "description": format!("{list_kind} is a list of {} objects.", kind.kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string"
            },
            "items": {
                "description": format!("The {} objects.", kind.kind),
                "type": "array",
                "items": {"allOf": [{"$ref": format!("{REF_PREFIX}{}", kind.name)}], "default": {}}
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents.",
                "type": "string"
            },
            "metadata": {
                "allOf": [{"$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")}],
                "default": {},
                "description": "Standard list metadata."
            }
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk(kind, &list_kind)]
    })
}

/// The definition name a `$ref` points at, if it is one of ours.
pub fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix(REF_PREFIX)
}

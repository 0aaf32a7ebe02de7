//! What the live graph keeps of each object: a small record read once from the typed object.
//!
//! Watchers turn every object they receive into [`Facts`] at once and drop the object, so the engine
//! holds a few hundred bytes per pod rather than the whole manifest. The named values are what the
//! health rules (`data/health.yaml`) compare and print; everything else the graph needs (owners,
//! labels, a Service's selector) has a field of its own.

use super::pod_status;
use gitops_lab_protocol::ObjectRef;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// The kinds the live graph shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `batch/v1` CronJob.
    CronJob,
    /// `batch/v1` Job.
    Job,
    /// `v1` Pod.
    Pod,
    /// `v1` Service.
    Service,
    /// `v1` ConfigMap.
    ConfigMap,
}

impl Kind {
    /// Every kind, in the order the graph lists them.
    pub const ALL: [Kind; 7] =
        [Kind::Deployment, Kind::ReplicaSet, Kind::CronJob, Kind::Job, Kind::Pod, Kind::Service, Kind::ConfigMap];

    /// The kind's name as Kubernetes spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::CronJob => "CronJob",
            Kind::Job => "Job",
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::ConfigMap => "ConfigMap",
        }
    }

    /// The kind's `apiVersion`.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Deployment | Kind::ReplicaSet => "apps/v1",
            Kind::CronJob | Kind::Job => "batch/v1",
            Kind::Pod | Kind::Service | Kind::ConfigMap => "v1",
        }
    }

    /// The kind named `name`, if the graph shows it.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A value the health rules compare and print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A count.
    Int(i64),
    /// A yes/no fact.
    Bool(bool),
    /// A word such as a pod's status reason.
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// What the graph knows of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Its kind.
    pub kind: Kind,
    /// Its uid (the node's id).
    pub uid: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// When it was created (RFC 3339), empty when unknown.
    pub created: String,
    /// The uids of its owners, from `metadata.ownerReferences`.
    pub owners: Vec<String>,
    /// Its labels (kept for pods only, which Services select).
    pub labels: BTreeMap<String, String>,
    /// A Service's selector (empty: selects nothing).
    pub selector: BTreeMap<String, String>,
    /// The named values the health rules use.
    pub values: Vec<(&'static str, Value)>,
}

impl Facts {
    /// The value named `name`.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The object as the protocol names it.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.kind.api_version(), self.kind.name(), Some(&self.namespace), &self.name)
    }
}

/// A typed Kubernetes object the graph shows.
pub trait Observed:
    kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// Its kind.
    const KIND: Kind;
    /// What the graph keeps of it.
    fn facts(&self) -> Facts;
}

/// The fields every kind shares, with `deleting` as the first value.
fn base(kind: Kind, meta: &ObjectMeta) -> Facts {
    Facts {
        kind,
        uid: meta.uid.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        created: meta.creation_timestamp.as_ref().map(|t| t.0.to_string()).unwrap_or_default(),
        owners: meta.owner_references.iter().flatten().map(|owner| owner.uid.clone()).collect(),
        labels: BTreeMap::new(),
        selector: BTreeMap::new(),
        values: vec![("deleting", Value::Bool(meta.deletion_timestamp.is_some()))],
    }
}

fn int(n: Option<i32>) -> Value {
    Value::Int(i64::from(n.unwrap_or(0)))
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

impl Observed for Pod {
    const KIND: Kind = Kind::Pod;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::Pod, &self.metadata);
        facts.labels = self.metadata.labels.clone().unwrap_or_default();
        let summary = pod_status::summarize(self);
        let status = self.status.as_ref();
        facts.values.extend([
            ("reason", text(summary.reason)),
            ("phase", text(status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into()))),
            ("ready", Value::Int(summary.ready)),
            ("containers", Value::Int(summary.total)),
            ("restarts", Value::Int(summary.restarts)),
            ("node", text(self.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default())),
        ]);
        facts
    }
}

impl Observed for Deployment {
    const KIND: Kind = Kind::Deployment;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::Deployment, &self.metadata);
        let spec = self.spec.as_ref();
        let status = self.status.clone().unwrap_or_default();
        let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
        let current = status.replicas.unwrap_or(0);
        let updated = status.updated_replicas.unwrap_or(0);
        let observed = status.observed_generation.unwrap_or(0) >= self.metadata.generation.unwrap_or(0);
        let stalled = status.conditions.iter().flatten().any(|c| {
            c.type_ == "Progressing" && c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        facts.values.extend([
            ("desired", int(Some(desired))),
            ("current", int(Some(current))),
            ("ready", int(status.ready_replicas)),
            ("updated", int(Some(updated))),
            ("available", int(status.available_replicas)),
            ("old", Value::Int(i64::from(current.saturating_sub(updated).max(0)))),
            ("observed", Value::Bool(observed)),
            ("paused", Value::Bool(spec.and_then(|s| s.paused).unwrap_or(false))),
            ("stalled", Value::Bool(stalled)),
        ]);
        facts
    }
}

impl Observed for ReplicaSet {
    const KIND: Kind = Kind::ReplicaSet;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::ReplicaSet, &self.metadata);
        let status = self.status.as_ref();
        let revision = self
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .cloned()
            .unwrap_or_else(|| "?".into());
        facts.values.extend([
            ("desired", int(Some(self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)))),
            ("current", int(status.map(|s| s.replicas))),
            ("ready", int(status.and_then(|s| s.ready_replicas))),
            ("available", int(status.and_then(|s| s.available_replicas))),
            ("revision", text(revision)),
        ]);
        facts
    }
}

impl Observed for Job {
    const KIND: Kind = Kind::Job;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::Job, &self.metadata);
        let spec = self.spec.as_ref();
        let status = self.status.clone().unwrap_or_default();
        let condition = |kind: &str| status.conditions.iter().flatten().any(|c| c.type_ == kind && c.status == "True");
        facts.values.extend([
            ("completions", int(Some(spec.and_then(|s| s.completions).unwrap_or(1)))),
            ("succeeded", int(status.succeeded)),
            ("failed", int(status.failed)),
            ("active", int(status.active)),
            ("complete", Value::Bool(condition("Complete"))),
            ("failedJob", Value::Bool(condition("Failed"))),
            ("suspended", Value::Bool(spec.and_then(|s| s.suspend).unwrap_or(false))),
        ]);
        facts
    }
}

impl Observed for CronJob {
    const KIND: Kind = Kind::CronJob;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::CronJob, &self.metadata);
        let spec = self.spec.as_ref();
        let status = self.status.as_ref();
        let active = status.and_then(|s| s.active.as_ref()).map_or(0, Vec::len);
        let last = status.and_then(|s| s.last_schedule_time.as_ref()).map(|t| t.0.to_string()).unwrap_or_default();
        facts.values.extend([
            ("schedule", text(spec.map(|s| s.schedule.clone()).unwrap_or_default())),
            ("suspended", Value::Bool(spec.and_then(|s| s.suspend).unwrap_or(false))),
            ("active", Value::Int(i64::try_from(active).unwrap_or(i64::MAX))),
            ("lastSchedule", text(last)),
        ]);
        facts
    }
}

impl Observed for Service {
    const KIND: Kind = Kind::Service;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::Service, &self.metadata);
        let spec = self.spec.clone().unwrap_or_default();
        facts.selector = spec.selector.clone().unwrap_or_default();
        let ports = spec
            .ports
            .iter()
            .flatten()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
            .collect::<Vec<_>>()
            .join(",");
        facts.values.extend([
            ("type", text(spec.type_.unwrap_or_else(|| "ClusterIP".into()))),
            ("clusterIP", text(spec.cluster_ip.unwrap_or_default())),
            ("ports", text(if ports.is_empty() { "no ports".into() } else { ports })),
            ("selector", Value::Bool(!facts.selector.is_empty())),
        ]);
        // `pods` (how many pods the selector matches) depends on other objects: the graph adds it.
        facts
    }
}

impl Observed for ConfigMap {
    const KIND: Kind = Kind::ConfigMap;
    fn facts(&self) -> Facts {
        let mut facts = base(Kind::ConfigMap, &self.metadata);
        let keys = self.data.as_ref().map_or(0, BTreeMap::len) + self.binary_data.as_ref().map_or(0, BTreeMap::len);
        facts.values.push(("keys", Value::Int(i64::try_from(keys).unwrap_or(i64::MAX))));
        facts
    }
}

/// Reads the facts of any object the graph shows from its JSON form; `None` for other kinds.
#[cfg(test)]
pub fn from_json(object: &serde_json::Value) -> Result<Option<Facts>, serde_json::Error> {
    fn typed<K: Observed>(object: &serde_json::Value) -> Result<Option<Facts>, serde_json::Error> {
        Ok(Some(K::deserialize(object)?.facts()))
    }
    let kind = object.get("kind").and_then(|k| k.as_str()).and_then(Kind::from_name);
    match kind {
        Some(Kind::Deployment) => typed::<Deployment>(object),
        Some(Kind::ReplicaSet) => typed::<ReplicaSet>(object),
        Some(Kind::CronJob) => typed::<CronJob>(object),
        Some(Kind::Job) => typed::<Job>(object),
        Some(Kind::Pod) => typed::<Pod>(object),
        Some(Kind::Service) => typed::<Service>(object),
        Some(Kind::ConfigMap) => typed::<ConfigMap>(object),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_without_replicas_asks_for_one() {
        let facts = from_json(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {}}
        }))
        .unwrap()
        .unwrap();
        assert_eq!(facts.value("desired"), Some(&Value::Int(1)));
        assert_eq!(facts.value("deleting"), Some(&Value::Bool(false)));
        assert_eq!(facts.object_ref().kubectl_name(), "deployment.apps/web");
    }

    #[test]
    fn kinds_the_graph_does_not_show_give_no_facts() {
        assert_eq!(from_json(&json!({"apiVersion": "v1", "kind": "Secret"})).unwrap(), None);
    }
}

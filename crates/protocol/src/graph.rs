//! The live resource graph: objects as nodes, owners and selectors as links, and the events feed.

use crate::text::Text;
use serde::{Deserialize, Serialize};

/// Names one Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `v1`, `apps/v1`, …
    pub api_version: String,
    /// `Pod`, `Deployment`, …
    pub kind: String,
    /// The namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ObjectRef {
    /// A reference from its parts.
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            name: name.into(),
        }
    }

    /// The API group: empty for the core group.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(group, _)| group).unwrap_or("")
    }

    /// How kubectl names the object in its output: `pod/nginx`, `deployment.apps/web`.
    pub fn kubectl_name(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        match self.group() {
            "" => format!("{kind}/{}", self.name),
            group => format!("{kind}.{group}/{}", self.name),
        }
    }
}

/// How healthy an object looks, for the tree's colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// Doing what its spec asks (a Running ready pod, a Deployment with all replicas available).
    Healthy,
    /// On its way (a pod being created, a rollout in progress).
    Progressing,
    /// Running but not as asked (fewer ready replicas, a restarting container).
    Degraded,
    /// Failed (a crash loop, a failed Job, an image that cannot be run).
    Failed,
    /// Being deleted.
    Terminating,
    /// Nothing to judge (a ConfigMap, a Service).
    Unknown,
}

/// How a node relates to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeKind {
    /// The other node is this one's owner (from `metadata.ownerReferences`): drawn solid.
    Owner,
    /// The other node, a Service, selects this one by labels: drawn dashed.
    SelectedBy,
}

/// A link from a node to another node.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GraphLink {
    /// The other node's id.
    pub to: String,
    /// What the link means.
    pub kind: EdgeKind,
}

/// One object in the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// The object's uid: stable while it lives, new when it is replaced.
    pub id: String,
    /// What it is.
    pub object: ObjectRef,
    /// Its health colour.
    pub health: Health,
    /// A short status such as `Running`, `2/3 ready` or `Completed`, as kubectl would show it.
    pub status: String,
    /// A sentence explaining the status.
    pub summary: Text,
    /// Links to owners and selecting Services.
    pub links: Vec<GraphLink>,
    /// When it was created (RFC 3339).
    pub created: String,
}

/// The whole graph, sent on (re)connection and on request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphSnapshot {
    /// The revision of the last change included; deltas continue from it.
    pub revision: u64,
    /// The namespaces watched.
    pub namespaces: Vec<String>,
    /// Every node.
    pub nodes: Vec<GraphNode>,
}

/// What changed in the graph since the previous revision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphDelta {
    /// This change's revision (the previous one plus one); a gap means the UI should ask for a snapshot.
    pub revision: u64,
    /// Nodes added or changed (whole nodes, links included).
    pub upserts: Vec<GraphNode>,
    /// Ids of nodes removed.
    pub removed: Vec<String>,
}

impl GraphDelta {
    /// Whether the change carries nothing.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removed.is_empty()
    }
}

/// One Kubernetes Event for the events feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeEventView {
    /// When it last happened (RFC 3339).
    pub time: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// The reason (`Scheduled`, `Pulled`, `Killing`, `ScalingReplicaSet`, …).
    pub reason: String,
    /// The object it is about.
    pub object: ObjectRef,
    /// The message as the cluster wrote it.
    pub message: String,
    /// How many times it happened.
    pub count: u32,
    /// Who reported it (`kubelet`, `deployment-controller`, …).
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_names_carry_the_group_except_for_the_core_group() {
        assert_eq!(ObjectRef::new("v1", "Pod", Some("default"), "nginx").kubectl_name(), "pod/nginx");
        assert_eq!(ObjectRef::new("apps/v1", "Deployment", None, "web").kubectl_name(), "deployment.apps/web");
        assert_eq!(
            ObjectRef::new("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None, "x").kubectl_name(),
            "clusterrolebinding.rbac.authorization.k8s.io/x"
        );
    }
}

//! The resource graph, reduced from object facts: nodes with health and status, owner and selector links.
//!
//! [`build`] is the pure reducer (facts in, nodes out) that the golden tests exercise. [`Graph`] is the
//! same reduction kept up to date one change at a time: it knows which nodes a change can affect (the
//! object, its children when it appears or goes, the pods a Service selects, the Services that may
//! select a pod) and returns only the nodes that really changed, so the engine publishes small deltas.

use super::facts::{Facts, Kind, Value};
use super::rules;
use gitops_lab_protocol::{EdgeKind, GraphDelta, GraphLink, GraphNode};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A change that a watcher saw.
#[derive(Clone, Debug)]
pub enum Change {
    /// An object was created or changed.
    Upsert(Facts),
    /// An object was deleted.
    Remove {
        /// Its uid.
        uid: String,
    },
    /// A fresh list of one kind in one namespace replaces what was known of it.
    Replace {
        /// The kind listed.
        kind: Kind,
        /// The namespace listed.
        namespace: String,
        /// Everything the list returned.
        objects: Vec<Facts>,
    },
}

/// The objects known, with the indexes the reduction needs.
#[derive(Debug, Default)]
pub struct Store {
    objects: HashMap<String, Facts>,
    /// Owner uid → uids of the objects it owns (the owner may be unknown).
    children: HashMap<String, BTreeSet<String>>,
    /// Namespace → pod uids.
    pods: HashMap<String, BTreeSet<String>>,
    /// Namespace → Service uids.
    services: HashMap<String, BTreeSet<String>>,
}

impl Store {
    /// How many objects are known.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Records an object; the uids whose nodes may have changed go into `affected`.
    fn upsert(&mut self, facts: Facts, affected: &mut BTreeSet<String>) {
        let uid = facts.uid.clone();
        affected.insert(uid.clone());
        let old = self.objects.remove(&uid);
        match &old {
            None => affected.extend(self.children.get(&uid).into_iter().flatten().cloned()),
            Some(old) => self.unindex(old),
        }
        let pod_moved = facts.kind == Kind::Pod && old.as_ref().is_none_or(|o| o.labels != facts.labels);
        let selector_moved = facts.kind == Kind::Service && old.as_ref().is_none_or(|o| o.selector != facts.selector);
        self.index(&facts);
        if pod_moved {
            affected.extend(self.services.get(&facts.namespace).into_iter().flatten().cloned());
        }
        if selector_moved {
            affected.extend(self.pods.get(&facts.namespace).into_iter().flatten().cloned());
        }
        self.objects.insert(uid, facts);
    }

    /// Forgets an object; the uids whose nodes may have changed go into `affected`.
    fn remove(&mut self, uid: &str, affected: &mut BTreeSet<String>) {
        let Some(old) = self.objects.remove(uid) else { return };
        affected.insert(uid.to_string());
        affected.extend(self.children.get(uid).into_iter().flatten().cloned());
        self.unindex(&old);
        let others = match old.kind {
            Kind::Pod => self.services.get(&old.namespace),
            Kind::Service => self.pods.get(&old.namespace),
            _ => None,
        };
        affected.extend(others.into_iter().flatten().cloned());
    }

    fn replace(&mut self, kind: Kind, namespace: &str, objects: Vec<Facts>, affected: &mut BTreeSet<String>) {
        let listed: BTreeSet<&str> = objects.iter().map(|f| f.uid.as_str()).collect();
        let gone: Vec<String> = self
            .objects
            .values()
            .filter(|f| f.kind == kind && f.namespace == namespace && !listed.contains(f.uid.as_str()))
            .map(|f| f.uid.clone())
            .collect();
        for uid in gone {
            self.remove(&uid, affected);
        }
        for facts in objects {
            // An unchanged object affects nothing; skipping it keeps a re-list cheap.
            if self.objects.get(&facts.uid) != Some(&facts) {
                self.upsert(facts, affected);
            }
        }
    }

    fn index(&mut self, facts: &Facts) {
        for owner in &facts.owners {
            self.children.entry(owner.clone()).or_default().insert(facts.uid.clone());
        }
        let by_namespace = match facts.kind {
            Kind::Pod => Some(&mut self.pods),
            Kind::Service => Some(&mut self.services),
            _ => None,
        };
        if let Some(map) = by_namespace {
            map.entry(facts.namespace.clone()).or_default().insert(facts.uid.clone());
        }
    }

    fn unindex(&mut self, facts: &Facts) {
        for owner in &facts.owners {
            if let Some(set) = self.children.get_mut(owner) {
                set.remove(&facts.uid);
                if set.is_empty() {
                    self.children.remove(owner);
                }
            }
        }
        let by_namespace = match facts.kind {
            Kind::Pod => Some(&mut self.pods),
            Kind::Service => Some(&mut self.services),
            _ => None,
        };
        if let Some(set) = by_namespace.and_then(|map| map.get_mut(&facts.namespace)) {
            set.remove(&facts.uid);
        }
    }

    /// The pods of a namespace that a Service's selector matches.
    fn selected_pods<'a>(&'a self, service: &'a Facts) -> impl Iterator<Item = &'a Facts> + 'a {
        self.pods
            .get(&service.namespace)
            .into_iter()
            .flatten()
            .filter_map(|uid| self.objects.get(uid))
            .filter(|pod| selects(service, pod))
    }

    /// The node of one object, or `None` when it is not known.
    pub fn node(&self, uid: &str) -> Option<GraphNode> {
        let facts = self.objects.get(uid)?;
        let mut links: Vec<GraphLink> = facts
            .owners
            .iter()
            .filter(|owner| self.objects.contains_key(*owner))
            .map(|owner| GraphLink { to: owner.clone(), kind: EdgeKind::Owner })
            .collect();
        let mut extra = Vec::new();
        match facts.kind {
            Kind::Pod => {
                let services = self.services.get(&facts.namespace).into_iter().flatten();
                links.extend(
                    services
                        .filter(|uid| self.objects.get(*uid).is_some_and(|service| selects(service, facts)))
                        .map(|uid| GraphLink { to: uid.clone(), kind: EdgeKind::SelectedBy }),
                );
            }
            Kind::Service => {
                let count = self.selected_pods(facts).count();
                extra.push(("pods", Value::Int(i64::try_from(count).unwrap_or(i64::MAX))));
            }
            _ => {}
        }
        links.sort_by(|a, b| (a.kind as u8, &a.to).cmp(&(b.kind as u8, &b.to)));
        let verdict = rules::judge(facts, &extra);
        Some(GraphNode {
            id: facts.uid.clone(),
            object: facts.object_ref(),
            health: verdict.health,
            status: verdict.status,
            summary: verdict.summary,
            links,
            created: facts.created.clone(),
        })
    }
}

/// Whether a Service's selector matches a pod's labels (an empty selector matches nothing).
fn selects(service: &Facts, pod: &Facts) -> bool {
    !service.selector.is_empty()
        && service.selector.iter().all(|(key, value)| pod.labels.get(key).is_some_and(|v| v == value))
}

/// The order nodes are listed in: namespace, kind, name, id.
fn order(node: &GraphNode) -> (Option<&str>, usize, &str, &str) {
    let kind = Kind::from_name(&node.object.kind).map_or(usize::MAX, |k| k as usize);
    (node.object.namespace.as_deref(), kind, node.object.name.as_str(), node.id.as_str())
}

/// Sorts nodes into the graph's listing order.
pub fn sort_nodes(nodes: &mut [GraphNode]) {
    nodes.sort_by(|a, b| order(a).cmp(&order(b)));
}

/// The pure reducer: the graph of a set of objects.
#[cfg(test)]
pub fn build(objects: impl IntoIterator<Item = Facts>) -> Vec<GraphNode> {
    let mut store = Store::default();
    let mut affected = BTreeSet::new();
    for facts in objects {
        store.upsert(facts, &mut affected);
    }
    let mut nodes: Vec<GraphNode> = store.objects.keys().filter_map(|uid| store.node(uid)).collect();
    sort_nodes(&mut nodes);
    nodes
}

/// The graph kept up to date: the objects and the nodes last handed out.
#[derive(Debug, Default)]
pub struct Graph {
    store: Store,
    nodes: BTreeMap<String, GraphNode>,
}

impl Graph {
    /// Applies a change to the objects and returns the nodes that changed (its revision left at 0).
    pub fn apply(&mut self, change: Change) -> GraphDelta {
        let affected = self.record(change);
        self.refresh(affected)
    }

    /// Applies a change to the objects without computing nodes (while a resync is under way).
    pub fn record(&mut self, change: Change) -> BTreeSet<String> {
        let mut affected = BTreeSet::new();
        match change {
            Change::Upsert(facts) => self.store.upsert(facts, &mut affected),
            Change::Remove { uid } => self.store.remove(&uid, &mut affected),
            Change::Replace { kind, namespace, objects } => {
                self.store.replace(kind, &namespace, objects, &mut affected)
            }
        }
        affected
    }

    /// Recomputes the given nodes and returns those that changed.
    fn refresh(&mut self, affected: BTreeSet<String>) -> GraphDelta {
        let mut delta = GraphDelta::default();
        for uid in affected {
            match self.store.node(&uid) {
                Some(node) if self.nodes.get(&uid) != Some(&node) => {
                    self.nodes.insert(uid, node.clone());
                    delta.upserts.push(node);
                }
                Some(_) => {}
                None => {
                    if self.nodes.remove(&uid).is_some() {
                        delta.removed.push(uid);
                    }
                }
            }
        }
        sort_nodes(&mut delta.upserts);
        delta
    }

    /// Recomputes every node from the objects (after a resync).
    pub fn rebuild(&mut self) {
        self.nodes = self.store.objects.keys().filter_map(|uid| Some((uid.clone(), self.store.node(uid)?))).collect();
    }

    /// Forgets every object but keeps the nodes last handed out until the next [`Graph::rebuild`].
    pub fn forget_objects(&mut self) {
        self.store = Store::default();
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Graph::default();
    }

    /// Whether any node was handed out.
    pub fn has_nodes(&self) -> bool {
        !self.nodes.is_empty()
    }

    /// The nodes last handed out, in listing order.
    pub fn nodes(&self) -> Vec<GraphNode> {
        let mut nodes: Vec<GraphNode> = self.nodes.values().cloned().collect();
        sort_nodes(&mut nodes);
        nodes
    }

    /// How many objects are known.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.store.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::facts::from_json;
    use serde_json::json;

    fn pod(uid: &str, app: &str, owner: Option<&str>) -> Facts {
        let owners =
            owner.map(|o| vec![json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": o})]);
        from_json(&json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": uid, "namespace": "default", "uid": uid, "labels": {"app": app},
                         "ownerReferences": owners.unwrap_or_default()},
            "spec": {"containers": [{"name": "c"}]}
        }))
        .unwrap()
        .unwrap()
    }

    fn service(uid: &str, app: &str) -> Facts {
        from_json(&json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}
        }))
        .unwrap()
        .unwrap()
    }

    fn replica_set(uid: &str) -> Facts {
        from_json(&json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": {"replicas": 1, "selector": {}}
        }))
        .unwrap()
        .unwrap()
    }

    #[test]
    fn a_new_owner_links_its_existing_children_and_its_removal_unlinks_them() {
        let mut graph = Graph::default();
        graph.apply(Change::Upsert(pod("p1", "web", Some("rs1"))));
        assert!(graph.nodes()[0].links.is_empty(), "the owner is unknown yet");
        let delta = graph.apply(Change::Upsert(replica_set("rs1")));
        let ids: Vec<&str> = delta.upserts.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["rs1", "p1"]);
        assert_eq!(delta.upserts[1].links, vec![GraphLink { to: "rs1".into(), kind: EdgeKind::Owner }]);
        let delta = graph.apply(Change::Remove { uid: "rs1".into() });
        assert_eq!(delta.removed, ["rs1"]);
        assert!(delta.upserts[0].links.is_empty());
    }

    #[test]
    fn a_service_change_relinks_the_pods_it_selects_and_counts_them() {
        let mut graph = Graph::default();
        graph.apply(Change::Upsert(pod("p1", "web", None)));
        graph.apply(Change::Upsert(pod("p2", "db", None)));
        let delta = graph.apply(Change::Upsert(service("s1", "web")));
        let ids: Vec<&str> = delta.upserts.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["p1", "s1"], "p2 is not selected and does not change");
        assert_eq!(delta.upserts[1].status, "ClusterIP, 1 pod(s)");
        let delta = graph.apply(Change::Upsert(service("s1", "db")));
        let ids: Vec<&str> = delta.upserts.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p2"], "both pods change links; the Service still counts one pod");
    }

    #[test]
    fn an_unchanged_object_gives_an_empty_delta() {
        let mut graph = Graph::default();
        graph.apply(Change::Upsert(pod("p1", "web", None)));
        assert!(graph.apply(Change::Upsert(pod("p1", "web", None))).is_empty());
    }

    #[test]
    fn a_fresh_list_removes_what_it_no_longer_holds_and_keeps_other_kinds() {
        let mut graph = Graph::default();
        graph.apply(Change::Upsert(pod("p1", "web", None)));
        graph.apply(Change::Upsert(pod("p2", "web", None)));
        graph.apply(Change::Upsert(service("s1", "web")));
        let delta = graph.apply(Change::Replace {
            kind: Kind::Pod,
            namespace: "default".into(),
            objects: vec![pod("p2", "web", None)],
        });
        assert_eq!(delta.removed, ["p1"]);
        assert_eq!(delta.upserts.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["s1"]);
        assert_eq!(graph.len(), 2);
    }
}

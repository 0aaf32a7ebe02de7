//! The live resource tree: the engine's graph snapshot and deltas folded into nodes, flattened into
//! rows by owner (Deployment → ReplicaSet → Pod, CronJob → Job → Pod).
//!
//! [`GraphModel::apply`] says what a delta changed so that the view touches only those rows, and
//! moves only the rows whose place changed (`tree_order.rs` keeps them in order); a gap in revisions
//! asks for a fresh snapshot.

use super::tree_order::{SortKey, TreeOrder};
use crate::protocol::{EdgeKind, GraphDelta, GraphNode, GraphSnapshot};
use std::collections::{HashMap, HashSet};

/// One line of the tree: a node at a depth.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TreeRow {
    /// The node's id (its uid).
    pub id: String,
    /// How far it is indented (0 for objects without an owner in view).
    pub depth: usize,
}

/// What applying a delta did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Nodes whose content changed (or that are new).
    pub updated: Vec<String>,
    /// Nodes that were not there before (for the arrival animation).
    pub added: Vec<String>,
    /// Nodes removed.
    pub removed: Vec<String>,
    /// Whether rows were added, removed or moved.
    pub structure: bool,
}

/// The outcome of applying a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Folded in.
    Changed(Change),
    /// The delta does not follow the last revision: ask the engine for a snapshot.
    Gap,
}

/// The graph as the tree shows it.
#[derive(Clone, Debug, Default)]
pub struct GraphModel {
    revision: u64,
    namespaces: Vec<String>,
    nodes: HashMap<String, GraphNode>,
    /// Owner id → the nodes naming it as an owner (present or not), to re-place them when it comes or goes.
    dependents: HashMap<String, HashSet<String>>,
    order: TreeOrder,
}

impl GraphModel {
    /// Replaces everything with a snapshot.
    pub fn reset(&mut self, snapshot: GraphSnapshot) {
        self.revision = snapshot.revision;
        self.namespaces = snapshot.namespaces;
        self.nodes = snapshot.nodes.into_iter().map(|node| (node.id.clone(), node)).collect();
        self.dependents.clear();
        for node in self.nodes.values() {
            for owner in owners(node) {
                self.dependents.entry(owner.to_string()).or_default().insert(node.id.clone());
            }
        }
        self.order.clear();
        let all: Vec<String> = self.nodes.keys().cloned().collect();
        all.iter().for_each(|id| self.place(id));
    }

    /// Folds in one delta.
    pub fn apply(&mut self, delta: GraphDelta) -> Applied {
        if delta.revision <= self.revision {
            // Already included in the snapshot we hold (a delta racing a snapshot).
            return Applied::Changed(Change::default());
        }
        if delta.revision != self.revision + 1 {
            return Applied::Gap;
        }
        self.revision = delta.revision;
        let mut change = Change::default();
        // Nodes whose row may move: they and their subtrees are taken out, then put back in place.
        let mut dirty = Vec::new();
        for id in delta.removed {
            if let Some(old) = self.nodes.remove(&id) {
                self.forget_owners(&old);
                change.structure = true;
                dirty.extend(self.dependents.get(&id).into_iter().flatten().cloned());
                dirty.push(id.clone());
                change.removed.push(id);
            }
        }
        for node in delta.upserts {
            let id = node.id.clone();
            let old = self.nodes.remove(&id);
            let moved = old.as_ref().is_none_or(|old| owners(old) != owners(&node) || sort_key(old) != sort_key(&node));
            if moved {
                if let Some(old) = &old {
                    self.forget_owners(old);
                }
                for owner in owners(&node) {
                    self.dependents.entry(owner.to_string()).or_default().insert(id.clone());
                }
                change.structure = true;
                dirty.push(id.clone());
            }
            if old.is_none() {
                // Objects that named it as their owner before it arrived now go under it.
                dirty.extend(self.dependents.get(&id).into_iter().flatten().cloned());
                change.added.push(id.clone());
            }
            self.nodes.insert(id.clone(), node);
            change.updated.push(id);
        }
        for id in &dirty {
            self.order.remove_subtree(id);
        }
        dirty.iter().for_each(|id| self.place(id));
        Applied::Changed(change)
    }

    /// Shows a node (if its owner is shown, or it has none in view) and then what it owns.
    fn place(&mut self, id: &str) {
        let mut stack = vec![id.to_string()];
        while let Some(id) = stack.pop() {
            let Some(node) = self.nodes.get(&id) else { continue };
            let above = parent(&self.nodes, node);
            // A node whose owner is not shown yet goes in with it; one in an ownership cycle never does.
            if !self.order.insert(&id, above, sort_key(node), node.object.kind == "Pod") {
                continue;
            }
            let owned = self.dependents.get(&id).into_iter().flatten();
            let below =
                |kid: &&String| self.nodes.get(*kid).is_some_and(|k| parent(&self.nodes, k) == Some(id.as_str()));
            stack.extend(owned.filter(below).cloned());
        }
    }

    fn forget_owners(&mut self, node: &GraphNode) {
        for owner in owners(node) {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&node.id);
            }
        }
    }

    /// The revision held.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The namespaces watched.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// A node by id.
    pub fn node(&self, id: &str) -> Option<&GraphNode> {
        self.nodes.get(id)
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The tree flattened depth-first: owners before what they own, siblings in a stable order.
    pub fn rows(&self) -> Vec<TreeRow> {
        self.order.slice(0, self.order.len())
    }

    /// The rows in order (kept up to date by [`GraphModel::apply`]).
    pub fn order(&self) -> &TreeOrder {
        &self.order
    }

    /// The names of the Services that select a node.
    pub fn selected_by(&self, node: &GraphNode) -> Vec<String> {
        node.links
            .iter()
            .filter(|link| link.kind == EdgeKind::SelectedBy)
            .filter_map(|link| self.nodes.get(&link.to))
            .map(|service| service.object.name.clone())
            .collect()
    }
}

/// The owner a node is shown under: its first owner in view.
fn parent<'a>(nodes: &HashMap<String, GraphNode>, node: &'a GraphNode) -> Option<&'a str> {
    owners(node).into_iter().find(|owner| nodes.contains_key(*owner))
}

/// The ids of a node's owners.
fn owners(node: &GraphNode) -> Vec<&str> {
    node.links.iter().filter(|link| link.kind == EdgeKind::Owner).map(|link| link.to.as_str()).collect()
}

/// Sort key: namespace, then workloads before the objects they use, then name, then age (then the
/// id, so that no two are equal).
fn sort_key(node: &GraphNode) -> SortKey {
    let rank = match node.object.kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "CronJob" => 0,
        "ReplicaSet" | "Job" => 1,
        "Pod" => 2,
        "Service" => 3,
        "ConfigMap" | "Secret" => 4,
        _ => 5,
    };
    let object = &node.object;
    (object.namespace.clone(), rank, object.name.clone(), node.created.clone(), node.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{GraphLink, Health, ObjectRef, Text};

    fn node(id: &str, kind: &str, name: &str, owner: Option<&str>) -> GraphNode {
        GraphNode {
            id: id.into(),
            object: ObjectRef::new("v1", kind, Some("default"), name),
            health: Health::Healthy,
            status: "Running".into(),
            summary: Text::same(""),
            links: owner.map(|to| GraphLink { to: to.into(), kind: EdgeKind::Owner }).into_iter().collect(),
            created: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn snapshot(nodes: Vec<GraphNode>) -> GraphSnapshot {
        GraphSnapshot { revision: 10, namespaces: vec!["default".into()], nodes }
    }

    fn ids(rows: &[TreeRow]) -> Vec<(&str, usize)> {
        rows.iter().map(|row| (row.id.as_str(), row.depth)).collect()
    }

    #[test]
    fn owners_come_before_what_they_own() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![
            node("p2", "Pod", "web-b", Some("rs")),
            node("cm", "ConfigMap", "settings", None),
            node("rs", "ReplicaSet", "web-1", Some("d")),
            node("p1", "Pod", "web-a", Some("rs")),
            node("d", "Deployment", "web", None),
        ]));
        assert_eq!(ids(&model.rows()), vec![("d", 0), ("rs", 1), ("p1", 2), ("p2", 2), ("cm", 0)]);
    }

    #[test]
    fn an_object_whose_owner_is_not_in_view_is_a_root() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![node("p", "Pod", "orphan", Some("gone"))]));
        assert_eq!(ids(&model.rows()), vec![("p", 0)]);
    }

    #[test]
    fn a_replaced_pod_is_reported_as_removed_and_added() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![node("rs", "ReplicaSet", "web-1", None), node("p1", "Pod", "a", Some("rs"))]));
        let delta =
            GraphDelta { revision: 11, upserts: vec![node("p2", "Pod", "b", Some("rs"))], removed: vec!["p1".into()] };
        let Applied::Changed(change) = model.apply(delta) else { panic!("no gap expected") };
        assert_eq!(change.added, vec!["p2"]);
        assert_eq!(change.removed, vec!["p1"]);
        assert!(change.structure);
        assert_eq!(ids(&model.rows()), vec![("rs", 0), ("p2", 1)]);
    }

    #[test]
    fn a_status_change_does_not_rebuild_the_rows() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![node("p", "Pod", "a", None)]));
        let mut changed = node("p", "Pod", "a", None);
        changed.status = "Terminating".into();
        let Applied::Changed(change) =
            model.apply(GraphDelta { revision: 11, upserts: vec![changed], removed: vec![] })
        else {
            panic!("no gap expected")
        };
        assert!(!change.structure);
        assert_eq!(change.updated, vec!["p"]);
        assert_eq!(model.node("p").unwrap().status, "Terminating");
    }

    #[test]
    fn a_gap_in_revisions_asks_for_a_snapshot_and_old_deltas_are_ignored() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![]));
        assert_eq!(model.apply(GraphDelta { revision: 13, ..Default::default() }), Applied::Gap);
        assert_eq!(model.apply(GraphDelta { revision: 9, ..Default::default() }), Applied::Changed(Change::default()));
        assert_eq!(model.revision(), 10);
    }

    #[test]
    fn an_ownership_cycle_does_not_loop() {
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![node("a", "Pod", "a", Some("b")), node("b", "Pod", "b", Some("a"))]));
        // Neither is a root, so neither is shown; what matters is that this returns.
        assert!(model.rows().len() <= 2);
    }

    #[test]
    fn a_thousand_pods_flatten_under_their_owner_in_name_order() {
        let mut nodes = vec![node("rs", "ReplicaSet", "big", None)];
        nodes.extend((0..1000).map(|i| node(&format!("p{i}"), "Pod", &format!("big-{i:04}"), Some("rs"))));
        let mut model = GraphModel::default();
        model.reset(snapshot(nodes));
        let rows = model.rows();
        assert_eq!(rows.len(), 1001);
        assert_eq!(rows[1].id, "p0");
    }

    /// The rows as the whole-graph flattening (sorting everything) gives them, to check the
    /// incremental order against.
    fn flattened(model: &GraphModel) -> Vec<(String, usize)> {
        let mut children: HashMap<&str, Vec<&GraphNode>> = HashMap::new();
        let mut roots = Vec::new();
        for node in model.nodes.values() {
            match parent(&model.nodes, node) {
                Some(owner) => children.entry(owner).or_default().push(node),
                None => roots.push(node),
            }
        }
        let mut rows = Vec::new();
        let mut stack: Vec<(&GraphNode, usize)> = Vec::new();
        roots.sort_by_key(|node| std::cmp::Reverse(sort_key(node)));
        stack.extend(roots.into_iter().map(|node| (node, 0)));
        while let Some((node, depth)) = stack.pop() {
            rows.push((node.id.clone(), depth));
            let mut kids = children.get(node.id.as_str()).cloned().unwrap_or_default();
            kids.sort_by_key(|kid| std::cmp::Reverse(sort_key(kid)));
            stack.extend(kids.into_iter().map(|kid| (kid, depth + 1)));
        }
        rows
    }

    #[test]
    fn the_incremental_order_matches_a_full_flattening_through_random_deltas() {
        // A small linear congruential generator: the same "random" sequence on every run.
        let mut seed = 7_u64;
        let mut next = move |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let mut model = GraphModel::default();
        model.reset(snapshot(vec![]));
        for revision in 11..600 {
            let id = format!("n{}", next(40));
            let mut delta = GraphDelta { revision, ..Default::default() };
            if next(4) == 0 {
                delta.removed.push(id);
            } else {
                // Owners may be absent, arrive later, or form cycles; names change now and then.
                let owner = (next(3) != 0).then(|| format!("n{}", next(40)));
                let kind = ["Deployment", "ReplicaSet", "Pod"][next(3) as usize];
                delta.upserts.push(node(&id, kind, &format!("x{}", next(5)), owner.as_deref()));
            }
            assert!(matches!(model.apply(delta), Applied::Changed(_)));
            let rows: Vec<(String, usize)> = model.rows().into_iter().map(|row| (row.id, row.depth)).collect();
            assert_eq!(rows, flattened(&model), "revision {revision}");
            let shown: HashSet<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
            let pods = model.nodes.values().filter(|n| n.object.kind == "Pod" && shown.contains(n.id.as_str())).count();
            assert_eq!(model.order().pods(), pods);
        }
    }
}

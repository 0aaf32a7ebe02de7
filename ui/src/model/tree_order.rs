//! The resource tree's rows kept in depth-first order as objects come and go, so a frame's deltas
//! move a few rows instead of re-sorting the whole tree.
//!
//! Each shown node has a *path*: the sort keys from its root down to it. Comparing paths orders the
//! rows depth-first (an owner before what it owns, siblings by key, a sibling's whole subtree before
//! the next sibling), so the rows are one sorted vector searched by path, and a subtree is the run of
//! rows after a node whose paths start with the node's. Each parent also keeps its children's keys
//! in order, which gives a row's place among its siblings (`aria-posinset`, `aria-setsize`).

use super::graph::TreeRow;
use std::collections::HashMap;
use std::rc::Rc;

/// Where a node sorts among its siblings: namespace, kind rank, name, creation time, and last its
/// id, so that no two keys are equal.
pub type SortKey = (Option<String>, u8, String, String, String);

/// The sort keys from a root down to a node.
type Path = Rc<[SortKey]>;

#[derive(Clone, Debug)]
struct Row {
    id: String,
    path: Path,
    pod: bool,
}

/// The shown nodes in tree order.
#[derive(Clone, Debug, Default)]
pub struct TreeOrder {
    rows: Vec<Row>,
    paths: HashMap<String, Path>,
    /// Each parent's children (roots under `None`), by key.
    siblings: HashMap<Option<String>, Vec<SortKey>>,
    pods: usize,
}

impl TreeOrder {
    /// Forgets every row.
    pub fn clear(&mut self) {
        *self = TreeOrder::default();
    }

    /// Whether a node is shown.
    pub fn contains(&self, id: &str) -> bool {
        self.paths.contains_key(id)
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many of the rows are Pods.
    pub fn pods(&self) -> usize {
        self.pods
    }

    /// Shows a node under `parent` (`None`: as a root). The parent must be shown already; returns
    /// false, changing nothing, when it is not or when the node is shown already.
    pub fn insert(&mut self, id: &str, parent: Option<&str>, key: SortKey, pod: bool) -> bool {
        if self.contains(id) {
            return false;
        }
        let path: Path = match parent {
            None => Rc::from(vec![key.clone()]),
            Some(parent) => match self.paths.get(parent) {
                Some(above) => above.iter().cloned().chain(std::iter::once(key.clone())).collect(),
                None => return false,
            },
        };
        let at = self.search(&path).unwrap_or_else(|free| free);
        self.rows.insert(at, Row { id: id.to_string(), path: path.clone(), pod });
        self.paths.insert(id.to_string(), path);
        let siblings = self.siblings.entry(parent.map(str::to_string)).or_default();
        let slot = siblings.binary_search(&key).unwrap_or_else(|free| free);
        siblings.insert(slot, key);
        self.pods += usize::from(pod);
        true
    }

    /// Hides a node and everything shown under it; returns how many rows went.
    pub fn remove_subtree(&mut self, id: &str) -> usize {
        let Some(path) = self.paths.get(id).cloned() else { return 0 };
        let Ok(first) = self.search(&path) else { return 0 };
        let end = first + self.rows[first..].iter().take_while(|row| row.path.starts_with(&path)).count();
        let gone: Vec<Row> = self.rows.drain(first..end).collect();
        for row in &gone {
            self.paths.remove(&row.id);
            self.pods -= usize::from(row.pod);
            let parent = parent_id(&row.path);
            if let Some(siblings) = self.siblings.get_mut(&parent) {
                let key = row.path.last().expect("a path is never empty");
                if let Ok(slot) = siblings.binary_search(key) {
                    siblings.remove(slot);
                }
                if siblings.is_empty() {
                    self.siblings.remove(&parent);
                }
            }
        }
        gone.len()
    }

    /// The row of a node: its index among all rows.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.paths.get(id).and_then(|path| self.search(path).ok())
    }

    /// The node on a row.
    pub fn id_at(&self, index: usize) -> Option<&str> {
        self.rows.get(index).map(|row| row.id.as_str())
    }

    /// A node's place among its siblings, from 1, and how many siblings there are (itself included).
    pub fn position(&self, id: &str) -> Option<(usize, usize)> {
        let path = self.paths.get(id)?;
        let siblings = self.siblings.get(&parent_id(path))?;
        let slot = siblings.binary_search(path.last()?).ok()?;
        Some((slot + 1, siblings.len()))
    }

    /// The rows `first..last` (clamped to the rows there are).
    pub fn slice(&self, first: usize, last: usize) -> Vec<TreeRow> {
        let last = last.min(self.rows.len());
        let first = first.min(last);
        self.rows[first..last].iter().map(|row| TreeRow { id: row.id.clone(), depth: row.path.len() - 1 }).collect()
    }

    fn search(&self, path: &[SortKey]) -> Result<usize, usize> {
        self.rows.binary_search_by(|row| row.path[..].cmp(path))
    }
}

/// The parent named by a path (the id is the last part of a key); `None` for a root.
fn parent_id(path: &[SortKey]) -> Option<String> {
    path.len().checked_sub(2).map(|above| path[above].4.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key as the model makes them: the node's id last.
    fn key(id: &str, name: &str) -> SortKey {
        (Some("default".into()), 2, name.into(), String::new(), id.into())
    }

    fn ids(order: &TreeOrder) -> Vec<(String, usize)> {
        order.slice(0, usize::MAX).into_iter().map(|row| (row.id, row.depth)).collect()
    }

    #[test]
    fn rows_stay_depth_first_whatever_the_arrival_order() {
        let mut order = TreeOrder::default();
        assert!(order.insert("b", None, key("b", "b"), false));
        assert!(order.insert("a", None, key("a", "a"), false));
        assert!(order.insert("b2", Some("b"), key("b2", "2"), true));
        assert!(order.insert("a1", Some("a"), key("a1", "1"), true));
        assert!(order.insert("b1", Some("b"), key("b1", "1"), true));
        let expected = [("a", 0), ("a1", 1), ("b", 0), ("b1", 1), ("b2", 1)];
        assert_eq!(ids(&order), expected.map(|(id, depth)| (id.to_string(), depth)));
        assert_eq!(order.index_of("b1"), Some(3));
        assert_eq!(order.id_at(4), Some("b2"));
        assert_eq!(order.position("b2"), Some((2, 2)));
        assert_eq!(order.position("a"), Some((1, 2)));
        assert_eq!(order.pods(), 3);
    }

    #[test]
    fn a_node_under_a_missing_parent_or_shown_twice_is_refused() {
        let mut order = TreeOrder::default();
        assert!(!order.insert("x", Some("nobody"), key("x", "x"), false));
        assert!(order.insert("x", None, key("x", "x"), false));
        assert!(!order.insert("x", None, key("x", "x"), false));
        assert_eq!(order.len(), 1);
    }

    #[test]
    fn removing_a_node_takes_its_subtree_and_nothing_else() {
        let mut order = TreeOrder::default();
        order.insert("a", None, key("a", "a"), false);
        order.insert("a1", Some("a"), key("a1", "1"), true);
        order.insert("a2", Some("a"), key("a2", "2"), true);
        order.insert("b", None, key("b", "b"), false);
        assert_eq!(order.remove_subtree("a"), 3);
        assert_eq!(ids(&order), vec![("b".to_string(), 0)]);
        assert_eq!((order.pods(), order.position("b")), (0, Some((1, 1))));
        assert_eq!(order.remove_subtree("a"), 0);
    }
}

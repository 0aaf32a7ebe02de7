//! A set of field paths and its FieldsV1 encoding (`f:` fields, `k:{…}` keyed list items, `v:` set
//! items, `i:` positions, `.` for "this path itself").

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A tree of path elements. A node is a member when its own path is in the set; its children hold
/// the longer paths. Elements are kept in their FieldsV1 spelling (`f:spec`, `k:{"name":"web"}`),
/// which orders them as upstream prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Whether the path leading to this node is itself in the set.
    pub member: bool,
    /// The longer paths, by their next element.
    pub children: BTreeMap<String, FieldSet>,
}

/// One path: its elements in FieldsV1 spelling.
pub type Path = Vec<String>;

/// The FieldsV1 element of an object field.
pub fn field(name: &str) -> String {
    format!("f:{name}")
}

/// The FieldsV1 element of a keyed list item: its key fields as compact JSON, sorted by name.
pub fn key(fields: &[(String, Value)]) -> String {
    let mut sorted: Vec<&(String, Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let body: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{}", json!(k), v)).collect();
    format!("k:{{{}}}", body.join(","))
}

/// The FieldsV1 element of a set item.
pub fn value(item: &Value) -> String {
    format!("v:{item}")
}

impl FieldSet {
    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// The node at `path`, made on the way.
    pub fn node_mut(&mut self, path: &[String]) -> &mut FieldSet {
        path.iter().fold(self, |node, element| node.children.entry(element.clone()).or_default())
    }

    /// The node at `path`, if the tree reaches it.
    pub fn node(&self, path: &[String]) -> Option<&FieldSet> {
        path.iter().try_fold(self, |node, element| node.children.get(element))
    }

    /// Adds one path.
    pub fn insert(&mut self, path: &[String]) {
        self.node_mut(path).member = true;
    }

    /// Whether `path` is in the set.
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether `path` or any path below it is in the set.
    pub fn touches(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    /// Every path in the set, shortest first within a branch, in FieldsV1 order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, at: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(at.clone());
        }
        for (element, child) in &self.children {
            at.push(element.clone());
            child.collect(at, out);
            at.pop();
        }
    }

    /// The paths of both sets. Merged node by node (as inserting every path of `other` would,
    /// without listing the paths: this runs on every write).
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.add(other);
        out
    }

    fn add(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, child) in other.children.iter().filter(|(_, c)| !c.is_empty()) {
            match self.children.get_mut(element) {
                Some(mine) => mine.add(child),
                None => {
                    self.children.insert(element.clone(), child.pruned());
                }
            }
        }
    }

    /// A copy without the branches that hold no path (the shape inserting its paths makes).
    fn pruned(&self) -> FieldSet {
        let children =
            self.children.iter().filter(|(_, c)| !c.is_empty()).map(|(e, c)| (e.clone(), c.pruned())).collect();
        FieldSet { member: self.member, children }
    }

    /// The paths of this set that `other` does not hold.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && !other.member, children: BTreeMap::new() };
        for (element, child) in &self.children {
            let kept = match other.children.get(element) {
                Some(theirs) => child.difference(theirs),
                None => child.pruned(),
            };
            if !kept.is_empty() {
                out.children.insert(element.clone(), kept);
            }
        }
        out
    }

    /// The paths both sets hold.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet { member: self.member && other.member, children: BTreeMap::new() };
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(element.clone(), both);
                }
            }
        }
        out
    }

    /// The FieldsV1 JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                map.insert(element.clone(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Reads FieldsV1 JSON; `None` when it is not FieldsV1 (a non-object, an unknown element).
    pub fn from_fields_v1(value: &Value) -> Option<FieldSet> {
        let map = value.as_object()?;
        let mut set = FieldSet { member: map.is_empty(), children: BTreeMap::new() };
        for (element, child) in map {
            if element == "." {
                set.member = true;
                continue;
            }
            let known = ["f:", "k:", "v:", "i:"].iter().any(|p| element.starts_with(p));
            if !known || !child.is_object() {
                return None;
            }
            set.children.insert(element.clone(), FieldSet::from_fields_v1(child)?);
        }
        Some(set)
    }
}

/// A path as upstream prints it in conflict messages: `.spec.replicas`,
/// `.spec.template.spec.containers[name="web"].image`, `[containerPort=80,protocol="TCP"]`.
pub fn display(path: &[String]) -> String {
    let mut text = String::new();
    for element in path {
        let (kind, rest) = element.split_at(2.min(element.len()));
        match kind {
            "f:" => {
                text.push('.');
                text.push_str(rest);
            }
            "k:" => {
                let fields: Map<String, Value> = serde_json::from_str(rest).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                text.push_str(&format!("[{}]", parts.join(",")));
            }
            "v:" => text.push_str(&format!("[={rest}]")),
            _ => text.push_str(&format!("[{rest}]")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(elements: &[&str]) -> Path {
        elements.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn members_with_children_encode_a_dot() {
        let mut set = FieldSet::default();
        set.insert(&p(&["f:metadata", "f:labels"]));
        set.insert(&p(&["f:metadata", "f:labels", "f:app"]));
        set.insert(&p(&["f:spec", "f:replicas"]));
        let encoded = set.to_fields_v1();
        assert_eq!(encoded, json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}}));
        assert_eq!(FieldSet::from_fields_v1(&encoded), Some(set));
    }

    #[test]
    fn keyed_items_spell_their_keys_sorted_as_compact_json() {
        let k = key(&[("protocol".into(), json!("TCP")), ("containerPort".into(), json!(80))]);
        assert_eq!(k, r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(value(&json!("kubernetes")), r#"v:"kubernetes""#);
        let path = p(&["f:spec", "f:containers", r#"k:{"name":"web"}"#, "f:ports", &k]);
        assert_eq!(display(&path), r#".spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]"#);
        assert_eq!(display(&p(&["f:metadata", "f:finalizers", r#"v:"x""#])), r#".metadata.finalizers[="x"]"#);
    }

    #[test]
    fn set_operations_work_on_whole_paths() {
        let mut a = FieldSet::default();
        a.insert(&p(&["f:spec", "f:replicas"]));
        a.insert(&p(&["f:spec", "f:paused"]));
        let mut b = FieldSet::default();
        b.insert(&p(&["f:spec", "f:replicas"]));
        assert_eq!(a.difference(&b).paths(), vec![p(&["f:spec", "f:paused"])]);
        assert_eq!(a.intersection(&b).paths(), vec![p(&["f:spec", "f:replicas"])]);
        assert!(a.touches(&p(&["f:spec"])) && !a.contains(&p(&["f:spec"])));
        assert_eq!(b.union(&a), a);
    }

    /// Sets built from a small alphabet of paths, so that they share and split branches.
    fn sample_sets() -> Vec<FieldSet> {
        let elements = ["f:a", "f:b", "k:{\"name\":\"x\"}", "v:1"];
        let mut sets = vec![FieldSet::default()];
        let mut seed = 7u32;
        for _ in 0..40 {
            let mut set = FieldSet::default();
            for _ in 0..(seed % 6) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let depth = (seed >> 8) % 4;
                let path: Path =
                    (0..depth).map(|i| elements[((seed >> (12 + 2 * i)) % 4) as usize].to_string()).collect();
                set.insert(&path);
            }
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            sets.push(set);
        }
        sets
    }

    #[test]
    fn set_operations_agree_with_their_definitions_by_paths() {
        let by_paths = |paths: Vec<Path>| {
            let mut out = FieldSet::default();
            paths.iter().for_each(|p| out.insert(p));
            out
        };
        let sets = sample_sets();
        for a in &sets {
            for b in &sets {
                let mut union = a.clone();
                b.paths().iter().for_each(|p| union.insert(p));
                assert_eq!(a.union(b), union);
                assert_eq!(a.difference(b), by_paths(a.paths().into_iter().filter(|p| !b.contains(p)).collect()));
                assert_eq!(a.intersection(b), by_paths(a.paths().into_iter().filter(|p| b.contains(p)).collect()));
            }
        }
    }

    #[test]
    fn anything_but_fields_v1_is_refused() {
        assert_eq!(FieldSet::from_fields_v1(&json!({"spec": {}})), None);
        assert_eq!(FieldSet::from_fields_v1(&json!([1])), None);
        assert_eq!(FieldSet::from_fields_v1(&json!({"f:a": 1})), None);
    }
}

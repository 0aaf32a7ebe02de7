//! The object store: an in-memory index for reads over a durable redb file, with one serialized write path.
//!
//! A write runs the caller's decision under the writer lock, commits it to disk with fsync, then
//! updates the index and publishes the watch event, so a reply never reports a change that a crash
//! could lose, and watchers see changes in resourceVersion order.

mod disk;

pub use disk::DiskError;

use crate::registry::ResourceId;
use crate::watch::{EventType, Subscription, TooOld, WatchEvent, WatchHub};
use bytes::Bytes;
use disk::{Disk, DiskWrite};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Where an object lives: its type, namespace (empty for cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    /// The object's resource type.
    pub resource: ResourceId,
    /// Namespace, or empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// What a write decided to do with the object it looked at.
#[derive(Debug)]
pub enum Change {
    /// Store this object (a create or an update); the store sets `metadata.resourceVersion`.
    Put(Value),
    /// Remove the object.
    Delete,
    /// Change nothing and answer with the current object.
    Keep,
}

/// The outcome of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored (or as it would be, for a dry run); for a delete, its last state.
    pub object: Arc<Value>,
    /// The kind of change, if one was made.
    pub event: Option<EventType>,
}

/// Errors of the store itself; a decision's own error passes through as `Decision`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError<E> {
    /// The caller's decision refused the write.
    #[error(transparent)]
    Decision(E),
    /// The disk write failed; memory and watchers are unchanged.
    #[error(transparent)]
    Disk(#[from] DiskError),
}

/// A stored object and its JSON encoding, kept so that lists are answered without re-encoding.
#[derive(Clone)]
struct Entry {
    object: Arc<Value>,
    json: Bytes,
}

type Objects = BTreeMap<(String, String), Entry>;

struct Index {
    rv: u64,
    by_type: HashMap<ResourceId, Objects>,
}

/// The store: shared by every request through `Arc`.
pub struct Store {
    /// Serializes writes; held across the disk commit so resourceVersions are handed out in order.
    writer: Mutex<Disk>,
    index: RwLock<Index>,
    hub: WatchHub,
}

/// A consistent read of one type: the matching objects and the resourceVersion they were read at.
pub struct Snapshot {
    /// Objects sorted by namespace, then name.
    pub items: Vec<Arc<Value>>,
    /// The same objects as stored JSON, in the same order.
    pub json: Vec<Bytes>,
    /// The store's resourceVersion at the time of the read.
    pub rv: u64,
}

impl Store {
    /// Opens the store in `path` (a redb file), loading every object into memory.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let disk = Disk::open(path)?;
        let (objects, rv) = disk.load()?;
        let mut by_type: HashMap<ResourceId, Objects> = HashMap::new();
        for (key, value, json) in objects {
            let entry = Entry { object: Arc::new(value), json: Bytes::from(json) };
            by_type.entry(key.resource).or_default().insert((key.namespace, key.name), entry);
        }
        Ok(Self { writer: Mutex::new(disk), index: RwLock::new(Index { rv, by_type }), hub: WatchHub::new(rv) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest committed resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.read().rv
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        let index = self.read();
        index.by_type.get(&key.resource)?.get(&(key.namespace.clone(), key.name.clone())).map(|e| e.object.clone())
    }

    /// Objects of a type, optionally in one namespace, starting after `after` (namespace, name) and
    /// filtered by `keep`; at most `limit` items (0 = all). Also says whether more remain.
    pub fn list(
        &self,
        resource: &ResourceId,
        namespace: Option<&str>,
        after: Option<&(String, String)>,
        limit: usize,
        keep: impl Fn(&Value) -> bool,
    ) -> (Snapshot, bool) {
        let index = self.read();
        let mut items = Vec::new();
        let mut json = Vec::new();
        let mut more = false;
        if let Some(objects) = index.by_type.get(resource) {
            let start = match (after, namespace) {
                (Some(after), _) => std::ops::Bound::Excluded(after.clone()),
                (None, Some(ns)) => std::ops::Bound::Included((ns.to_string(), String::new())),
                (None, None) => std::ops::Bound::Unbounded,
            };
            for ((ns, _), entry) in objects.range((start, std::ops::Bound::Unbounded)) {
                if namespace.is_some_and(|want| want != ns) {
                    break;
                }
                if !keep(&entry.object) {
                    continue;
                }
                if limit > 0 && items.len() == limit {
                    more = true;
                    break;
                }
                items.push(entry.object.clone());
                json.push(entry.json.clone());
            }
        }
        (Snapshot { items, json, rv: index.rv }, more)
    }

    /// Joins the watch fan-out after `rv`; together with a `list` at the same rv this sees every change once.
    pub fn subscribe(&self, rv: u64) -> Result<Subscription, TooOld> {
        self.hub.subscribe(rv)
    }

    /// Reads the current object, lets `decide` choose a change, and commits it durably.
    /// With `dry_run` the decision runs and its result is returned, but nothing is stored.
    pub fn write<E>(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        decide: impl FnOnce(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, StoreError<E>> {
        let disk = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.get(key);
        let change = decide(current.as_ref()).map_err(StoreError::Decision)?;
        let rv = self.read().rv + 1;
        let mut encoded = Bytes::new();
        let (object, event) = match change {
            Change::Keep => match current {
                Some(object) => return Ok(Written { object, event: None }),
                None => return Ok(Written { object: Arc::new(Value::Null), event: None }),
            },
            Change::Put(mut object) => {
                if dry_run {
                    return Ok(Written { object: Arc::new(object), event: None });
                }
                object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                let bytes = serde_json::to_vec(&object).map_err(|e| DiskError::Transaction(e.to_string()))?;
                disk.commit(&[DiskWrite::Put(key, &bytes)], rv)?;
                encoded = Bytes::from(bytes);
                let kind = if current.is_some() { EventType::Modified } else { EventType::Added };
                (Arc::new(object), kind)
            }
            Change::Delete => {
                let Some(old) = current.clone() else {
                    return Ok(Written { object: Arc::new(Value::Null), event: None });
                };
                if dry_run {
                    return Ok(Written { object: old, event: None });
                }
                disk.commit(&[DiskWrite::Delete(key)], rv)?;
                let mut last = old.as_ref().clone();
                last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                (Arc::new(last), EventType::Deleted)
            }
        };
        {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            index.rv = rv;
            let objects = index.by_type.entry(key.resource.clone()).or_default();
            let slot = (key.namespace.clone(), key.name.clone());
            match event {
                EventType::Deleted => objects.remove(&slot),
                _ => objects.insert(slot, Entry { object: object.clone(), json: encoded }),
            };
        }
        self.hub.publish(WatchEvent {
            kind: event,
            rv,
            resource: key.resource.clone(),
            object: object.clone(),
            old: current,
        });
        drop(disk);
        Ok(Written { object, event: Some(event) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            resource: ResourceId { group: String::new(), plural: "configmaps".into() },
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn put(store: &Store, name: &str) -> Written {
        store.write::<()>(&key(name), false, |_| Ok(Change::Put(json!({"metadata": {"name": name}})))).expect("write")
    }

    #[test]
    fn objects_and_resource_versions_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let store = Store::open(&path).unwrap();
            put(&store, "a");
            put(&store, "b");
            store.write::<()>(&key("a"), false, |_| Ok(Change::Delete)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 3);
        assert!(store.get(&key("a")).is_none());
        assert_eq!(store.get(&key("b")).unwrap()["metadata"]["resourceVersion"], "2");
        assert_eq!(put(&store, "c").object["metadata"]["resourceVersion"], "4");
    }

    #[test]
    fn a_dry_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        store.write::<()>(&key("a"), true, |_| Ok(Change::Put(json!({"metadata": {}})))).unwrap();
        assert!(store.get(&key("a")).is_none());
        assert_eq!(store.resource_version(), 0);
    }

    #[test]
    fn a_refused_decision_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let result = store.write(&key("a"), false, |_| Err("no"));
        assert!(matches!(result, Err(StoreError::Decision("no"))));
        assert_eq!(store.resource_version(), 0);
    }

    #[test]
    fn lists_are_sorted_paged_and_scoped_to_a_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        for name in ["c", "a", "b"] {
            put(&store, name);
        }
        let resource = key("x").resource;
        let (page, more) = store.list(&resource, Some("default"), None, 2, |_| true);
        let names: Vec<_> = page.items.iter().map(|o| o["metadata"]["name"].clone()).collect();
        assert_eq!(names, [json!("a"), json!("b")]);
        assert!(more);
        let (rest, more) = store.list(&resource, Some("default"), Some(&("default".into(), "b".into())), 2, |_| true);
        assert_eq!(rest.items.len(), 1);
        assert!(!more);
        assert!(store.list(&resource, Some("other"), None, 0, |_| true).0.items.is_empty());
    }

    #[test]
    fn watchers_see_each_committed_change_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut sub = store.subscribe(0).unwrap();
        put(&store, "a");
        store.write::<()>(&key("a"), false, |_| Ok(Change::Delete)).unwrap();
        let first = sub.receiver.try_recv().unwrap();
        let second = sub.receiver.try_recv().unwrap();
        assert_eq!((first.kind, first.rv), (EventType::Added, 1));
        assert_eq!((second.kind, second.rv), (EventType::Deleted, 2));
    }
}

//! The object store: an in-memory index for reads over a durable redb file, with one serialized write path.
//!
//! A write runs the caller's decision under the decision lock (against the committed objects and
//! the writes still waiting for the disk), takes the next resourceVersion and joins the commit
//! queue. A waiting writer that finds no commit under way leads the next one: it commits the whole
//! queue in one log record and one fsync (group commit: concurrent writers share a sync, a lone
//! writer pays exactly one), updates the index, publishes the watch events in resourceVersion
//! order, and wakes the writers it committed and the next leader ([`commit`]).
//! So a reply never reports a change that a crash could lose, and reads see committed objects only.
//!
//! The one exception is a write made inside [`Store::detached`] (Events, whose loss in a crash
//! upstream tolerates too): it is queued and returns at once, and it is committed with the next
//! batch, or by the store's flusher thread if no writer comes. Its reads are as for any write:
//! decisions see it at once, reads once it is committed.
//!
//! A write made inside [`Store::deferred`] is queued the same way, but its caller awaits the
//! commit with [`Store::durable`] before acknowledging it ([`deferred`]): the HTTP API's writes,
//! so that a request waits for its fsync as a parked task instead of on a thread of its own.

mod commit;
mod deferred;
mod detached;
mod disk;
mod wal;
mod zero_fill;

pub use disk::DiskError;

use crate::registry::ResourceId;
use crate::watch::{EventType, Filter, Subscription, TooOld, WatchHub};
use bytes::Bytes;
use commit::Waiter;
use detached::DETACHED;
use disk::Disk;
use serde_json::Value;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex, RwLock};

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
    /// `object`'s JSON exactly as stored (and answered to a GET), for a write that stored it;
    /// `None` for a dry run, a delete or a write that kept the current object.
    pub json: Option<Bytes>,
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

/// The store: shared by every request through `Arc`. Its operations are those of [`Shared`],
/// which it shares with its flusher thread; dropping it commits any detached writes left.
pub struct Store {
    shared: Arc<Shared>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

impl std::ops::Deref for Store {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// The state of a [`Store`], reached through it.
pub struct Shared {
    /// Serializes decisions; hands out resourceVersions in queue order.
    decisions: Mutex<Decisions>,
    /// The file; held by the writer leading a commit (never contended: leadership is decided
    /// under the decision lock, see [`commit`]).
    disk: Mutex<Disk>,
    /// The newest resourceVersion whose commit has finished (durable, or failed: see
    /// `Decisions::failed`). Written under the decision lock; read without it for a quick check.
    done_rv: AtomicU64,
    index: RwLock<Index>,
    hub: WatchHub,
    /// Wakes the flusher: a detached or deferred write was queued, or the store is closing.
    flush: Condvar,
    /// Wakes the tasks awaiting [`Store::durable`]: a commit finished.
    committed: tokio::sync::Notify,
}

/// What the decision lock guards: writes decided but not yet committed.
struct Decisions {
    /// The last resourceVersion handed out (committed or queued).
    last_rv: u64,
    /// The newest queued state of each key with a queued write (`None`: deleted), and its rv.
    pending: HashMap<ObjectKey, (u64, Option<Arc<Value>>)>,
    /// Writes waiting for the disk, in resourceVersion order.
    queue: Vec<Queued>,
    /// The newest detached write the flusher has not been asked to commit yet.
    unflushed: Option<u64>,
    /// Set when the store is dropped: the flusher commits what is left and ends.
    closing: bool,
    /// Whether a writer is leading a commit now.
    committing: bool,
    /// Writers parked until their resourceVersion's commit finishes.
    waiters: Vec<Waiter>,
    /// resourceVersions whose commit failed (a finished write not among these is durable).
    failed: HashSet<u64>,
}

/// One decided write waiting for its commit.
struct Queued {
    key: ObjectKey,
    rv: u64,
    /// The stored JSON; `None` for a delete.
    json: Option<Bytes>,
    object: Arc<Value>,
    event: EventType,
    old: Option<Arc<Value>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
        let decisions = Decisions {
            last_rv: rv,
            pending: HashMap::new(),
            queue: Vec::new(),
            unflushed: None,
            closing: false,
            committing: false,
            waiters: Vec::new(),
            failed: HashSet::new(),
        };
        let shared = Arc::new(Shared {
            decisions: Mutex::new(decisions),
            disk: Mutex::new(disk),
            done_rv: AtomicU64::new(rv),
            index: RwLock::new(Index { rv, by_type }),
            hub: WatchHub::new(rv),
            flush: Condvar::new(),
            committed: tokio::sync::Notify::new(),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("store-flusher".into())
                .spawn(move || shared.flush_detached())
                .map_err(|e| DiskError::Transaction(format!("cannot start the store's flusher thread: {e}")))?
        };
        Ok(Self { shared, flusher: Some(flusher) })
    }
}

impl Shared {
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

    /// [`Store::subscribe`] for the changes `filter` wants only (see [`Filter`] for its rules).
    pub fn subscribe_filtered(&self, rv: u64, filter: Filter) -> Result<Subscription, TooOld> {
        self.hub.subscribe_filtered(rv, filter)
    }

    /// Reads the current object, lets `decide` choose a change, and commits it durably.
    /// With `dry_run` the decision runs and its result is returned, but nothing is stored.
    pub fn write<E>(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        decide: impl FnOnce(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, StoreError<E>> {
        self.write_with(key, dry_run, false, None, decide)
    }

    /// [`Store::write`] for a decision that reads other objects of the same type from the store
    /// (a new Service's address is one no other Service has): queued writes of that type are
    /// committed first, and none can join until the decision is made.
    pub fn write_settled<E>(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        decide: impl FnOnce(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, StoreError<E>> {
        self.write_with(key, dry_run, true, None, decide)
    }

    /// [`Store::write`] for a costly decision that depends on nothing but the object it is given
    /// (a patch: merge, admission, managedFields): it is made first without the decision lock, on
    /// the object as it stands, so that other writers need not wait for it. Under the lock its
    /// result is taken if the object is still that same one (the same `Arc`: every write stores a
    /// new one); otherwise the decision is made again under the lock, as [`Store::write`] does.
    pub fn write_speculative<E>(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        mut decide: impl FnMut(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, StoreError<E>> {
        let seen = {
            let decisions = lock(&self.decisions);
            match decisions.pending.get(key) {
                Some((_, state)) => state.clone(),
                None => self.get(key),
            }
        };
        let guess = decide(seen.as_ref());
        self.write_with(key, dry_run, false, Some((seen, guess)), decide)
    }

    fn write_with<E>(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        settle: bool,
        guess: Option<Guess<E>>,
        decide: impl FnOnce(Option<&Arc<Value>>) -> Result<Change, E>,
    ) -> Result<Written, StoreError<E>> {
        let mut decisions = lock(&self.decisions);
        while settle && decisions.pending.keys().any(|k| k.resource == key.resource) {
            let last = decisions.last_rv;
            drop(decisions);
            // A failed commit also empties the queue, which is all this waits for.
            let _ = self.wait_durable(last);
            decisions = lock(&self.decisions);
        }
        let queued = decisions.pending.get(key).cloned();
        let current = match &queued {
            Some((_, state)) => state.clone(),
            None => self.get(key),
        };
        let change = match guess {
            // Made on this very object (held since, so its address cannot have been reused).
            Some((seen, guess)) if same_object(seen.as_ref(), current.as_ref()) => guess,
            _ => decide(current.as_ref()),
        }
        .map_err(StoreError::Decision)?;
        let rv = decisions.last_rv + 1;
        let (object, json, event) = match change {
            Change::Keep => {
                drop(decisions);
                // An answer read from a queued write is only true once that write is durable.
                if let Some((queued_rv, _)) = queued.filter(|_| !DETACHED.with(Cell::get)) {
                    match deferred::active() {
                        true => deferred::note(queued_rv),
                        false => self.wait_durable(queued_rv)?,
                    }
                }
                return Ok(Written {
                    object: current.unwrap_or_else(|| Arc::new(Value::Null)),
                    json: None,
                    event: None,
                });
            }
            Change::Put(object) if dry_run => return Ok(Written { object: Arc::new(object), json: None, event: None }),
            Change::Put(mut object) => {
                object["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                let bytes = serde_json::to_vec(&object).map_err(|e| DiskError::Transaction(e.to_string()))?;
                let kind = if current.is_some() { EventType::Modified } else { EventType::Added };
                (Arc::new(object), Some(Bytes::from(bytes)), kind)
            }
            Change::Delete => {
                let Some(old) = current.clone() else {
                    return Ok(Written { object: Arc::new(Value::Null), json: None, event: None });
                };
                if dry_run {
                    return Ok(Written { object: old, json: None, event: None });
                }
                let mut last = old.as_ref().clone();
                last["metadata"]["resourceVersion"] = Value::String(rv.to_string());
                (Arc::new(last), None, EventType::Deleted)
            }
        };
        decisions.last_rv = rv;
        let state = json.as_ref().map(|_| object.clone());
        decisions.pending.insert(key.clone(), (rv, state));
        decisions.queue.push(Queued {
            key: key.clone(),
            rv,
            json: json.clone(),
            object: object.clone(),
            event,
            old: current,
        });
        if DETACHED.with(Cell::get) || deferred::active() {
            // The flusher commits it unless a writer's batch takes it first; a deferred write's
            // caller awaits the commit with `Store::durable` before acknowledging it.
            decisions.unflushed = Some(rv);
            drop(decisions);
            self.flush.notify_one();
            if !DETACHED.with(Cell::get) {
                deferred::note(rv);
            }
            return Ok(Written { object, json, event: Some(event) });
        }
        drop(decisions);
        self.wait_durable(rv)?;
        Ok(Written { object, json, event: Some(event) })
    }
}

/// A decision made outside the decision lock, and the state of the object it was made on.
type Guess<E> = (Option<Arc<Value>>, Result<Change, E>);

/// Whether two reads of a key found the same stored state (both absent, or the same `Arc`).
fn same_object(a: Option<&Arc<Value>>, b: Option<&Arc<Value>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A ConfigMap's key in `default` (the store's tests and `deferred`'s share it).
    pub(super) fn key(name: &str) -> ObjectKey {
        ObjectKey {
            resource: ResourceId { group: String::new(), plural: "configmaps".into() },
            namespace: "default".into(),
            name: name.into(),
        }
    }

    /// Stores a bare object named `name`.
    pub(super) fn put(store: &Store, name: &str) -> Written {
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
    fn a_detached_write_returns_at_once_and_is_committed_without_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut sub = store.subscribe(0).unwrap();
            let written = store.detached(|| put(&store, "event"));
            assert_eq!(written.object["metadata"]["resourceVersion"], "1");
            // A decision sees it at once (a repeat is counted, not created twice).
            let seen = store.detached(|| {
                store.write::<()>(&key("event"), false, |current| {
                    Ok(match current {
                        Some(_) => Change::Keep,
                        None => Change::Put(json!({"metadata": {"name": "event"}})),
                    })
                })
            });
            assert_eq!(seen.unwrap().event, None);
            // The flusher commits it: no other writer comes.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while store.get(&key("event")).is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert!(store.get(&key("event")).is_some(), "committed by the flusher");
            assert_eq!(sub.receiver.try_recv().unwrap().rv, 1);
            // The last ones are committed when the store closes.
            store.detached(|| put(&store, "late"));
        }
        let store = Store::open(&path).unwrap();
        assert!(store.get(&key("event")).is_some());
        assert!(store.get(&key("late")).is_some());
        assert_eq!(store.resource_version(), 2);
    }

    #[test]
    fn a_speculative_decision_is_made_again_when_the_object_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        put(&store, "a");
        let mut calls = 0;
        // Unchanged: the decision made outside the lock is taken, made once.
        store
            .write_speculative::<()>(&key("a"), false, |current| {
                calls += 1;
                let n = current.map_or(0, |c| c["n"].as_u64().unwrap_or(0));
                Ok(Change::Put(json!({"metadata": {"name": "a"}, "n": n + 1})))
            })
            .unwrap();
        assert_eq!(calls, 1);
        // Changed between the first decision and the lock: decided again, on the new object.
        let mut calls = 0;
        let written = store
            .write_speculative::<()>(&key("a"), false, |current| {
                calls += 1;
                if calls == 1 {
                    store
                        .write::<()>(&key("a"), false, |_| Ok(Change::Put(json!({"metadata": {"name": "a"}, "n": 10}))))
                        .unwrap();
                }
                let n = current.map_or(0, |c| c["n"].as_u64().unwrap_or(0));
                Ok(Change::Put(json!({"metadata": {"name": "a"}, "n": n + 1})))
            })
            .unwrap();
        assert_eq!((calls, written.object["n"].as_u64()), (2, Some(11)));
        assert_eq!(store.get(&key("a")).unwrap()["n"], 11);
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

    #[test]
    fn concurrent_writers_share_commits_and_every_write_survives_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Arc::new(Store::open(&path).unwrap());
            let mut sub = store.subscribe(0).unwrap();
            let threads: Vec<_> = (0..16)
                .map(|t| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        for i in 0..20 {
                            put(&store, &format!("w{t}-{i}"));
                            // A read-modify-write of one shared object: decisions see queued writes.
                            store
                                .write::<()>(&key("counter"), false, |current| {
                                    let n = current.map_or(0, |c| c["n"].as_u64().unwrap_or(0));
                                    Ok(Change::Put(json!({"metadata": {"name": "counter"}, "n": n + 1})))
                                })
                                .unwrap();
                        }
                    })
                })
                .collect();
            threads.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(store.resource_version(), 640);
            let rvs: Vec<u64> = std::iter::from_fn(|| sub.receiver.try_recv().ok()).map(|e| e.rv).collect();
            assert_eq!(rvs, (1..=640).collect::<Vec<_>>());
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 640);
        assert_eq!(store.get(&key("counter")).unwrap()["n"], 320);
        assert!(store.get(&key("w15-19")).is_some());
    }

    #[test]
    fn writes_held_only_by_the_log_survive_a_reopen_deletes_and_rewrites_included() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            put(&store, "kept");
            put(&store, "gone-later");
        }
        // Reopening checkpoints: both are in redb now. Then writes that only the log holds.
        {
            let store = Store::open(&path).unwrap();
            store.write::<()>(&key("gone-later"), false, |_| Ok(Change::Delete)).unwrap();
            put(&store, "new");
            store
                .write::<()>(&key("new"), false, |_| Ok(Change::Put(json!({"metadata": {"name": "new"}, "n": 2}))))
                .unwrap();
            store.write::<()>(&key("new"), false, |_| Ok(Change::Delete)).unwrap();
            store
                .write::<()>(&key("new"), false, |_| Ok(Change::Put(json!({"metadata": {"name": "new"}, "n": 3}))))
                .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 7);
        assert!(store.get(&key("kept")).is_some());
        assert!(store.get(&key("gone-later")).is_none());
        assert_eq!(store.get(&key("new")).unwrap()["n"], 3);
    }

    #[test]
    fn a_full_log_is_checkpointed_and_a_commit_larger_than_the_log_still_lands() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let filler = "x".repeat(100_000);
        let huge = "y".repeat(wal::SIZE as usize + 1);
        {
            let store = Store::open(&path).unwrap();
            for i in 0..120 {
                let name = format!("big-{i}");
                let object = json!({"metadata": {"name": name}, "data": filler});
                store.write::<()>(&key(&name), false, |_| Ok(Change::Put(object))).unwrap();
            }
            let object = json!({"metadata": {"name": "huge"}, "data": huge});
            store.write::<()>(&key("huge"), false, |_| Ok(Change::Put(object))).unwrap();
            put(&store, "after");
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 122);
        assert_eq!(store.get(&key("big-119")).unwrap()["data"].as_str().map(str::len), Some(100_000));
        assert_eq!(store.get(&key("huge")).unwrap()["data"].as_str().map(str::len), Some(huge.len()));
        assert!(store.get(&key("after")).is_some());
    }
}

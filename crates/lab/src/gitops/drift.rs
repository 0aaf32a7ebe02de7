//! Drift detection by watch: after a sync, the loop watches the kinds and namespaces it applied to,
//! and every change of a synced object (an edit, a scale, a delete) is compared with git again by
//! [`super::diff`]. Nothing is re-read on a timer: an idle cluster costs nothing.

use super::sync::Tracked;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::sync::mpsc;

/// A synced object changed (`live` is `None` once it is deleted).
#[derive(Debug)]
pub struct Change {
    /// Which run's watch saw it (changes of an earlier run's watch are stale).
    pub generation: u64,
    /// The run's resource index ([`Tracked::index`]).
    pub index: usize,
    /// The object as the cluster now has it.
    pub live: Option<Value>,
}

/// The watches of one run's objects; they end when this is dropped.
pub struct DriftWatch {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DriftWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One watch's scope: API version, resource plural, namespace.
type GroupKey = (String, String, Option<String>);

/// Starts one watch per (resource, namespace) among `tracked`, sending each change of a tracked
/// object on `changes`, tagged with `generation`.
pub fn watch(
    client: &kube::Client,
    generation: u64,
    tracked: &[Tracked],
    changes: mpsc::UnboundedSender<Change>,
) -> DriftWatch {
    let mut groups: BTreeMap<GroupKey, (kube::core::ApiResource, BTreeMap<String, usize>)> = BTreeMap::new();
    for t in tracked {
        let r = &t.target.resource;
        let key = (r.api_version.clone(), r.plural.clone(), t.target.namespace.clone());
        groups.entry(key).or_insert_with(|| (r.clone(), BTreeMap::new())).1.insert(t.target.name.clone(), t.index);
    }
    let tasks = groups
        .into_iter()
        .map(|((_, _, namespace), (resource, names))| {
            let api: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            tokio::spawn(follow(api, generation, names, changes.clone()))
        })
        .collect();
    DriftWatch { tasks }
}

async fn follow(
    api: Api<DynamicObject>,
    generation: u64,
    names: BTreeMap<String, usize>,
    changes: mpsc::UnboundedSender<Change>,
) {
    // The watcher re-lists and resumes by itself after errors; back-off keeps a lost cluster cheap.
    let stream = kube::runtime::WatchStreamExt::default_backoff(watcher(api, watcher::Config::default()));
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        let (object, deleted) = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => (o, false),
            Ok(watcher::Event::Delete(o)) => (o, true),
            _ => continue,
        };
        let Some(&index) = object.metadata.name.as_ref().and_then(|n| names.get(n)) else { continue };
        let live = if deleted { None } else { serde_json::to_value(&object).ok() };
        if changes.send(Change { generation, index, live }).is_err() {
            return;
        }
    }
}

//! The watches behind the graph: one kube-runtime watcher per kind and namespace, plus the Events.
//!
//! Each watcher turns objects into facts as they arrive and hands changes to the [`Feed`]. A
//! watcher that fails is dropped and started again after a back-off (doubling up to a few seconds,
//! back to the start once it lists again), so every reconnection begins with a fresh list that
//! replaces what was known — nothing deleted while the cluster was away lingers in the graph.

use super::events;
use super::facts::{Facts, Kind, Observed};
use super::feed::{Feed, Source};
use super::graph::Change;
use crate::cluster::diagnose::{Failure, cause_chain, classify, explain_kube_error};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Event as KubeEvent, Pod, Service};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The first pause before a failed watch starts again.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Every watch for `namespaces`: the graph's kinds and the Events.
pub fn sources(namespaces: &[String]) -> Vec<Source> {
    namespaces
        .iter()
        .flat_map(|ns| {
            let kinds = Kind::ALL.into_iter().map(Some).chain([None]);
            kinds.map(move |kind| Source { kind, namespace: ns.clone() })
        })
        .collect()
}

/// Starts the watches of `sources`; abort the handles to stop them.
pub fn spawn(client: &Client, sources: Vec<Source>, feed: &Arc<Feed>, generation: u64) -> Vec<JoinHandle<()>> {
    sources
        .into_iter()
        .map(|source| {
            let run = Run { client: client.clone(), feed: feed.clone(), generation, source };
            match run.source.kind {
                Some(Kind::Deployment) => tokio::spawn(run.objects::<Deployment>()),
                Some(Kind::ReplicaSet) => tokio::spawn(run.objects::<ReplicaSet>()),
                Some(Kind::CronJob) => tokio::spawn(run.objects::<CronJob>()),
                Some(Kind::Job) => tokio::spawn(run.objects::<Job>()),
                Some(Kind::Pod) => tokio::spawn(run.objects::<Pod>()),
                Some(Kind::Service) => tokio::spawn(run.objects::<Service>()),
                Some(Kind::ConfigMap) => tokio::spawn(run.objects::<ConfigMap>()),
                None => tokio::spawn(run.events()),
            }
        })
        .collect()
}

/// One watch and where its changes go.
struct Run {
    client: Client,
    feed: Arc<Feed>,
    generation: u64,
    source: Source,
}

impl Run {
    /// Watches one kind in one namespace until aborted.
    async fn objects<K: Observed>(self) {
        let api: Api<K> = Api::namespaced(self.client.clone(), &self.source.namespace);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let mut stream = std::pin::pin!(watcher::watcher(api.clone(), watcher::Config::default()));
            let mut listing: Vec<Facts> = Vec::new();
            let error = loop {
                let change = match stream.next().await {
                    Some(Ok(Event::Init)) => {
                        listing.clear();
                        continue;
                    }
                    Some(Ok(Event::InitApply(object))) => {
                        listing.push(object.facts());
                        continue;
                    }
                    Some(Ok(Event::InitDone)) => {
                        backoff = FIRST_BACKOFF;
                        let objects = std::mem::take(&mut listing);
                        Change::Replace { kind: K::KIND, namespace: self.source.namespace.clone(), objects }
                    }
                    Some(Ok(Event::Apply(object))) => Change::Upsert(object.facts()),
                    Some(Ok(Event::Delete(object))) => Change::Remove { uid: object.facts().uid },
                    Some(Err(error)) => break error,
                    None => break watcher::Error::NoResourceVersion,
                };
                self.feed.apply(self.generation, &self.source, change);
            };
            backoff = self.trouble(&error, backoff).await;
        }
    }

    /// Watches the Events of one namespace until aborted.
    async fn events(self) {
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), &self.source.namespace);
        let mut backoff = FIRST_BACKOFF;
        loop {
            let mut stream = std::pin::pin!(watcher::watcher(api.clone(), watcher::Config::default()));
            let mut listing = Vec::new();
            let error = loop {
                match stream.next().await {
                    Some(Ok(Event::Init)) => listing.clear(),
                    Some(Ok(Event::InitApply(event))) => listing.push(events::view(&event)),
                    Some(Ok(Event::InitDone)) => {
                        backoff = FIRST_BACKOFF;
                        let listed = std::mem::take(&mut listing);
                        self.feed.events_listed(self.generation, &self.source.namespace, listed);
                    }
                    Some(Ok(Event::Apply(event))) => self.feed.event(self.generation, events::view(&event)),
                    Some(Ok(Event::Delete(_))) => {}
                    Some(Err(error)) => break error,
                    None => break watcher::Error::NoResourceVersion,
                }
            };
            backoff = self.trouble(&error, backoff).await;
        }
    }

    /// Reports a failed watch, waits, and returns the next back-off.
    async fn trouble(&self, error: &watcher::Error, backoff: Duration) -> Duration {
        let kube_error = match error {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => Some(e),
            watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => None,
        };
        match kube_error.map(|e| (classify(e), e)) {
            // Gone (410) and the like: the watch just lists again, nothing was lost.
            None => {}
            Some((Failure::Forbidden | Failure::NotFound | Failure::Unauthorized, e)) => {
                self.feed.refused(self.generation, &self.source, &explain_kube_error(e));
            }
            Some((_, e)) => self.feed.lost(self.generation, &self.source, &short(&cause_chain(e))),
        }
        tokio::time::sleep(backoff).await;
        (backoff * 2).min(MAX_BACKOFF)
    }
}

/// The first line of an error chain, cut to a readable length.
fn short(detail: &str) -> String {
    let line = detail.lines().next().unwrap_or_default();
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_namespace_gets_a_watch_per_kind_and_one_for_events() {
        let sources = sources(&["a".into(), "b".into()]);
        assert_eq!(sources.len(), 2 * (Kind::ALL.len() + 1));
        assert!(sources.contains(&Source { kind: None, namespace: "b".into() }));
    }

    #[test]
    fn long_details_are_cut() {
        assert_eq!(short(&"x".repeat(400)).chars().count(), 161);
        assert_eq!(short("refused\nmore"), "refused");
    }
}

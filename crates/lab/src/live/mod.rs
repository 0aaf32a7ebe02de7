//! The live model: what runs in the cluster, kept up to date from watches, and the streams that
//! reach into it (logs, exec sessions, port-forwards).
//!
//! Layout, bottom-up: `facts` reads each watched object into a small record once; `rules` plays
//! the health rules of `data/health.yaml`; `graph` is the reducer (facts in, nodes with health,
//! status and links out) and its incremental form; `feed` numbers the graph's changes and publishes
//! them; `watch` runs the kube-runtime watchers that feed it. Beside the graph: `events` (the
//! Events feed), `yaml` (an object as YAML), `streams` (followed logs, exec sessions),
//! `resolve` (a ready pod of an owner), `portforward` with `forwarder`, and `http` (one GET
//! through a fresh port-forward, for exercise checks). [`Live`] composes them for the engine and
//! follows the cluster connection: a cluster switch or a change of namespaces restarts the watches.

mod events;
mod facts;
mod feed;
mod forwarder;
mod graph;
mod http;
mod pod_status;
mod portforward;
mod resolve;
mod rules;
mod streams;
mod utf8;
mod watch;
mod yaml;

#[cfg(test)]
mod golden_tests;

pub use http::{HttpAnswer, http_get};
pub use resolve::{ReadyPod, ready_pod};
pub use streams::ExecRequest;

use crate::bus::EventBus;
use crate::cluster::{ClusterHandle, Connection};
use crate::error::{Error, Result};
use feed::Feed;
use gitops_lab_protocol::{ClusterChoice, GraphSnapshot, KubeEventView, ObjectRef, PortForwardView, StreamId, Text};
use portforward::PortForwards;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use streams::Streams;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The live model of one engine.
pub struct Live {
    connection: Arc<Connection>,
    feed: Arc<Feed>,
    /// The namespaces the UI asked for (the connection's default namespace is always watched).
    requested: Arc<Mutex<BTreeSet<String>>>,
    /// Wakes the supervisor to restart the watches.
    restart: Arc<Notify>,
    streams: Arc<Streams>,
    forwards: Arc<PortForwards>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Live {
    /// Starts following the connection: watches begin as soon as a cluster is connected.
    pub fn start(bus: EventBus, connection: Arc<Connection>) -> Live {
        let live = Live {
            connection,
            feed: Arc::new(Feed::new(bus.clone())),
            requested: Arc::default(),
            restart: Arc::new(Notify::new()),
            streams: Arc::new(Streams::new(bus.clone())),
            forwards: Arc::new(PortForwards::new(bus)),
            supervisor: Mutex::new(None),
        };
        let task = tokio::spawn(supervise(Supervisor {
            connection: live.connection.clone(),
            feed: live.feed.clone(),
            requested: live.requested.clone(),
            restart: live.restart.clone(),
            streams: live.streams.clone(),
            forwards: live.forwards.clone(),
        }));
        *live.supervisor.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        live
    }

    /// The graph as last published.
    pub fn graph(&self) -> GraphSnapshot {
        self.feed.snapshot()
    }

    /// Watches these namespaces besides the connection's default one; a `GraphReset` follows.
    pub fn watch_namespaces(&self, namespaces: Vec<String>) -> Result<()> {
        if let Some(bad) = namespaces.iter().find(|ns| !is_namespace_name(ns)) {
            return Err(Error::explained(
                "bad-namespace",
                Text::new(
                    format!(
                        "\"{bad}\" is not a valid namespace name: use lowercase letters, digits and '-', at most 63 characters, starting and ending with a letter or digit."
                    ),
                    format!(
                        "“{bad}”不是有效的命名空间名称：只能使用小写字母、数字和“-”，最多 63 个字符，并以字母或数字开头和结尾。"
                    ),
                ),
                None,
            ));
        }
        *self.requested.lock().unwrap_or_else(|e| e.into_inner()) = namespaces.into_iter().collect();
        self.restart.notify_one();
        Ok(())
    }

    /// The most recent Kubernetes Events of the watched namespaces, oldest first.
    pub fn events(&self) -> Vec<KubeEventView> {
        self.feed.recent_events()
    }

    /// A live object as YAML.
    pub async fn yaml(&self, object: &ObjectRef) -> Result<String> {
        let cluster = self.connection.require()?;
        yaml::object_yaml(&cluster.client, &cluster.default_namespace, object).await
    }

    /// Follows a container's log.
    pub async fn follow_logs(&self, pod: &ObjectRef, container: Option<String>) -> Result<StreamId> {
        let cluster = self.connection.require()?;
        self.streams.follow_logs(&cluster.client, &cluster.default_namespace, pod, container).await
    }

    /// Starts an exec session.
    pub async fn exec(&self, request: ExecRequest) -> Result<StreamId> {
        let cluster = self.connection.require()?;
        self.streams.exec(&cluster.client, &cluster.default_namespace, request).await
    }

    /// Sends input to an exec session.
    pub async fn exec_input(&self, stream: StreamId, data: String) -> Result<()> {
        self.streams.input(stream, data).await
    }

    /// Resizes an exec session's terminal.
    pub async fn exec_resize(&self, stream: StreamId, cols: u16, rows: u16) -> Result<()> {
        self.streams.resize(stream, cols, rows).await
    }

    /// Ends a log stream or exec session.
    pub fn stop_stream(&self, stream: StreamId) -> Result<()> {
        self.streams.stop(stream)
    }

    /// Starts a port-forward to a pod or an owner's ready pods.
    pub async fn port_forward(&self, target: ObjectRef, port: u16, local_port: Option<u16>) -> Result<PortForwardView> {
        let cluster = self.connection.require()?;
        self.forwards.start(&cluster, target, port, local_port).await
    }

    /// Stops a port-forward.
    pub async fn stop_port_forward(&self, id: u64) -> Result<PortForwardView> {
        self.forwards.stop(id).await
    }

    /// The port-forwards running.
    pub fn port_forwards(&self) -> Vec<PortForwardView> {
        self.forwards.list()
    }

    /// Stops the watches, streams and port-forwards.
    pub async fn shutdown(&self) {
        let supervisor = self.supervisor.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = supervisor {
            task.abort();
            let _ = task.await;
        }
        self.forwards.stop_all().await;
        self.streams.stop_all(&Text::new("The lab is shutting down.", "实验室正在关闭。"));
    }
}

/// What the supervising task shares with [`Live`].
struct Supervisor {
    connection: Arc<Connection>,
    feed: Arc<Feed>,
    requested: Arc<Mutex<BTreeSet<String>>>,
    restart: Arc<Notify>,
    streams: Arc<Streams>,
    forwards: Arc<PortForwards>,
}

/// Watch tasks that end when dropped.
struct Watches(Vec<JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Runs the watches for the current cluster and namespaces, restarting them when either changes.
async fn supervise(s: Supervisor) {
    let mut clusters = s.connection.watch();
    // The cluster last watched: a switch may go straight from one cluster to another (the
    // channel keeps only the latest value), so compare rather than wait for a `None` between them.
    let mut connected: Option<ClusterChoice> = None;
    loop {
        let handle = clusters.borrow_and_update().clone();
        let next = handle.as_ref().map(|h| h.choice.clone());
        if connected.is_some() && connected != next {
            // What reached the old cluster (or a cluster now gone) cannot go on.
            let reason = match next {
                Some(_) => Text::new("The lab switched to another cluster.", "实验室已切换到另一个集群。"),
                None => Text::new("The cluster is no longer reachable.", "集群已无法连接。"),
            };
            s.streams.stop_all(&reason);
            s.forwards.stop_all().await;
        }
        connected = next;
        let _watches = match &handle {
            None => {
                s.feed.stop();
                Watches(Vec::new())
            }
            Some(handle) => {
                let namespaces = namespaces_for(handle, &s.requested);
                let sources = watch::sources(&namespaces);
                let generation = s.feed.start(namespaces, sources.clone());
                Watches(watch::spawn(&handle.client, sources, &s.feed, generation))
            }
        };
        tokio::select! {
            changed = clusters.changed() => {
                if changed.is_err() {
                    return; // the connection is gone: the engine is shutting down
                }
            }
            () = s.restart.notified() => {}
        }
    }
}

/// The connection's default namespace and the requested ones, sorted.
fn namespaces_for(handle: &ClusterHandle, requested: &Mutex<BTreeSet<String>>) -> Vec<String> {
    let mut all = requested.lock().unwrap_or_else(|e| e.into_inner()).clone();
    all.insert(handle.default_namespace.clone());
    all.into_iter().collect()
}

/// Whether `name` is a valid namespace name (an RFC 1123 label).
fn is_namespace_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_follow_the_label_rules() {
        for good in ["default", "kube-system", "a", "team-2"] {
            assert!(is_namespace_name(good), "{good}");
        }
        for bad in ["", "Default", "-a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(!is_namespace_name(bad), "{bad}");
        }
    }
}

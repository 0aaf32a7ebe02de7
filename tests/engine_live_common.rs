//! Shared by the `engine_live*` suites (included with `#[path]`): an engine connected to a test
//! sandbox, a recorder of its events, and the graph as a UI rebuilds it from snapshots and deltas.

#![allow(dead_code)] // each suite uses a part of it

use gitops_lab::EngineConfig;
use gitops_lab::protocol::{
    ClusterChoice, Command, Event, GraphNode, GraphSnapshot, ObjectRef, Reply, Response, StreamId,
};
use gitops_lab::{Engine, Subscription};
use gitops_lab_e2e::Sandbox;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a test waits for something the cluster should do within a second or two.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A test sandbox and an engine connected to it through its kubeconfig context.
pub struct Lab {
    pub sandbox: Sandbox,
    pub engine: Engine,
    pub recorder: Recorder,
    _data: tempfile::TempDir,
}

impl Lab {
    /// Starts a sandbox and an engine watching its `default` namespace.
    pub async fn start() -> Lab {
        let sandbox = Sandbox::start();
        let data = tempfile::tempdir().expect("a temporary directory");
        let mut config = EngineConfig::new(data.path().join("lab"), data.path().join("exercises"));
        config.kubeconfig = Some(sandbox.kubeconfig.clone());
        config.cluster = ClusterChoice::Context { name: "gitops-lab-sandbox".into() };
        let engine = Engine::start(config).await;
        let recorder = Recorder::start(engine.subscribe());
        let lab = Lab { sandbox, engine, recorder, _data: data };
        // The first reset may have been published before the recorder subscribed: ask as well.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while lab.snapshot().await.namespaces.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "the engine never published its first graph");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        lab
    }

    /// Sends a command that must succeed.
    pub async fn ok(&self, command: Command) -> Reply {
        let shown = format!("{command:?}");
        match self.engine.handle(command).await {
            Ok(reply) => reply,
            Err(error) => panic!("{shown} failed: {error:?}"),
        }
    }

    /// Sends a command.
    pub async fn send(&self, command: Command) -> Response {
        self.engine.handle(command).await
    }

    /// The graph as the engine answers it now.
    pub async fn snapshot(&self) -> GraphSnapshot {
        match self.ok(Command::Graph).await {
            Reply::Graph(snapshot) => snapshot,
            other => panic!("Graph answered {other:?}"),
        }
    }

    /// `kubectl apply -f -` of a manifest.
    pub fn apply(&self, manifest: &str) {
        self.sandbox.kubectl_stdin_ok(&["apply", "-f", "-"], manifest);
    }

    /// The engine's kube-rs client.
    pub fn client(&self) -> kube::Client {
        self.engine.connection().handle().expect("connected").client
    }

    /// Stops the engine (its watches, streams and port-forwards).
    pub async fn stop(self) {
        self.engine.shutdown().await;
    }
}

/// Keeps every event the engine publishes, in order, and wakes waiters on each.
#[derive(Clone)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
    arrived: Arc<Notify>,
}

impl Recorder {
    pub fn start(mut subscription: Subscription) -> Recorder {
        let recorder = Recorder { events: Arc::default(), arrived: Arc::new(Notify::new()) };
        let (events, arrived) = (recorder.events.clone(), recorder.arrived.clone());
        tokio::spawn(async move {
            while let Some(event) = subscription.next().await {
                assert!(!matches!(event, Event::Resync), "the test fell behind the engine's events");
                events.lock().unwrap().push(event);
                arrived.notify_waiters();
            }
        });
        recorder
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// How many events were recorded so far (a mark to look after).
    pub fn mark(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits until `found` returns something for the events recorded so far.
    pub async fn wait_for<T>(&self, what: &str, found: impl Fn(&[Event]) -> Option<T>) -> T
    where
        T: Sized,
    {
        self.wait_for_within(what, PATIENCE, found).await
    }

    pub async fn wait_for_within<T>(&self, what: &str, patience: Duration, found: impl Fn(&[Event]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.arrived.notified();
            if let Some(value) = found(&self.events.lock().unwrap()) {
                return value;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let recent: Vec<String> =
                    self.all().iter().rev().take(15).map(|e| format!("{e:?}").chars().take(3000).collect()).collect();
                panic!("timed out waiting for {what}; the last events, newest first:\n{}", recent.join("\n"));
            }
        }
    }

    /// The text a stream printed so far, and how it ended.
    pub fn stream(&self, id: StreamId) -> (String, Option<String>) {
        stream_of(&self.all(), id)
    }
}

/// The text of a stream within `events`, and its ending message (English).
pub fn stream_of(events: &[Event], id: StreamId) -> (String, Option<String>) {
    let mut text = String::new();
    let mut ended = None;
    for event in events {
        match event {
            Event::Stream(data) if data.stream == id => text.push_str(&data.data),
            Event::StreamEnded { stream, message } if *stream == id => ended = Some(message.en.clone()),
            _ => {}
        }
    }
    (text, ended)
}

/// The graph as a UI keeps it: a snapshot, then deltas applied in order.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub revision: u64,
    pub nodes: BTreeMap<String, GraphNode>,
    /// How many deltas and resets were applied.
    pub deltas: usize,
    pub resets: usize,
}

impl Model {
    pub fn from_snapshot(snapshot: &GraphSnapshot) -> Model {
        Model {
            revision: snapshot.revision,
            nodes: snapshot.nodes.iter().map(|n| (n.id.clone(), n.clone())).collect(),
            ..Model::default()
        }
    }

    /// Applies the graph events among `events`; a delta must follow the previous revision exactly.
    pub fn apply_all(&mut self, events: &[Event]) {
        for event in events {
            match event {
                Event::GraphReset(snapshot) if snapshot.revision > self.revision => {
                    let (deltas, resets) = (self.deltas, self.resets + 1);
                    *self = Model { deltas, resets, ..Model::from_snapshot(snapshot) };
                }
                Event::Graph(delta) if delta.revision > self.revision => {
                    assert_eq!(delta.revision, self.revision + 1, "deltas must come with consecutive revisions");
                    for id in &delta.removed {
                        self.nodes.remove(id);
                    }
                    for node in &delta.upserts {
                        self.nodes.insert(node.id.clone(), node.clone());
                    }
                    self.revision = delta.revision;
                    self.deltas += 1;
                }
                _ => {}
            }
        }
    }

    /// The nodes of one kind, by name.
    pub fn of_kind(&self, kind: &str) -> Vec<&GraphNode> {
        let mut nodes: Vec<&GraphNode> = self.nodes.values().filter(|n| n.object.kind == kind).collect();
        nodes.sort_by(|a, b| a.object.name.cmp(&b.object.name));
        nodes
    }

    /// The node of one object, by kind and name.
    pub fn find(&self, kind: &str, name: &str) -> Option<&GraphNode> {
        self.nodes.values().find(|n| n.object.kind == kind && n.object.name == name)
    }
}

/// A reference to an object in the `default` namespace.
pub fn object(api_version: &str, kind: &str, name: &str) -> ObjectRef {
    ObjectRef::new(api_version, kind, Some("default"), name)
}

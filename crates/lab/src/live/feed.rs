//! The graph as the UI sees it: numbered deltas, a reset after each resync, and the events feed.
//!
//! Watchers hand their changes to one [`Feed`]; it applies them to the [`Graph`] and publishes what
//! changed under the same lock, so revisions are consecutive and a snapshot taken at revision N is
//! continued exactly by the deltas N+1, N+2, … While some watches are (re)listing — at start, after
//! a change of namespaces or cluster, after the connection dropped — changes are recorded without
//! being published, and one `GraphReset` with the whole graph follows once every such watch has
//! listed again.

use super::facts::Kind;
use super::graph::{Change, Graph};
use crate::bus::EventBus;
use gitops_lab_protocol::{ErrorView, Event, GraphSnapshot, KubeEventView, Text};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

/// How many Kubernetes Events the feed keeps for `Command::Events`.
const EVENTS_KEPT: usize = 200;

/// One watch: a kind (or the events feed, `None`) in a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The kind watched; `None` for Kubernetes Events.
    pub kind: Option<Kind>,
    /// The namespace watched.
    pub namespace: String,
}

/// The live graph and events, and where they are published.
pub struct Feed {
    bus: EventBus,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped whenever the watchers are replaced; changes from older watchers are ignored.
    generation: u64,
    /// The namespaces of the graph last published.
    namespaces: Vec<String>,
    /// The namespaces being listed, published with the next reset.
    next_namespaces: Vec<String>,
    graph: Graph,
    revision: u64,
    /// While set: the watches that must list again before the graph is published.
    pending: Option<BTreeSet<Source>>,
    /// A lost connection was announced and not yet recovered.
    outage: bool,
    /// Watches whose refusal (forbidden, not served) was already announced.
    refused: BTreeSet<Source>,
    /// The most recent Kubernetes Events, oldest first.
    events: VecDeque<KubeEventView>,
}

impl Feed {
    /// An empty feed publishing on `bus`.
    pub fn new(bus: EventBus) -> Feed {
        Feed { bus, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts over for new watchers of `namespaces`; returns their generation.
    pub fn start(&self, namespaces: Vec<String>, sources: impl IntoIterator<Item = Source>) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        // What was published stays readable (Command::Graph) until the reset replaces it.
        state.graph.forget_objects();
        state.next_namespaces = namespaces;
        state.pending = Some(sources.into_iter().filter(|s| s.kind.is_some()).collect());
        state.outage = false;
        state.refused.clear();
        state.events.clear();
        state.generation
    }

    /// No cluster: empties the graph and tells the UI (unless it was empty already).
    pub fn stop(&self) {
        let mut state = self.lock();
        state.generation += 1;
        let was_shown = !state.namespaces.is_empty() || state.graph.has_nodes();
        state.graph.clear();
        state.namespaces.clear();
        state.next_namespaces.clear();
        state.pending = None;
        state.outage = false;
        state.events.clear();
        if was_shown {
            self.publish_reset(&mut state);
        }
    }

    /// Applies a watcher's change.
    pub fn apply(&self, generation: u64, source: &Source, change: Change) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        let listed = matches!(change, Change::Replace { .. });
        if state.pending.is_some() {
            state.graph.record(change);
            if listed {
                self.listed(&mut state, source);
            }
            return;
        }
        let mut delta = state.graph.apply(change);
        if !delta.is_empty() {
            state.revision += 1;
            delta.revision = state.revision;
            self.bus.publish(Event::Graph(delta));
        }
    }

    /// A watch listed its objects again: the resync may be complete.
    fn listed(&self, state: &mut State, source: &Source) {
        let done = state.pending.as_mut().is_some_and(|pending| {
            pending.remove(source);
            pending.is_empty()
        });
        if done {
            state.pending = None;
            state.graph.rebuild();
            state.namespaces = state.next_namespaces.clone();
            self.publish_reset(state);
            if std::mem::take(&mut state.outage) {
                self.notice(
                    "info",
                    Text::new(
                        "The live view is connected to the cluster again and up to date.",
                        "实时视图已重新连接到集群，并已更新到最新状态。",
                    ),
                );
            }
        }
    }

    fn publish_reset(&self, state: &mut State) {
        state.revision += 1;
        let snapshot = snapshot_of(state);
        self.bus.publish(Event::GraphReset(snapshot));
    }

    /// A watch lost its connection: it will list again, and the graph is reset once it has.
    pub fn lost(&self, generation: u64, source: &Source, detail: &str) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if source.kind.is_some() {
            state.pending.get_or_insert_with(BTreeSet::new).insert(source.clone());
        }
        if !state.outage {
            state.outage = true;
            self.notice(
                "warning",
                Text::new(
                    format!("The live view lost its connection to the cluster ({detail}). It reconnects on its own…"),
                    format!("实时视图与集群的连接已断开（{detail}）。它会自动重新连接…"),
                ),
            );
        }
    }

    /// A watch was refused for good (forbidden, kind not served): the graph goes on without it.
    pub fn refused(&self, generation: u64, source: &Source, error: &ErrorView) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.refused.insert(source.clone()) {
            let what = source.kind.map_or("Events", |k| k.name());
            let namespace = &source.namespace;
            self.notice(
                "warning",
                Text::new(
                    format!("The live view cannot watch {what} in namespace {namespace}: {}", error.message.en),
                    format!("实时视图无法监视命名空间 {namespace} 中的 {what}：{}", error.message.zh),
                ),
            );
        }
        // Only a watch that lists counts for the resync; a refused one would hold it up forever.
        if state.pending.as_ref().is_some_and(|pending| pending.contains(source)) {
            self.listed(&mut state, source);
        }
    }

    /// The graph as it was last published.
    pub fn snapshot(&self) -> GraphSnapshot {
        snapshot_of(&self.lock())
    }

    /// How many objects the graph knows (published or not).
    #[cfg(test)]
    pub fn objects(&self) -> usize {
        self.lock().graph.len()
    }

    /// A watch listed the Events of a namespace: they replace those known of it (not published).
    pub fn events_listed(&self, generation: u64, namespace: &str, mut listed: Vec<KubeEventView>) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        let mut kept: Vec<KubeEventView> =
            state.events.drain(..).filter(|e| e.object.namespace.as_deref() != Some(namespace)).collect();
        kept.append(&mut listed);
        kept.sort_by(|a, b| a.time.cmp(&b.time));
        let skip = kept.len().saturating_sub(EVENTS_KEPT);
        state.events = kept.into_iter().skip(skip).collect();
    }

    /// A new or repeated Kubernetes Event: kept and published.
    pub fn event(&self, generation: u64, event: KubeEventView) {
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.events.len() == EVENTS_KEPT {
            state.events.pop_front();
        }
        state.events.push_back(event.clone());
        self.bus.publish(Event::KubeEvent(event));
    }

    /// The most recent Kubernetes Events, oldest first.
    pub fn recent_events(&self) -> Vec<KubeEventView> {
        self.lock().events.iter().cloned().collect()
    }

    /// Publishes a notice for the learner.
    pub fn notice(&self, level: &str, message: Text) {
        self.bus.publish(Event::Notice { level: level.into(), message });
    }
}

fn snapshot_of(state: &State) -> GraphSnapshot {
    GraphSnapshot { revision: state.revision, namespaces: state.namespaces.clone(), nodes: state.graph.nodes() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::facts::from_json;
    use serde_json::json;

    fn config_map(name: &str) -> crate::live::facts::Facts {
        from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": name}}))
        .unwrap()
        .unwrap()
    }

    fn source() -> Source {
        Source { kind: Some(Kind::ConfigMap), namespace: "default".into() }
    }

    fn replace(objects: Vec<crate::live::facts::Facts>) -> Change {
        Change::Replace { kind: Kind::ConfigMap, namespace: "default".into(), objects }
    }

    #[tokio::test]
    async fn the_first_list_is_published_as_a_reset_and_later_changes_as_consecutive_deltas() {
        let bus = EventBus::new();
        let mut events = bus.subscribe();
        let feed = Feed::new(bus);
        let generation = feed.start(vec!["default".into()], [source()]);
        feed.apply(generation, &source(), replace(vec![config_map("a")]));
        let Some(Event::GraphReset(reset)) = events.next().await else { panic!("a reset first") };
        assert_eq!((reset.revision, reset.nodes.len()), (1, 1));
        feed.apply(generation, &source(), Change::Upsert(config_map("b")));
        feed.apply(generation, &source(), Change::Remove { uid: "a".into() });
        let Some(Event::Graph(first)) = events.next().await else { panic!("a delta") };
        let Some(Event::Graph(second)) = events.next().await else { panic!("a delta") };
        assert_eq!((first.revision, second.revision), (2, 3));
        assert_eq!(second.removed, ["a"]);
        assert_eq!(feed.snapshot().revision, 3);
    }

    #[tokio::test]
    async fn after_a_lost_connection_changes_wait_for_the_new_list_and_come_as_one_reset() {
        let bus = EventBus::new();
        let feed = Feed::new(bus.clone());
        let generation = feed.start(vec!["default".into()], [source()]);
        feed.apply(generation, &source(), replace(vec![config_map("a")]));
        let mut events = bus.subscribe();
        feed.lost(generation, &source(), "connection refused");
        assert!(matches!(events.next().await, Some(Event::Notice { level, .. }) if level == "warning"));
        feed.apply(generation, &source(), Change::Upsert(config_map("b")));
        feed.apply(generation, &source(), replace(vec![config_map("b"), config_map("c")]));
        let Some(Event::GraphReset(reset)) = events.next().await else { panic!("a reset") };
        let names: Vec<&str> = reset.nodes.iter().map(|n| n.object.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(matches!(events.next().await, Some(Event::Notice { level, .. }) if level == "info"));
    }

    #[tokio::test]
    async fn changes_from_replaced_watchers_are_ignored() {
        let feed = Feed::new(EventBus::new());
        let old = feed.start(vec!["default".into()], [source()]);
        let new = feed.start(vec!["default".into()], [source()]);
        feed.apply(old, &source(), replace(vec![config_map("a")]));
        assert_eq!(feed.objects(), 0);
        feed.apply(new, &source(), replace(vec![config_map("a")]));
        assert_eq!(feed.snapshot().nodes.len(), 1);
    }
}

//! Watch fan-out: every committed change becomes an event kept in a bounded history and broadcast to watchers.
//!
//! A watcher that wants only some changes (a controller: its types, its owned objects) subscribes
//! with a filter and gets its own channel: the filter runs once per change as it is published, so
//! a change it does not want never wakes its task (each write used to wake every controller).

use crate::registry::ResourceId;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// How many recent events a watch can resume from; older resourceVersions get 410 Gone.
const HISTORY: usize = 8192;
/// How far a slow watcher may fall behind before it is cut off (it then re-lists, as with a real server).
const CHANNEL: usize = 4096;

/// The type of a change, as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventType,
    /// The resourceVersion the change was committed at.
    pub rv: u64,
    /// Which resource type changed.
    pub resource: ResourceId,
    /// The object after the change (for deletions, its last state).
    pub object: Arc<Value>,
    /// The object before the change, for modifications (lets filtered watches see objects leave).
    pub old: Option<Arc<Value>>,
}

/// A resourceVersion older than the kept history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld {
    /// The oldest resourceVersion a watch may start from.
    pub oldest: u64,
}

/// Which events a filtered subscriber receives. It runs as the store publishes (under the hub's
/// lock, while the committing writer holds the commit lock): it must be cheap, take no lock and
/// never block. A filter that panics is treated as wanting the event.
pub type Filter = Arc<dyn Fn(&WatchEvent) -> bool + Send + Sync>;

/// The fan-out point: publishes events and lets watchers join from a resourceVersion.
pub struct WatchHub {
    inner: Mutex<HubState>,
}

struct HubState {
    history: VecDeque<Arc<WatchEvent>>,
    /// Events at or below this resourceVersion are no longer in `history`.
    compacted: u64,
    sender: broadcast::Sender<Arc<WatchEvent>>,
    /// Subscribers that want only some events, each with its own channel.
    filtered: Vec<(Filter, broadcast::Sender<Arc<WatchEvent>>)>,
}

/// What a new watcher gets: the events it missed and a receiver for the rest.
pub struct Subscription {
    /// Events after the requested resourceVersion that happened before joining.
    pub backlog: Vec<Arc<WatchEvent>>,
    /// Later events.
    pub receiver: broadcast::Receiver<Arc<WatchEvent>>,
}

impl WatchHub {
    /// A hub whose history starts after `rv` (events before a restart are not kept).
    pub fn new(rv: u64) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL);
        let state = HubState { history: VecDeque::new(), compacted: rv, sender, filtered: Vec::new() };
        Self { inner: Mutex::new(state) }
    }

    /// Records and broadcasts an event; callers publish in resourceVersion order.
    pub fn publish(&self, event: WatchEvent) {
        let event = Arc::new(event);
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if state.history.len() == HISTORY
            && let Some(dropped) = state.history.pop_front()
        {
            state.compacted = dropped.rv;
        }
        state.history.push_back(event.clone());
        // A filtered subscriber whose receiver is gone has stopped watching.
        state.filtered.retain(|(_, sender)| sender.receiver_count() > 0);
        for (filter, sender) in &state.filtered {
            if wants(filter, &event) {
                let _ = sender.send(event.clone());
            }
        }
        // No receivers is fine: nobody is watching.
        let _ = state.sender.send(event);
    }

    /// Joins after `rv`: the backlog holds every kept event newer than `rv`.
    pub fn subscribe(&self, rv: u64) -> Result<Subscription, TooOld> {
        let state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if rv < state.compacted {
            return Err(TooOld { oldest: state.compacted });
        }
        let backlog = state.history.iter().filter(|e| e.rv > rv).cloned().collect();
        Ok(Subscription { backlog, receiver: state.sender.subscribe() })
    }

    /// Joins after `rv` for the events `filter` wants only: the backlog and the receiver hold no
    /// others. A receiver that falls behind gets `Lagged`, as an unfiltered one does.
    pub fn subscribe_filtered(&self, rv: u64, filter: Filter) -> Result<Subscription, TooOld> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if rv < state.compacted {
            return Err(TooOld { oldest: state.compacted });
        }
        let backlog = state.history.iter().filter(|e| e.rv > rv && wants(&filter, e)).cloned().collect();
        let (sender, receiver) = broadcast::channel(CHANNEL);
        state.filtered.push((filter, sender));
        Ok(Subscription { backlog, receiver })
    }
}

/// Asks a filter, treating a panic as "wanted": the subscriber then decides, as before filters.
fn wants(filter: &Filter, event: &WatchEvent) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter(event))).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(rv: u64) -> WatchEvent {
        WatchEvent {
            kind: EventType::Added,
            rv,
            resource: ResourceId { group: String::new(), plural: "configmaps".into() },
            object: Arc::new(Value::Null),
            old: None,
        }
    }

    #[test]
    fn a_watcher_gets_the_missed_events_then_new_ones() {
        let hub = WatchHub::new(10);
        hub.publish(event(11));
        hub.publish(event(12));
        let mut sub = hub.subscribe(11).expect("in history");
        assert_eq!(sub.backlog.iter().map(|e| e.rv).collect::<Vec<_>>(), [12]);
        hub.publish(event(13));
        assert_eq!(sub.receiver.try_recv().unwrap().rv, 13);
    }

    #[test]
    fn a_filtered_watcher_gets_only_what_it_wants_and_is_forgotten_when_dropped() {
        let hub = WatchHub::new(0);
        hub.publish(event(1));
        hub.publish(event(2));
        let odd: Filter = Arc::new(|e: &WatchEvent| e.rv % 2 == 1);
        let mut sub = hub.subscribe_filtered(0, odd.clone()).expect("in history");
        assert_eq!(sub.backlog.iter().map(|e| e.rv).collect::<Vec<_>>(), [1]);
        for rv in 3..=6 {
            hub.publish(event(rv));
        }
        assert_eq!(sub.receiver.try_recv().unwrap().rv, 3);
        assert_eq!(sub.receiver.try_recv().unwrap().rv, 5);
        assert!(sub.receiver.try_recv().is_err(), "6 was not wanted");
        let panics: Filter = Arc::new(|_: &WatchEvent| panic!("a broken filter"));
        let mut all = hub.subscribe_filtered(6, panics).expect("in history");
        drop(sub);
        hub.publish(event(7));
        assert_eq!(all.receiver.try_recv().unwrap().rv, 7, "a panicking filter lets events through");
        assert_eq!(hub.inner.lock().unwrap().filtered.len(), 1, "the dropped subscriber is gone");
        drop(odd);
    }

    #[test]
    fn versions_before_the_history_are_gone() {
        let hub = WatchHub::new(100);
        assert_eq!(hub.subscribe(99).err(), Some(TooOld { oldest: 100 }));
        for rv in 101..=(100 + HISTORY as u64 + 5) {
            hub.publish(event(rv));
        }
        assert!(hub.subscribe(103).is_err());
        assert!(hub.subscribe(105).is_ok());
    }
}

//! Recording core/v1 Events about objects, as controllers and the kubelet do, so that
//! `kubectl describe` and `kubectl get events` read like a real cluster's.

use crate::cluster::{Sandbox, WriteOptions};
use crate::digest::fnv1a_64;
use crate::errors::{ApiResult, Reason};
use crate::lifecycle::UpdateScope;
use crate::registry::ResourceType;
use crate::registry::builtin_type;
use crate::time;
use serde_json::{Value, json};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something went wrong or needs attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// Who reports an event: the component (`default-scheduler`, `kubelet`, `deployment-controller`…)
/// and, for node agents, the node's name.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// The reporting component.
    pub component: &'static str,
    /// The node, for the kubelet.
    pub host: Option<&'static str>,
}

/// One thing to say about an object.
#[derive(Debug, Clone)]
pub struct Occurrence<'a> {
    /// The object the event is about.
    pub about: &'a Value,
    /// A container inside a pod, e.g. `spec.containers{nginx}`.
    pub field_path: Option<String>,
    /// Normal or Warning.
    pub kind: EventType,
    /// A CamelCase reason such as `Scheduled`.
    pub reason: &'a str,
    /// The sentence.
    pub message: String,
}

impl Sandbox {
    /// Records an event about the object as a whole (no field path); see [`Sandbox::record_event`].
    pub fn record(&self, source: Source, about: &Value, kind: EventType, reason: &str, message: impl Into<String>) {
        self.record_event(source, Occurrence { about, field_path: None, kind, reason, message: message.into() });
    }

    /// Records an event; a repeat of the same reason and message about the same object bumps its
    /// count and last timestamp instead of making a new one, as upstream's recorder does.
    pub fn record_event(&self, source: Source, occurrence: Occurrence<'_>) {
        let about = occurrence.about;
        let meta = &about["metadata"];
        let namespace = meta["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
        let involved = json!({
            "kind": about["kind"], "apiVersion": about["apiVersion"], "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta["resourceVersion"],
            "fieldPath": occurrence.field_path,
        });
        // The same object, reason and message always map to one Event name, which makes repeats cheap to find.
        let digest = fnv1a_64(
            format!(
                "{}{}{}{}",
                meta["uid"],
                occurrence.reason,
                occurrence.message,
                occurrence.field_path.as_deref().unwrap_or("")
            )
            .as_bytes(),
        );
        let name = event_name(meta["name"].as_str().unwrap_or("object"), digest);
        let rt = builtin_type("", "events");
        let now = time::now_rfc3339();
        let source_json = match source.host {
            Some(host) => json!({"component": source.component, "host": host}),
            None => json!({"component": source.component}),
        };
        let fresh = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": occurrence.reason, "message": occurrence.message,
            "source": source_json, "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "type": occurrence.kind.as_str(), "eventTime": null, "reportingComponent": source.component,
            "reportingInstance": source.host.unwrap_or(""),
        });
        // Detached: queued with the next commit instead of waiting for an fsync of its own, as
        // upstream's recorder sends Events asynchronously and a crash may lose the last ones.
        let result = self.store().detached(|| match self.get(rt, Some(namespace), &name) {
            Some(_) => self.count_repeat(rt, namespace, &name, &now),
            None => match self.create(rt, Some(namespace), fresh, WriteOptions::default()) {
                // Recorded meanwhile (or still queued): count this one as its repeat.
                Err(error) if error.reason == Reason::AlreadyExists => self.count_repeat(rt, namespace, &name, &now),
                other => other.map(|_| ()),
            },
        });
        // Events are best effort, as upstream's: a failed write must not fail the action it
        // describes. A namespace gone or being deleted refuses new ones, which is expected.
        match result {
            Err(error) if matches!(error.reason, Reason::Forbidden | Reason::NotFound) => {}
            Err(error) => eprintln!("could not record event {}: {error}", occurrence.reason),
            Ok(()) => {}
        }
    }

    /// Counts a repeat of an existing Event: its count and last timestamp move on.
    fn count_repeat(&self, rt: &ResourceType, namespace: &str, name: &str, now: &str) -> ApiResult<()> {
        self.modify(rt, Some(namespace), name, UpdateScope::Main, WriteOptions::default(), |current| {
            let mut repeat = current.clone();
            repeat["count"] = json!(current["count"].as_i64().unwrap_or(1) + 1);
            repeat["lastTimestamp"] = json!(now);
            Ok(repeat)
        })
        .map(|_| ())
    }
}

/// The Event's name: `<object>.<hex nanoseconds>` of its first occurrence, as upstream names them,
/// so that listing by name (what `kubectl describe` shows when timestamps tie) is chronological.
/// Repeats reuse the name remembered for their digest.
fn event_name(object: &str, digest: u64) -> String {
    type Names = (std::collections::HashMap<u64, String>, u128);
    static NAMES: std::sync::OnceLock<std::sync::Mutex<Names>> = std::sync::OnceLock::new();
    let mut state = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = state.0.get(&digest) {
        return name.clone();
    }
    // Strictly increasing, so two events in the same nanosecond still get distinct names.
    let nanos = (jiff::Timestamp::now().as_nanosecond().max(0) as u128).max(state.1 + 1);
    state.1 = nanos;
    let name = format!("{object}.{nanos:x}");
    state.0.insert(digest, name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_event_is_counted_not_duplicated() {
        let (_dir, sb) = crate::testing::sandbox();
        let pod =
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default", "uid": "u1"}});
        let source = Source { component: "kubelet", host: Some("sandbox") };
        for _ in 0..2 {
            sb.record_event(
                source,
                Occurrence {
                    about: &pod,
                    field_path: None,
                    kind: EventType::Warning,
                    reason: "BackOff",
                    message: "Back-off restarting failed container".into(),
                },
            );
        }
        let rt = builtin_type("", "events");
        sb.store().flush().expect("the detached events commit");
        let (events, _) = sb.store().list(&rt.id(), Some("default"), None, 0, |_| true);
        assert_eq!(events.items.len(), 1);
        assert_eq!(events.items[0]["count"], 2);
        assert_eq!(events.items[0]["involvedObject"]["uid"], "u1");
        assert_eq!(events.items[0]["source"]["host"], "sandbox");
    }
}

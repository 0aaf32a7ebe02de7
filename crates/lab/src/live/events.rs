//! Kubernetes Events as the events feed shows them.

use gitops_lab_protocol::{KubeEventView, ObjectRef};
use k8s_openapi::api::core::v1::Event;

/// The feed's view of a core `v1` Event.
pub fn view(event: &Event) -> KubeEventView {
    let time = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| event.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0.to_string()))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()))
        .unwrap_or_default();
    let involved = &event.involved_object;
    let source = event
        .source
        .as_ref()
        .and_then(|s| s.component.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| event.reporting_component.clone())
        .unwrap_or_default();
    KubeEventView {
        time,
        kind: event.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: event.reason.clone().unwrap_or_default(),
        object: ObjectRef {
            api_version: involved.api_version.clone().unwrap_or_else(|| "v1".into()),
            kind: involved.kind.clone().unwrap_or_default(),
            namespace: involved.namespace.clone().or_else(|| event.metadata.namespace.clone()),
            name: involved.name.clone().unwrap_or_default(),
        },
        message: event.message.clone().unwrap_or_default(),
        count: event.count.and_then(|c| u32::try_from(c).ok()).unwrap_or(1),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_shows_its_latest_time_its_object_and_who_reported_it() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Pulled", "message": "Container image \"nginx\" already present", "type": "Normal",
            "firstTimestamp": "2026-12-01T10:00:00Z", "lastTimestamp": "2026-12-01T10:05:00Z", "count": 3,
            "source": {"component": "kubelet"}
        }))
        .unwrap();
        let view = view(&event);
        assert_eq!(view.time, "2026-12-01T10:05:00Z");
        assert_eq!(view.object, ObjectRef::new("v1", "Pod", Some("default"), "web"));
        assert_eq!((view.count, view.source.as_str(), view.kind.as_str()), (3, "kubelet", "Normal"));
    }
}

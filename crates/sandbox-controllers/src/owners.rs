//! What the workload controllers share: owner references, adopting and releasing dependents,
//! pod readiness and availability, and status conditions.

use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object::{self, name, namespace, uid};
use gitops_sandbox_core::registry::ResourceType;
use gitops_sandbox_core::selectors::LabelSelector;
use gitops_sandbox_core::time;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Changes `obj` (its namespace and name) only if the stored object is still the same one (same
/// uid): a controller must not write what it decided for an object onto a recreated namesake.
pub fn modify_same(
    sb: &Sandbox,
    rt: &ResourceType,
    obj: &Value,
    scope: UpdateScope,
    change: impl FnOnce(&mut Value),
) -> Result<(), ApiError> {
    let name = object::name(obj);
    let uid = &obj["metadata"]["uid"];
    sb.modify(rt, obj["metadata"]["namespace"].as_str(), name, scope, WriteOptions::default(), |current| {
        if &current["metadata"]["uid"] != uid {
            return Err(ApiError::conflict(rt, name, "the object was replaced"));
        }
        let mut next = current.clone();
        change(&mut next);
        Ok(next)
    })?;
    Ok(())
}

/// Writes `obj`'s status subresource with `change`, if the stored object is still the same one;
/// one deleted or replaced meanwhile is left alone (a replacement gets its own reconcile).
pub fn update_status(
    sb: &Sandbox,
    rt: &ResourceType,
    obj: &Value,
    change: impl FnOnce(&mut Value),
) -> Result<(), ApiError> {
    match modify_same(sb, rt, obj, UpdateScope::Status, change) {
        Err(error) if error.is_not_found() || error.reason == Reason::Conflict => Ok(()),
        other => other,
    }
}

/// Whether the object has a deletionTimestamp.
pub fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// The ownerReference that marks the object's managing controller, if any.
pub fn controller_ref(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true)
}

/// Whether `owner` is the managing controller of `obj`.
pub fn is_controlled_by(obj: &Value, owner: &Value) -> bool {
    controller_ref(obj).is_some_and(|r| r["uid"].as_str() == Some(uid(owner)) && !uid(owner).is_empty())
}

/// The controller ownerReference a dependent of `owner` carries.
pub fn owner_reference(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": name(owner), "uid": uid(owner),
        "controller": true, "blockOwnerDeletion": true,
    })
}

/// The dependents `owner` manages among `candidates`: those it controls and its selector still
/// matches. Matching orphans are adopted and controlled objects that no longer match are
/// released, as upstream's ControllerRefManager does.
pub fn claim(
    sb: &Sandbox,
    rt: &ResourceType,
    owner: &Value,
    selector: &LabelSelector,
    candidates: Vec<Arc<Value>>,
) -> Result<Vec<Arc<Value>>, ApiError> {
    let mut claimed = Vec::new();
    for obj in candidates {
        let matches = selector.matches(obj["metadata"].get("labels"));
        let ours = is_controlled_by(&obj, owner);
        if ours && matches {
            claimed.push(obj);
        } else if ours && !is_deleting(&obj) {
            release(sb, rt, &obj, uid(owner))?;
        } else if !ours
            && matches
            && controller_ref(&obj).is_none()
            && !is_deleting(&obj)
            && !is_deleting(owner)
            && let Some(adopted) = adopt(sb, rt, &obj, owner)?
        {
            claimed.push(adopted);
        }
    }
    Ok(claimed)
}

fn adopt(sb: &Sandbox, rt: &ResourceType, obj: &Value, owner: &Value) -> Result<Option<Arc<Value>>, ApiError> {
    let reference = owner_reference(owner);
    let result =
        sb.modify(rt, Some(namespace(obj)), name(obj), UpdateScope::Main, WriteOptions::default(), |current| {
            let mut next = current.clone();
            // Someone else may have taken it meanwhile: then leave it alone.
            if controller_ref(current).is_none() && uid(current) == uid(obj) {
                if !next["metadata"]["ownerReferences"].is_array() {
                    next["metadata"]["ownerReferences"] = json!([]);
                }
                if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                    refs.push(reference.clone());
                }
            }
            Ok(next)
        });
    match result {
        Ok(outcome) if is_controlled_by(&outcome.object, owner) => Ok(Some(outcome.object)),
        Ok(_) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes the ownerReferences to `owner_uid` from an object.
pub fn release(sb: &Sandbox, rt: &ResourceType, obj: &Value, owner_uid: &str) -> Result<(), ApiError> {
    let result =
        sb.modify(rt, Some(namespace(obj)), name(obj), UpdateScope::Main, WriteOptions::default(), |current| {
            Ok(without_owner(current, owner_uid))
        });
    match result {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

/// A copy of `obj` without the ownerReferences to `owner_uid` (the field goes when it empties).
pub fn without_owner(obj: &Value, owner_uid: &str) -> Value {
    let mut next = obj.clone();
    if let Some(meta) = next["metadata"].as_object_mut() {
        let kept: Vec<Value> = meta
            .get("ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| refs.iter().filter(|r| r["uid"].as_str() != Some(owner_uid)).cloned().collect())
            .unwrap_or_default();
        if kept.is_empty() {
            meta.remove("ownerReferences");
        } else {
            meta.insert("ownerReferences".into(), json!(kept));
        }
    }
    next
}

/// Whether a pod still counts towards its controller: not being deleted and not finished.
pub fn is_active(pod: &Value) -> bool {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    !is_deleting(pod) && phase != "Succeeded" && phase != "Failed"
}

/// The pod's Ready condition, when it is True.
fn ready_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some()
}

/// When the pod last became Ready, if it is Ready.
pub fn ready_since(pod: &Value) -> Option<Timestamp> {
    ready_condition(pod).and_then(|c| time::parse(&c["lastTransitionTime"]))
}

/// Whether the pod has been Ready for `min_ready_seconds`; if it is Ready but not yet long
/// enough, also how long until it will be.
pub fn availability(pod: &Value, min_ready_seconds: i64, now: Timestamp) -> (bool, Option<Duration>) {
    if !is_ready(pod) {
        return (false, None);
    }
    if min_ready_seconds <= 0 {
        return (true, None);
    }
    let Some(since) = ready_since(pod) else {
        return (true, None);
    };
    let elapsed = now.as_second() - since.as_second();
    if elapsed >= min_ready_seconds {
        (true, None)
    } else {
        (false, Some(Duration::from_secs((min_ready_seconds - elapsed) as u64)))
    }
}

/// A status condition in upstream's shape.
pub fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason,
        "message": message})
}

/// Sets a condition as upstream's deployment helpers do: a condition with the same status and
/// reason is left as it is; otherwise the old one is replaced (keeping its transition time when the
/// status is unchanged) and the new one goes last.
pub fn set_condition(conditions: &mut Vec<Value>, mut new: Value) {
    let position = conditions.iter().position(|c| c["type"] == new["type"]);
    if let Some(i) = position {
        let current = &conditions[i];
        if current["status"] == new["status"] && current["reason"] == new["reason"] {
            return;
        }
        if current["status"] == new["status"] {
            new["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
        conditions.remove(i);
    }
    conditions.push(new);
}

/// The condition of this type, if present.
pub fn find_condition<'a>(conditions: &'a [Value], kind: &str) -> Option<&'a Value> {
    conditions.iter().find(|c| c["type"] == kind)
}

/// An int field, 0 when absent.
pub fn int(value: &Value) -> i64 {
    value.as_i64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ready: Option<&str>) -> Value {
        let mut pod = json!({"metadata": {"name": "p", "uid": "u"}, "status": {"phase": "Running"}});
        if let Some(at) = ready {
            pod["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": at}]);
        }
        pod
    }

    #[test]
    fn a_pod_is_available_only_after_min_ready_seconds() {
        let now: Timestamp = "2026-01-01T00:00:10Z".parse().unwrap();
        assert_eq!(availability(&pod(None), 0, now), (false, None));
        assert_eq!(availability(&pod(Some("2026-01-01T00:00:05Z")), 0, now), (true, None));
        assert_eq!(availability(&pod(Some("2026-01-01T00:00:05Z")), 8, now), (false, Some(Duration::from_secs(3))));
        assert_eq!(availability(&pod(Some("2026-01-01T00:00:00Z")), 8, now), (true, None));
    }

    #[test]
    fn setting_the_same_condition_again_changes_nothing_and_a_new_reason_goes_last() {
        let mut conditions = vec![
            condition("Progressing", "True", "NewReplicaSetCreated", "m", "t1"),
            condition("Available", "False", "MinimumReplicasUnavailable", "m", "t1"),
        ];
        set_condition(&mut conditions, condition("Available", "False", "MinimumReplicasUnavailable", "m", "t2"));
        assert_eq!(conditions[1]["lastUpdateTime"], "t1");
        set_condition(&mut conditions, condition("Progressing", "True", "ReplicaSetUpdated", "m2", "t3"));
        assert_eq!(conditions[1]["reason"], "ReplicaSetUpdated");
        assert_eq!(conditions[1]["lastTransitionTime"], "t1", "same status keeps the transition time");
        assert_eq!(conditions[1]["lastUpdateTime"], "t3");
    }

    #[test]
    fn removing_the_only_owner_drops_the_field() {
        let obj = json!({"metadata": {"ownerReferences": [{"uid": "a"}, {"uid": "b"}]}});
        let once = without_owner(&obj, "a");
        assert_eq!(once["metadata"]["ownerReferences"], json!([{"uid": "b"}]));
        assert!(without_owner(&once, "b")["metadata"].get("ownerReferences").is_none());
    }

    #[test]
    fn finished_or_deleted_pods_are_not_active() {
        assert!(is_active(&pod(None)));
        let mut done = pod(None);
        done["status"]["phase"] = json!("Succeeded");
        assert!(!is_active(&done));
        let mut going = pod(None);
        going["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(!is_active(&going));
    }
}

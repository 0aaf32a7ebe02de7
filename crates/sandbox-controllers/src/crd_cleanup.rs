//! The cleanup of a CustomResourceDefinition being deleted, as upstream's CRD finalizer
//! controller: its first DELETE left it marked with the `customresourcecleanup` finalizer (see
//! `Deletion::finalizer`); this deletes every custom resource of it (each honouring its own
//! finalizers), then removes the finalizer, which lets the definition go, and stops serving it.

use super::owners::is_deleting;
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::custom::{CLEANUP_FINALIZER, definitions, terminating_condition};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::{Registry, ResourceId};
use gitops_sandbox_core::watch::{EventType, WatchEvent};
use serde_json::{Value, json};
use std::time::Duration;

/// How soon a definition whose resources are still going (finalizers) is looked at again, if no
/// deletion of one of them wakes the controller first.
const RECHECK: Duration = Duration::from_secs(5);

/// Empties and then releases each definition being deleted.
pub struct CrdCleanup;

/// The definition a custom resource belongs to: `<plural>.<group>`.
fn definition_of(resource: &ResourceId) -> ObjectRef {
    ObjectRef {
        resource: definitions().id(),
        namespace: String::new(),
        name: format!("{}.{}", resource.plural, resource.group),
    }
}

/// Whether a stored object is of a custom resource (no built-in type has its identity).
fn is_custom(resource: &ResourceId) -> bool {
    Registry::builtin().by_id(resource).is_none()
}

impl Controller for CrdCleanup {
    fn name(&self) -> &'static str {
        "customresourcedefinition-cleanup"
    }

    fn primary(&self) -> ResourceId {
        definitions().id()
    }

    fn wants(&self, event: &WatchEvent) -> bool {
        // A custom resource gone may be the last one a deleted definition waits for.
        event.resource == self.primary() || (event.kind == EventType::Deleted && is_custom(&event.resource))
    }

    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        if event.resource == self.primary() {
            return vec![ObjectRef::of(&event.resource, &event.object)];
        }
        match event.kind == EventType::Deleted && is_custom(&event.resource) {
            true => vec![definition_of(&event.resource)],
            false => Vec::new(),
        }
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(crd) = sb.get(definitions(), None, &target.name) else {
            return Ok(Action::Done);
        };
        let ours = crd["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|f| f == CLEANUP_FINALIZER));
        if !is_deleting(&crd) || !ours {
            return Ok(Action::Done);
        }
        set_terminating(sb, &target.name, "InstanceDeletionInProgress", "CustomResource deletion is in progress")?;
        let resource = ResourceId {
            group: crd["spec"]["group"].as_str().unwrap_or_default().to_string(),
            plural: crd["spec"]["names"]["plural"].as_str().unwrap_or_default().to_string(),
        };
        if let Some(rt) = sb.registry().by_id(&resource) {
            let (snapshot, _) = sb.store().list(&resource, None, None, 0, |_| true);
            let mut left = 0;
            for obj in &snapshot.items {
                left += 1;
                if is_deleting(obj) {
                    continue;
                }
                let (namespace, name) = (obj["metadata"]["namespace"].as_str(), obj["metadata"]["name"].as_str());
                match sb.delete(rt, namespace, name.unwrap_or_default(), &DeleteOptions::default()) {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            let (remaining, _) = sb.store().list(&resource, None, None, 0, |_| true);
            if left > 0 && !remaining.items.is_empty() {
                // Held by their own finalizers: each one's deletion wakes this again.
                return Ok(Action::RequeueAfter(RECHECK));
            }
        }
        release(sb, &target.name)?;
        // Gone (or only held by other finalizers now): what is served follows at once.
        sb.refresh_custom_types();
        Ok(Action::Done)
    }
}

/// Sets the definition's `Terminating` condition, when it says something else.
fn set_terminating(sb: &Sandbox, name: &str, reason: &str, message: &str) -> Result<(), ApiError> {
    let Some(crd) = sb.get(definitions(), None, name) else { return Ok(()) };
    let conditions = crd["status"]["conditions"].as_array().cloned().unwrap_or_default();
    if conditions.iter().any(|c| c["type"] == "Terminating" && c["reason"] == reason) {
        return Ok(());
    }
    let opts = WriteOptions { manager: Some("kube-apiserver".into()), ..WriteOptions::default() };
    let result = sb.modify(definitions(), None, name, UpdateScope::Status, opts, |current| {
        let mut new = current.clone();
        let mut list: Vec<Value> = new["status"]["conditions"].as_array().cloned().unwrap_or_default();
        list.retain(|c| c["type"] != "Terminating");
        list.push(terminating_condition(reason, message));
        new["status"]["conditions"] = json!(list);
        Ok(new)
    });
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Takes the cleanup finalizer off; the last finalizer gone, the definition is deleted.
fn release(sb: &Sandbox, name: &str) -> Result<(), ApiError> {
    let opts = WriteOptions { manager: Some("kube-apiserver".into()), ..WriteOptions::default() };
    let result = sb.modify(definitions(), None, name, UpdateScope::Main, opts, |current| {
        let mut new = current.clone();
        if let Some(list) = new["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| f != CLEANUP_FINALIZER);
        }
        Ok(new)
    });
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use std::sync::Arc;

    fn drills() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "drills.lab.example.com"},
            "spec": {"group": "lab.example.com", "scope": "Namespaced", "names": {"kind": "Drill", "plural": "drills"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
        })
    }

    #[test]
    fn a_deleted_definition_goes_once_its_resources_and_their_finalizers_have_gone() {
        let h = Harness::new(vec![Arc::new(CrdCleanup)]);
        let name = "drills.lab.example.com";
        h.sb.create(definitions(), None, drills(), WriteOptions::default()).expect("definition stored");
        h.sb.refresh_custom_types();
        let rt = h.sb.registry().by_plural("lab.example.com", "v1", "drills").expect("served");
        for (drill, finalizers) in [("free", json!([])), ("held", json!(["lab.example.com/keep"]))] {
            let obj = json!({"metadata": {"name": drill, "finalizers": finalizers}});
            h.sb.create(rt, Some("default"), obj, WriteOptions::default()).expect("created");
        }
        h.settle();
        assert!(h.sb.get(definitions(), None, name).is_some(), "nothing happens before a delete");

        h.sb.delete(definitions(), None, name, &DeleteOptions::default()).expect("deleted");
        let requeues = h.settle();
        assert!(
            !requeues.is_empty() && requeues.iter().all(|(t, a)| t.name == name && *a == Action::RequeueAfter(RECHECK)),
            "waits for the held resource: {requeues:?}"
        );
        assert!(h.sb.get(rt, Some("default"), "free").is_none(), "deleted by the cleanup");
        let held = h.sb.get(rt, Some("default"), "held").expect("kept by its finalizer");
        assert!(is_deleting(&held));
        let crd = h.sb.get(definitions(), None, name).expect("kept by the cleanup finalizer");
        let terminating = crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Terminating");
        assert_eq!(terminating.map(|c| c["reason"].clone()), Some(json!("InstanceDeletionInProgress")));

        h.sb.modify(rt, Some("default"), "held", UpdateScope::Main, WriteOptions::default(), |current| {
            let mut new = current.clone();
            new["metadata"]["finalizers"] = json!(null);
            Ok(new)
        })
        .expect("finalizer removed");
        h.settle();
        assert!(h.sb.get(definitions(), None, name).is_none(), "the definition is gone");
        assert!(h.sb.registry().by_plural("lab.example.com", "v1", "drills").is_none(), "and no longer served");
    }
}

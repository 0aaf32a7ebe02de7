//! The garbage collector: deletes objects whose owners are gone (background deletion), deletes
//! the dependents of owners held by `foregroundDeletion` before letting them go, and detaches the
//! dependents of owners held by `orphan`.

use super::owners::{self, is_deleting, release};
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Propagation, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{Registry, ResourceId, ResourceType};
use gitops_sandbox_core::watch::{EventType, WatchEvent};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

/// Watches every object's ownerReferences and acts on deletions.
#[derive(Default)]
pub struct GarbageCollector {
    /// Objects seen deleted and not yet looked at: a new object may take the name meanwhile,
    /// and the dependents of the old one must still go.
    deleted: Mutex<HashSet<ObjectRef>>,
}

/// Events describe objects and own nothing; watching them would only add work.
fn ignored(resource: &ResourceId) -> bool {
    resource.plural == "events"
}

fn has_finalizer(obj: &Value, finalizer: &str) -> bool {
    obj["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

fn owner_refs(obj: &Value) -> &[Value] {
    obj["metadata"]["ownerReferences"].as_array().map_or(&[], Vec::as_slice)
}

/// The group of an apiVersion: `apps/v1` → `apps`, `v1` → core.
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Where an owner named by `reference` lives, seen from a dependent in `namespace` (`registry`
/// is the served one, so that custom resources can own objects too).
fn owner_target(
    registry: &'static Registry,
    reference: &Value,
    namespace: &str,
) -> Option<(&'static ResourceType, ObjectRef)> {
    let rt = registry.by_kind(reference["apiVersion"].as_str()?, reference["kind"].as_str()?)?;
    let namespace = if rt.namespaced { namespace.to_string() } else { String::new() };
    Some((rt, ObjectRef { resource: rt.id(), namespace, name: reference["name"].as_str()?.to_string() }))
}

impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbage-collector"
    }

    /// Namespaces: each is swept for orphaned dependents when the collector starts.
    fn primary(&self) -> ResourceId {
        builtin_type("", "namespaces").id()
    }

    /// What `triggers` would act on, without its bookkeeping of deletions (a lock).
    fn wants(&self, event: &WatchEvent) -> bool {
        if ignored(&event.resource) {
            return false;
        }
        let before = event.old.as_deref().unwrap_or(&event.object);
        event.kind == EventType::Deleted
            || event.resource == self.primary()
            || !owner_refs(&event.object).is_empty()
            || !owner_refs(before).is_empty()
            || is_deleting(&event.object)
    }

    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        if ignored(&event.resource) {
            return Vec::new();
        }
        let this = ObjectRef::of(&event.resource, &event.object);
        if event.kind == EventType::Deleted {
            self.deleted.lock().unwrap_or_else(|e| e.into_inner()).insert(this.clone());
        }
        let before = event.old.as_deref().unwrap_or(&event.object);
        // An object that has and had no owner, and is not being deleted, gives the collector
        // nothing to do: most writes (a ConfigMap, an Event's subject) skip a reconcile.
        let plain =
            owner_refs(&event.object).is_empty() && owner_refs(before).is_empty() && !is_deleting(&event.object);
        if event.kind != EventType::Deleted && plain && event.resource != self.primary() {
            return Vec::new();
        }
        let mut targets = vec![this];
        // A dependent that goes, or lets go of an owner, may unblock that owner's deletion.
        if event.kind == EventType::Deleted || owner_refs(before) != owner_refs(&event.object) {
            let namespace = object::namespace(&event.object);
            targets.extend(
                owner_refs(before)
                    .iter()
                    .filter_map(|r| owner_target(Registry::builtin(), r, namespace))
                    .map(|(_, t)| t),
            );
        }
        targets
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(rt) = sb.registry().by_id(&target.resource) else {
            return Ok(Action::Done);
        };
        let namespace = rt.namespaced.then_some(target.namespace.as_str());
        let was_deleted = self.deleted.lock().unwrap_or_else(|e| e.into_inner()).remove(target);
        let current = sb.get(rt, namespace, &target.name);
        if was_deleted || current.is_none() {
            let group = rt.group.clone();
            let named = |r: &Value| {
                r["kind"] == rt.kind.as_str()
                    && r["name"] == target.name.as_str()
                    && group_of(r["apiVersion"].as_str().unwrap_or_default()) == group
            };
            for (dep_rt, dep) in dependents(sb, rt, namespace, named) {
                attempt_to_delete(sb, dep_rt, &dep)?;
            }
        }
        let Some(obj) = current else {
            return Ok(Action::Done);
        };
        if rt.kind == "Namespace" && !is_deleting(&obj) {
            sweep(sb, &target.name)?;
        }
        collect(sb, rt, &obj)?;
        Ok(Action::Done)
    }
}

/// Objects whose ownerReferences include one matching `refers`: in the owner's namespace for a
/// namespaced owner, anywhere for a cluster-scoped one.
fn dependents(
    sb: &Sandbox,
    owner_rt: &ResourceType,
    namespace: Option<&str>,
    refers: impl Fn(&Value) -> bool,
) -> Vec<(&'static ResourceType, Arc<Value>)> {
    let mut found = Vec::new();
    for rt in sb.registry().types().iter().filter(|t| !ignored(&t.id())) {
        if owner_rt.namespaced && !rt.namespaced {
            continue;
        }
        let (snapshot, _) = sb
            .store()
            .list(&rt.id(), namespace.filter(|_| owner_rt.namespaced), None, 0, |o| owner_refs(o).iter().any(&refers));
        found.extend(snapshot.items.into_iter().map(|o| (rt, o)));
    }
    found
}

fn dependents_of(sb: &Sandbox, rt: &ResourceType, owner: &Value) -> Vec<(&'static ResourceType, Arc<Value>)> {
    let uid = object::uid(owner).to_string();
    let namespace = rt.namespaced.then(|| object::namespace(owner));
    dependents(sb, rt, namespace, |r| r["uid"] == uid.as_str())
}

/// Looks at every object with owners, or held for the collector, in a namespace (at start,
/// which picks up work a restart interrupted).
fn sweep(sb: &Sandbox, namespace: &str) -> Result<(), ApiError> {
    let held = |o: &Value| is_deleting(o) && (has_finalizer(o, ORPHAN) || has_finalizer(o, FOREGROUND));
    for rt in sb.registry().types().iter().filter(|t| t.namespaced && !ignored(&t.id())) {
        let (snapshot, _) =
            sb.store().list(&rt.id(), Some(namespace), None, 0, |o| !owner_refs(o).is_empty() || held(o));
        for obj in snapshot.items {
            collect(sb, rt, &obj)?;
        }
    }
    Ok(())
}

/// Everything the collector does about one existing object.
fn collect(sb: &Sandbox, rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if is_deleting(obj) && has_finalizer(obj, ORPHAN) {
        orphan_dependents(sb, rt, obj)?;
    } else if is_deleting(obj) && has_finalizer(obj, FOREGROUND) {
        delete_dependents_first(sb, rt, obj)?;
    }
    if !owner_refs(obj).is_empty() {
        attempt_to_delete(sb, rt, obj)?;
    }
    Ok(())
}

/// How an ownerReference stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The owner exists (or is of a kind the sandbox cannot check).
    Solid,
    /// No object with that uid exists any more.
    Dangling,
    /// The owner is being deleted in the foreground: its dependents go first.
    Waiting,
}

fn classify(sb: &Sandbox, obj: &Value, reference: &Value) -> Owner {
    let Some((rt, target)) = owner_target(sb.registry(), reference, object::namespace(obj)) else {
        return Owner::Solid;
    };
    let namespace = rt.namespaced.then_some(target.namespace.as_str());
    match sb.get(rt, namespace, &target.name) {
        Some(owner) if owner["metadata"]["uid"] == reference["uid"] => {
            if is_deleting(&owner) && has_finalizer(&owner, FOREGROUND) { Owner::Waiting } else { Owner::Solid }
        }
        _ => Owner::Dangling,
    }
}

/// Deletes an object none of whose owners remain; drops the references to gone owners from an
/// object that still has a live one.
fn attempt_to_delete(sb: &Sandbox, rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if is_deleting(obj) {
        return Ok(());
    }
    let refs = owner_refs(obj);
    let states: Vec<Owner> = refs.iter().map(|r| classify(sb, obj, r)).collect();
    if states.iter().all(|s| *s == Owner::Solid) {
        return Ok(());
    }
    if states.contains(&Owner::Solid) {
        let gone: Vec<&str> = refs
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s != Owner::Solid)
            .filter_map(|(r, _)| r["uid"].as_str())
            .collect();
        let result = sb.modify(
            rt,
            Some(object::namespace(obj)),
            object::name(obj),
            UpdateScope::Main,
            WriteOptions::default(),
            |current| Ok(gone.iter().fold(current.clone(), |next, uid| owners::without_owner(&next, uid))),
        );
        return ignore_missing(result.map(|_| ()));
    }
    // Owners waiting on their dependents pass that on to this object's own dependents.
    let propagation = if states.contains(&Owner::Waiting) && !dependents_of(sb, rt, obj).is_empty() {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    let options = DeleteOptions { uid: Some(object::uid(obj).to_string()), propagation, ..Default::default() };
    ignore_missing(sb.delete(rt, Some(object::namespace(obj)), object::name(obj), &options).map(|_| ()))
}

/// Foreground deletion: delete the dependents, and release the owner once none that block it remain.
fn delete_dependents_first(sb: &Sandbox, rt: &ResourceType, owner: &Value) -> Result<(), ApiError> {
    for (dep_rt, dep) in dependents_of(sb, rt, owner) {
        attempt_to_delete(sb, dep_rt, &dep)?;
    }
    let uid = object::uid(owner);
    let blocked = dependents_of(sb, rt, owner)
        .iter()
        .any(|(_, dep)| owner_refs(dep).iter().any(|r| r["uid"] == uid && r["blockOwnerDeletion"] == true));
    if blocked {
        return Ok(());
    }
    remove_finalizer(sb, rt, owner, FOREGROUND)
}

/// Orphan deletion: the dependents forget the owner, then the owner goes.
fn orphan_dependents(sb: &Sandbox, rt: &ResourceType, owner: &Value) -> Result<(), ApiError> {
    for (dep_rt, dep) in dependents_of(sb, rt, owner) {
        release(sb, dep_rt, &dep, object::uid(owner))?;
    }
    remove_finalizer(sb, rt, owner, ORPHAN)
}

fn remove_finalizer(sb: &Sandbox, rt: &ResourceType, obj: &Value, finalizer: &str) -> Result<(), ApiError> {
    let namespace = rt.namespaced.then(|| object::namespace(obj));
    let result = sb.modify(rt, namespace, object::name(obj), UpdateScope::Main, WriteOptions::default(), |current| {
        let mut next = current.clone();
        let kept: Vec<Value> = current["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .cloned()
            .collect();
        match next["metadata"].as_object_mut() {
            Some(meta) if kept.is_empty() => {
                meta.remove("finalizers");
            }
            Some(meta) => {
                meta.insert("finalizers".into(), json!(kept));
            }
            None => {}
        }
        Ok(next)
    });
    ignore_missing(result.map(|_| ()))
}

/// Gone already, or replaced by a newer object: either way not this collector's concern now.
fn ignore_missing(result: Result<(), ApiError>) -> Result<(), ApiError> {
    match result {
        Err(error) if error.is_not_found() || error.is_conflict() => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_version_names_its_group() {
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("rbac.authorization.k8s.io/v1"), "rbac.authorization.k8s.io");
    }

    #[test]
    fn an_owner_reference_resolves_to_its_type_and_namespace() {
        let reference = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u"});
        let (rt, target) = owner_target(Registry::builtin(), &reference, "team").unwrap();
        assert_eq!(rt.plural, "replicasets");
        assert_eq!((target.namespace.as_str(), target.name.as_str()), ("team", "web-1"));
        let node = json!({"apiVersion": "v1", "kind": "Node", "name": "sandbox", "uid": "u"});
        assert_eq!(owner_target(Registry::builtin(), &node, "team").unwrap().1.namespace, "");
        assert!(
            owner_target(
                Registry::builtin(),
                &json!({"apiVersion": "example.com/v1", "kind": "Thing", "name": "x"}),
                "team"
            )
            .is_none()
        );
    }

    fn event(kind: EventType, object: Value, old: Option<Value>) -> WatchEvent {
        WatchEvent {
            kind,
            rv: 1,
            resource: builtin_type("", "configmaps").id(),
            object: Arc::new(object),
            old: old.map(Arc::new),
        }
    }

    #[test]
    fn only_writes_that_touch_ownership_or_deletion_reach_the_collector() {
        let gc = GarbageCollector::default();
        let plain = json!({"metadata": {"name": "c", "namespace": "default"}});
        let owned = json!({"metadata": {"name": "c", "namespace": "default", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u"}]}});
        let deleting = json!({"metadata": {"name": "c", "namespace": "default", "deletionTimestamp": "t"}});
        assert!(gc.triggers(&event(EventType::Added, plain.clone(), None)).is_empty());
        assert!(gc.triggers(&event(EventType::Modified, plain.clone(), Some(plain.clone()))).is_empty());
        assert_eq!(gc.triggers(&event(EventType::Added, owned.clone(), None)).len(), 1);
        // Letting go of an owner concerns the object and the owner it left.
        assert_eq!(gc.triggers(&event(EventType::Modified, plain.clone(), Some(owned))).len(), 2);
        assert_eq!(gc.triggers(&event(EventType::Modified, deleting, Some(plain.clone()))).len(), 1);
        assert_eq!(gc.triggers(&event(EventType::Deleted, plain, None)).len(), 1);
    }
}

//! ControllerRevisions: the history a StatefulSet or DaemonSet keeps of its pod templates, as
//! upstream's controller history does. Each template the set ran is one revision, named like its
//! pods' `controller-revision-hash` (`NAME-HASH`), numbered in the order they were current, holding
//! the template as the patch that restores it (`{"spec":{"template":{…,"$patch":"replace"}}}`). That
//! is what `kubectl rollout history` lists and what `kubectl rollout undo` patches back; going back
//! to an earlier template makes its revision the newest again instead of a copy. The oldest are
//! dropped beyond `spec.revisionHistoryLimit` (10).

use crate::owners::{self, is_controlled_by};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::cluster::{DeleteOptions, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceType, builtin_type};
use serde_json::{Value, json};
use std::sync::Arc;

/// The ControllerRevisions type.
pub fn controller_revisions() -> &'static ResourceType {
    builtin_type("apps", "controllerrevisions")
}

/// The label upstream puts the template's hash under on a revision.
const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The revisions `set` controls, oldest first.
pub fn history(sb: &Sandbox, set: &Value) -> Vec<Arc<Value>> {
    let (all, _) = sb
        .store()
        .list(&controller_revisions().id(), Some(object::namespace(set)), None, 0, |r| is_controlled_by(r, set));
    let mut list = all.items;
    list.sort_by_key(|r| r["revision"].as_i64().unwrap_or(0));
    list
}

/// Makes `name` (the current template's `NAME-HASH`, `hash` its hash part) the set's newest
/// revision, creating it if needed, then drops the oldest beyond the limit; returns its number.
pub fn record(sb: &Sandbox, set: &Value, name: &str, hash: &str) -> Result<i64, ApiError> {
    let namespace = object::namespace(set);
    let list = history(sb, set);
    let newest = list.last().and_then(|r| r["revision"].as_i64()).unwrap_or(0);
    let number = match list.iter().find(|r| object::name(r) == name) {
        Some(current) if current["revision"].as_i64() == Some(newest) => newest,
        Some(_) => {
            // Back to an earlier template (a rollback): that revision becomes the newest.
            let rt = controller_revisions();
            sb.modify(rt, Some(namespace), name, UpdateScope::Main, WriteOptions::default(), |current| {
                let mut next = current.clone();
                next["revision"] = json!(newest + 1);
                Ok(next)
            })?;
            newest + 1
        }
        None => {
            create(sb, set, name, hash, newest + 1)?;
            newest + 1
        }
    };
    prune(sb, set, name)?;
    Ok(number)
}

fn create(sb: &Sandbox, set: &Value, name: &str, hash: &str, number: i64) -> Result<(), ApiError> {
    let template = &set["spec"]["template"];
    let mut labels = template["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), json!(hash));
    let mut restore = template.clone();
    restore["$patch"] = json!("replace");
    let revision = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {
            "name": name, "namespace": object::namespace(set), "labels": labels,
            // As upstream, the set's annotations travel along (kubectl's CHANGE-CAUSE is one).
            "annotations": set["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
            "ownerReferences": [owners::owner_reference(set)],
        },
        "data": {"spec": {"template": restore}},
        "revision": number,
    });
    match sb.create(controller_revisions(), Some(object::namespace(set)), revision, WriteOptions::default()) {
        Err(e) if e.reason == Reason::AlreadyExists => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Deletes the oldest revisions beyond `spec.revisionHistoryLimit`, never the current one.
fn prune(sb: &Sandbox, set: &Value, current: &str) -> Result<(), ApiError> {
    let limit = set["spec"]["revisionHistoryLimit"].as_u64().unwrap_or(10) as usize;
    let old: Vec<Arc<Value>> = history(sb, set).into_iter().filter(|r| object::name(r) != current).collect();
    for revision in old.iter().take(old.len().saturating_sub(limit)) {
        let options = DeleteOptions { uid: Some(object::uid(revision).to_string()), ..Default::default() };
        match sb.delete(controller_revisions(), Some(object::namespace(set)), object::name(revision), &options) {
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

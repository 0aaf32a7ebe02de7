//! Keeping the served custom resources in step with the stored CustomResourceDefinitions: after
//! every write to a definition (and at start) the sandbox reads them all, accepts their names,
//! sets `status.conditions` (`NamesAccepted`, `Established`), `acceptedNames` and
//! `storedVersions` as upstream, and swaps in a registry that serves them. A definition being
//! deleted is still served (its cleanup, a controller, deletes its resources and then removes the
//! `customresourcecleanup` finalizer) and gets upstream's `Terminating` condition; one that is
//! gone takes any resource left with it. Done synchronously, so that `kubectl get <plural>` right
//! after `kubectl apply -f crd.yaml` finds the new type.

use super::{accepted_names, types_from_crd};
use crate::cluster::{Sandbox, WriteOptions};
use crate::lifecycle::UpdateScope;
use crate::registry::{Registry, ResourceType, builtin_type};
use crate::store::Change;
use serde_json::{Value, json};
use std::sync::{Mutex, RwLock};

/// The served registry (built-in kinds plus accepted custom resources) and what it was built from.
#[derive(Debug)]
pub struct CustomState {
    registry: RwLock<&'static Registry>,
    /// `uid/generation` of each definition served: the registry is rebuilt only when it changes.
    served: Mutex<Vec<String>>,
}

impl Default for CustomState {
    fn default() -> Self {
        Self { registry: RwLock::new(Registry::builtin()), served: Mutex::new(Vec::new()) }
    }
}

impl CustomState {
    /// The registry requests are served from now.
    pub fn registry(&self) -> &'static Registry {
        *self.registry.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The finalizer a definition's first DELETE puts on it; its cleanup controller removes it once
/// the definition's custom resources are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The `Terminating` condition upstream gives a definition being deleted, with this reason and
/// message.
pub fn terminating_condition(reason: &str, message: &str) -> Value {
    json!({"type": "Terminating", "status": "True", "reason": reason, "message": message,
           "lastTransitionTime": crate::time::now_rfc3339()})
}

/// The type every definition is stored as.
pub fn definitions() -> &'static ResourceType {
    builtin_type("apiextensions.k8s.io", "customresourcedefinitions")
}

impl Sandbox {
    /// Serves exactly the custom resources of the stored definitions (see the module doc).
    pub fn refresh_custom_types(&self) {
        let state = self.custom_state();
        let mut served = state.served.lock().unwrap_or_else(|e| e.into_inner());
        let (snapshot, _) = self.store().list(&definitions().id(), None, None, 0, |_| true);
        let mut types: Vec<ResourceType> = Vec::new();
        let mut fingerprint = Vec::new();
        for crd in &snapshot.items {
            let candidates = types_from_crd(crd);
            let taken = candidates
                .iter()
                .find(|t| Registry::builtin().by_id(&t.id()).is_some() || types.iter().any(|o| o.id() == t.id()));
            let conflict = taken.map(|t| format!("\"{}\" is already in use", t.plural));
            self.set_definition_status(crd, conflict.as_deref());
            if conflict.is_none() {
                let meta = &crd["metadata"];
                fingerprint.push(format!("{}/{}", meta["uid"], meta["generation"]));
                types.extend(candidates);
            }
        }
        if *served == fingerprint {
            return;
        }
        let old = state.registry();
        let new = Registry::with_custom(&types);
        *state.registry.write().unwrap_or_else(|e| e.into_inner()) = new;
        *served = fingerprint;
        for gone in old.types().iter().filter(|t| t.custom.is_some() && new.by_id(&t.id()).is_none()) {
            self.purge(gone);
        }
    }

    /// Removes every object of a type no longer served (its definition was deleted).
    fn purge(&self, rt: &ResourceType) {
        let (snapshot, _) = self.store().list(&rt.id(), None, None, 0, |_| true);
        for obj in &snapshot.items {
            let meta = &obj["metadata"];
            let key = Sandbox::key(rt, meta["namespace"].as_str(), meta["name"].as_str().unwrap_or_default());
            // A failed removal leaves an object nobody can reach; the next purge retries it.
            let _ = self.store().write::<crate::errors::ApiError>(&key, false, |_| Ok(Change::Delete));
        }
    }

    /// Writes the definition's status as upstream's controllers would, when it differs.
    fn set_definition_status(&self, crd: &Value, conflict: Option<&str>) {
        let wanted = definition_status(crd, conflict);
        let old = &crd["status"];
        let same_conditions = |a: &Value, b: &Value| {
            let key = |v: &Value| {
                let list = v["conditions"].as_array().cloned().unwrap_or_default();
                list.iter().map(|c| (c["type"].clone(), c["status"].clone(), c["reason"].clone())).collect::<Vec<_>>()
            };
            key(a) == key(b)
        };
        if same_conditions(old, &wanted)
            && old["acceptedNames"] == wanted["acceptedNames"]
            && old["storedVersions"] == wanted["storedVersions"]
        {
            return;
        }
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let opts = WriteOptions { manager: Some("kube-apiserver".into()), ..WriteOptions::default() };
        let _ = self.modify(definitions(), None, name, UpdateScope::Status, opts, |current| {
            let mut new = current.clone();
            new["status"] = wanted;
            Ok(new)
        });
    }
}

/// The status upstream's naming and establishing controllers give a definition.
fn definition_status(crd: &Value, conflict: Option<&str>) -> Value {
    let now = crate::time::now_rfc3339();
    let condition = |kind: &str, ok: bool, reason: &str, message: &str| {
        json!({"type": kind, "status": if ok { "True" } else { "False" }, "reason": reason, "message": message,
               "lastTransitionTime": now})
    };
    let storage = crd["spec"]["versions"].as_array().into_iter().flatten().find(|v| v["storage"] == true);
    let mut stored: Vec<Value> = crd["status"]["storedVersions"].as_array().cloned().unwrap_or_default();
    if let Some(version) = storage.map(|v| v["name"].clone())
        && !stored.contains(&version)
    {
        stored.push(version);
    }
    let (conditions, names) = match conflict {
        None => (
            vec![
                condition("NamesAccepted", true, "NoConflicts", "no conflicts found"),
                condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            accepted_names(crd),
        ),
        Some(why) => (
            vec![
                condition("NamesAccepted", false, "NameConflict", why),
                condition("Established", false, "NotAccepted", "not all names are accepted"),
            ],
            json!({"plural": "", "kind": ""}),
        ),
    };
    let mut conditions = conditions;
    if crd["metadata"]["deletionTimestamp"].is_string() {
        // Kept as the cleanup last set it; the one the DELETE sets upstream until then.
        let current = crd["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Terminating");
        conditions.push(current.cloned().unwrap_or_else(|| {
            terminating_condition(
                "InstanceDeletionPending",
                "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
            )
        }));
    }
    json!({"conditions": conditions, "acceptedNames": names, "storedVersions": stored})
}

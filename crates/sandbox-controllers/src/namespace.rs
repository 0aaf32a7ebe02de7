//! What every active namespace gets on a real cluster, kept in place: the `default`
//! ServiceAccount (upstream's serviceaccount controller) and the `kube-root-ca.crt` ConfigMap
//! with the cluster's CA (upstream's root-ca-cert-publisher).

use super::owners::is_deleting;
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::time;
use gitops_sandbox_core::watch::{EventType, WatchEvent};
use serde_json::{Value, json};

/// The ConfigMap every namespace gets.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
/// How long a deleted namespace stays untouched before it is emptied (upstream waits 5 s; the
/// deletionTimestamp has whole seconds, so this means one to two seconds).
const DELETION_GRACE: std::time::Duration = std::time::Duration::from_secs(2);
/// How soon a namespace whose objects are still going away is looked at again, if no deletion
/// wakes its controller first.
const EMPTYING_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);
const DESCRIPTION_KEY: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal \
    endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across \
    distributions of Kubernetes clusters.";

/// Creates (and recreates) each namespace's default ServiceAccount and root CA ConfigMap.
pub struct NamespaceController;

fn namespaces() -> &'static ResourceType {
    builtin_type("", "namespaces")
}

fn service_accounts() -> &'static ResourceType {
    builtin_type("", "serviceaccounts")
}

fn config_maps() -> &'static ResourceType {
    builtin_type("", "configmaps")
}

impl Controller for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace-defaults"
    }

    fn primary(&self) -> ResourceId {
        namespaces().id()
    }

    /// `triggers` is pure and cheap here: the same answer, asked before waking the task.
    fn wants(&self, event: &WatchEvent) -> bool {
        !self.triggers(event).is_empty()
    }

    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        let primary = self.primary();
        if event.resource == primary {
            return vec![ObjectRef::of(&primary, &event.object)];
        }
        let ours = (event.resource == service_accounts().id() && object::name(&event.object) == "default")
            || (event.resource == config_maps().id() && object::name(&event.object) == ROOT_CA_CONFIGMAP);
        // A deletion may be the last thing a Terminating namespace waits for.
        let emptying = event.kind == EventType::Deleted && !object::namespace(&event.object).is_empty();
        if !ours && !emptying {
            return Vec::new();
        }
        vec![ObjectRef {
            resource: primary,
            namespace: String::new(),
            name: object::namespace(&event.object).to_string(),
        }]
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(ns) = sb.get(namespaces(), None, &target.name) else {
            return Ok(Action::Done);
        };
        if is_deleting(&ns) {
            // Like upstream's controller, wait a moment before emptying a namespace, so that a
            // `kubectl delete -f` listing the namespace first still finds the objects after it.
            let since =
                time::parse(&ns["metadata"]["deletionTimestamp"]).map(|t| jiff::Timestamp::now().duration_since(t));
            let waited = since.and_then(|d| std::time::Duration::try_from(d).ok()).unwrap_or(DELETION_GRACE);
            if waited < DELETION_GRACE {
                return Ok(Action::RequeueAfter(DELETION_GRACE - waited));
            }
            return Ok(match finish(sb, &target.name)? {
                true => Action::Done,
                // Objects still being deleted (graceful pods, finalizers): their deletions
                // trigger another pass; the requeue is a backstop.
                false => Action::RequeueAfter(EMPTYING_RECHECK),
            });
        }
        if ns["status"]["phase"] == "Terminating" {
            return Ok(Action::Done);
        }
        ensure_service_account(sb, &target.name)?;
        ensure_root_ca(sb, &target.name)?;
        Ok(Action::Done)
    }
}

fn ensure_service_account(sb: &Sandbox, namespace: &str) -> Result<(), ApiError> {
    if sb.get(service_accounts(), Some(namespace), "default").is_some() {
        return Ok(());
    }
    let account =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}});
    settled(sb.create(service_accounts(), Some(namespace), account, WriteOptions::default()).map(|_| ()))
}

/// The root CA ConfigMap as the publisher writes it.
pub fn root_ca_config_map(namespace: &str, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace, "annotations": {DESCRIPTION_KEY: DESCRIPTION}},
        "data": {"ca.crt": ca_pem},
    })
}

fn ensure_root_ca(sb: &Sandbox, namespace: &str) -> Result<(), ApiError> {
    let ca_pem = sb.certificates().ca_pem.clone();
    let wanted = json!({"ca.crt": ca_pem});
    match sb.get(config_maps(), Some(namespace), ROOT_CA_CONFIGMAP) {
        None => {
            let config_map = root_ca_config_map(namespace, &ca_pem);
            settled(sb.create(config_maps(), Some(namespace), config_map, WriteOptions::default()).map(|_| ()))
        }
        Some(current)
            if current["data"] == wanted && current["metadata"]["annotations"][DESCRIPTION_KEY].is_string() =>
        {
            Ok(())
        }
        // Someone edited it: the publisher puts the CA back, as upstream's does.
        Some(_) => {
            let result = sb.modify(
                config_maps(),
                Some(namespace),
                ROOT_CA_CONFIGMAP,
                UpdateScope::Main,
                WriteOptions::default(),
                |current| {
                    let mut next = current.clone();
                    next["data"] = wanted.clone();
                    next["metadata"]["annotations"][DESCRIPTION_KEY] = json!(DESCRIPTION);
                    Ok(next)
                },
            );
            settled(result.map(|_| ()))
        }
    }
}

/// Empties a Terminating namespace through ordinary deletes (so finalizers and graceful pods are
/// honoured, as upstream's namespace controller does), then removes it once nothing is left.
/// Whether the namespace is gone.
pub fn finish(sb: &Sandbox, name: &str) -> Result<bool, ApiError> {
    let mut left = false;
    for rt in sb.registry().types().iter().filter(|t| t.namespaced) {
        let (snapshot, _) = sb.store().list(&rt.id(), Some(name), None, 0, |_| true);
        for object in &snapshot.items {
            left = true;
            if is_deleting(object) {
                continue;
            }
            // Gone meanwhile, or held: the next pass sees it.
            settled(sb.delete(rt, Some(name), object::name(object), &DeleteOptions::default()).map(|_| ()))?;
        }
    }
    if left {
        let remaining = sb.registry().types().iter().filter(|t| t.namespaced);
        if remaining.into_iter().any(|rt| !sb.store().list(&rt.id(), Some(name), None, 1, |_| true).0.items.is_empty())
        {
            return Ok(false);
        }
    }
    sb.finalize(namespaces(), None, name, None)
}

/// Races that end in the wanted state (created meanwhile, or the namespace is going away) are fine.
fn settled(result: Result<(), ApiError>) -> Result<(), ApiError> {
    match result {
        Err(error) if error.is_conflict() || matches!(error.reason, Reason::Forbidden | Reason::NotFound) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_ca_config_map_carries_the_ca_and_upstreams_description() {
        let cm = root_ca_config_map("team", "-----BEGIN CERTIFICATE-----\n");
        assert_eq!(cm["metadata"]["name"], "kube-root-ca.crt");
        assert_eq!(cm["metadata"]["namespace"], "team");
        assert_eq!(cm["data"]["ca.crt"], "-----BEGIN CERTIFICATE-----\n");
        assert!(cm["metadata"]["annotations"][DESCRIPTION_KEY].as_str().unwrap().starts_with("Contains a CA bundle"));
    }

    use gitops_sandbox_core::testing::sandbox;

    #[test]
    fn deleting_a_namespace_deletes_its_objects() {
        let (_dir, sb) = sandbox();
        let ns = builtin_type("", "namespaces");
        sb.create(ns, None, json!({"metadata": {"name": "team"}}), WriteOptions::default()).unwrap();
        sb.create(config_maps(), Some("team"), json!({"metadata": {"name": "x"}}), WriteOptions::default()).unwrap();
        let marked = sb.delete(ns, None, "team", &DeleteOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(marked["status"]["phase"], "Terminating");
        assert!(sb.get(config_maps(), Some("team"), "x").is_some(), "contents stay until the controller's pass");
        assert!(finish(&sb, "team").unwrap());
        assert!(sb.get(config_maps(), Some("team"), "x").is_none());
        assert!(sb.get(ns, None, "team").is_none());
    }

    #[test]
    fn a_namespace_waits_for_an_object_held_by_a_finalizer() {
        let (_dir, sb) = sandbox();
        let ns = builtin_type("", "namespaces");
        sb.create(ns, None, json!({"metadata": {"name": "team"}}), WriteOptions::default()).unwrap();
        let held = json!({"metadata": {"name": "x", "finalizers": ["example.com/hold"]}});
        sb.create(config_maps(), Some("team"), held, WriteOptions::default()).unwrap();
        sb.delete(ns, None, "team", &DeleteOptions::default()).unwrap();
        assert!(!finish(&sb, "team").unwrap(), "the held ConfigMap keeps the namespace");
        let marked = sb.get(config_maps(), Some("team"), "x").unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(sb.get(ns, None, "team").is_some());
        let release = |cm: &Value| {
            let mut cm = cm.clone();
            cm["metadata"]["finalizers"] = json!([]);
            Ok(cm)
        };
        sb.modify(config_maps(), Some("team"), "x", UpdateScope::Main, WriteOptions::default(), release).unwrap();
        assert!(finish(&sb, "team").unwrap());
        assert!(sb.get(ns, None, "team").is_none());
    }
}

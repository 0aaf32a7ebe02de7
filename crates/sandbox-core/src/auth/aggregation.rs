//! ClusterRole aggregation, as upstream's `clusterrole-aggregation` controller does it: a
//! ClusterRole with an `aggregationRule` gets, as its rules, the rules of every other ClusterRole
//! that one of its `clusterRoleSelectors` selects — in the order of their names, each rule once.
//! The built-in `admin`, `edit` and `view` are made this way (from `system:aggregate-to-*`), so a
//! ClusterRole labelled `rbac.authorization.k8s.io/aggregate-to-edit: "true"` (as operators ship
//! for their custom resources) extends what `edit` grants.
//!
//! The rules are computed here, purely; the sandbox applies them at bootstrap and the controller
//! (`gitops-lab-sandbox-controllers`) whenever a ClusterRole changes.

use crate::Sandbox;
use crate::cluster::WriteOptions;
use crate::errors::ApiResult;
use crate::lifecycle::UpdateScope;
use crate::registry::{ResourceType, builtin_type};
use crate::selectors::LabelSelector;
use serde_json::{Value, json};

/// The ClusterRoles type.
pub fn cluster_roles() -> &'static ResourceType {
    builtin_type("rbac.authorization.k8s.io", "clusterroles")
}

/// Whether a ClusterRole is aggregated (has an `aggregationRule`).
pub fn is_aggregated(role: &Value) -> bool {
    role["aggregationRule"].is_object()
}

/// The rules `role` aggregates from `roles` (every ClusterRole; `role` itself is skipped), or
/// `None` when it has no `aggregationRule`. A selector that does not parse selects nothing.
pub fn aggregated_rules<'a>(role: &Value, roles: impl IntoIterator<Item = &'a Value>) -> Option<Vec<Value>> {
    let selectors: Vec<LabelSelector> = role["aggregationRule"]["clusterRoleSelectors"]
        .as_array()?
        .iter()
        .filter_map(|s| LabelSelector::from_object(s).ok())
        .collect();
    let own = role["metadata"]["name"].as_str();
    let mut sources: Vec<&Value> = roles
        .into_iter()
        .filter(|r| r["metadata"]["name"].as_str() != own)
        .filter(|r| selectors.iter().any(|s| s.matches(r["metadata"].get("labels"))))
        .collect();
    sources.sort_by(|a, b| a["metadata"]["name"].as_str().cmp(&b["metadata"]["name"].as_str()));
    let mut rules: Vec<Value> = Vec::new();
    for rule in sources.iter().flat_map(|r| r["rules"].as_array().into_iter().flatten()) {
        if !rules.contains(rule) {
            rules.push(rule.clone());
        }
    }
    Some(rules)
}

/// Brings the aggregated ClusterRole `name` up to date with the ClusterRoles it selects; says
/// whether it changed (nothing happens for a role that is gone, not aggregated, or current).
pub fn reconcile(sandbox: &Sandbox, name: &str) -> ApiResult<bool> {
    let rt = cluster_roles();
    let Some(role) = sandbox.get(rt, None, name) else { return Ok(false) };
    let (all, _) = sandbox.store().list(&rt.id(), None, None, 0, |_| true);
    let Some(rules) = aggregated_rules(&role, all.items.iter().map(|r| r.as_ref())) else { return Ok(false) };
    if role["rules"].as_array().map(Vec::as_slice).unwrap_or_default() == rules.as_slice() {
        return Ok(false);
    }
    sandbox.modify(rt, None, name, UpdateScope::Main, WriteOptions::default(), |current| {
        let mut new = current.clone();
        new["rules"] = json!(rules);
        Ok(new)
    })?;
    Ok(true)
}

/// How many rounds [`reconcile_all`] makes at most: aggregated roles may select aggregated roles
/// (admin takes edit's rules, edit view's), and a chain longer than this is not worth following.
const ROUNDS: usize = 8;

/// Every aggregated ClusterRole up to date, repeated until nothing changes since one may feed
/// another (at bootstrap, before anyone is authorised by them).
pub fn reconcile_all(sandbox: &Sandbox) -> ApiResult<()> {
    let rt = cluster_roles();
    for _ in 0..ROUNDS {
        let (all, _) = sandbox.store().list(&rt.id(), None, None, 0, is_aggregated);
        let mut changed = false;
        for role in all.items {
            changed |= reconcile(sandbox, role["metadata"]["name"].as_str().unwrap_or_default())?;
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

/// [`reconcile_all`] over objects in memory (the ClusterRoles among them; tests of the authorizer
/// read the bootstrap file).
pub fn settle(objects: &mut [Value]) {
    let is_role = |o: &Value| o["kind"] == "ClusterRole";
    for _ in 0..ROUNDS {
        let mut changed = false;
        for at in 0..objects.len() {
            if !is_role(&objects[at]) {
                continue;
            }
            if let Some(rules) = aggregated_rules(&objects[at], objects.iter().filter(|o| is_role(o))) {
                changed |= objects[at]["rules"] != json!(rules);
                objects[at]["rules"] = json!(rules);
            }
        }
        if !changed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, labels: Value, rules: Value) -> Value {
        json!({"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules})
    }

    #[test]
    fn an_aggregated_role_takes_the_selected_roles_rules_in_name_order_each_once() {
        let read = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]});
        let write = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]});
        let widgets = json!({"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["*"]});
        let edit = json!({"kind": "ClusterRole", "metadata": {"name": "edit"}, "rules": [],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}}]}});
        let label = json!({"rbac.authorization.k8s.io/aggregate-to-edit": "true"});
        let roles = [
            role("z-widgets", label.clone(), json!([widgets])),
            role("system:aggregate-to-edit", label.clone(), json!([read, write])),
            role("a-reader", label, json!([read])),
            role("other", json!({}), json!([widgets])),
            edit.clone(),
        ];
        let rules = aggregated_rules(&edit, roles.iter()).unwrap();
        assert_eq!(rules, vec![read, write, widgets], "a-reader, system:…, z-widgets; the repeat of `read` once");
        assert_eq!(aggregated_rules(&roles[3], roles.iter()), None, "not aggregated");
    }

    #[test]
    fn the_bootstrap_roles_settle_into_view_within_edit_within_admin() {
        let mut boot: Vec<Value> = crate::auth::bootstrap_rbac::objects().unwrap();
        settle(&mut boot);
        let rules = |name: &str| {
            boot.iter().find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == name).unwrap()["rules"]
                .as_array()
                .unwrap()
                .clone()
        };
        let (admin, edit, view) = (rules("admin"), rules("edit"), rules("view"));
        assert!(!view.is_empty() && view.iter().all(|r| edit.contains(r)), "view within edit");
        assert!(edit.len() > view.len() && edit.iter().all(|r| admin.contains(r)), "edit within admin");
        assert!(admin.len() > edit.len(), "admin adds the roles and bindings");
        assert!(
            !view.iter().any(|r| r["resources"].as_array().unwrap().iter().any(|x| x == "secrets")),
            "view shows no Secrets"
        );
    }

    #[test]
    fn a_bad_selector_selects_nothing() {
        let odd = json!({"metadata": {"name": "odd"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": "not a map"}]}});
        let roles = [role("x", json!({"a": "b"}), json!([{"verbs": ["get"]}]))];
        assert_eq!(aggregated_rules(&odd, roles.iter()), Some(Vec::new()));
    }
}

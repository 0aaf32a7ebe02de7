//! The default RBAC of a 1.32 cluster (`data/bootstrap-rbac.yaml`) and how it is kept at every
//! start, as upstream's API server does in its bootstrap-roles post-start hook.
//!
//! A default missing from the store is created; one whose `rbac.authorization.kubernetes.io/autoupdate`
//! annotation is not `"false"` gains the rules, subjects, labels and annotations it lacks (nothing is
//! removed: a learner's additions stay). Aggregated roles keep the rules the aggregation controller
//! gives them. Older sandboxes, created with a handful of roles, so catch up on their next start.

use serde_json::{Value, json};

/// The data file, as compiled in.
pub const DATA: &str = include_str!("../data/bootstrap-rbac.yaml");

/// The annotation that opts a default out of reconciling when `"false"`.
pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// The label every default carries.
pub const BOOTSTRAPPING: &str = "kubernetes.io/bootstrapping";

/// The defaults: ClusterRoles, ClusterRoleBindings, Roles and RoleBindings.
pub fn objects() -> Result<Vec<Value>, String> {
    serde_norway::from_str(DATA).map_err(|e| e.to_string())
}

/// Whether `object` is one of the defaults (by its label), which the object limit leaves out.
pub fn is_default(object: &Value) -> bool {
    object["metadata"]["labels"][BOOTSTRAPPING] == "rbac-defaults"
}

/// What `current` must become to hold everything `wanted` declares, or `None` when it already does
/// or its owner turned reconciling off.
pub fn reconcile(current: &Value, wanted: &Value) -> Option<Value> {
    if current["metadata"]["annotations"][AUTOUPDATE] == "false" {
        return None;
    }
    let mut out = current.clone();
    let mut changed = false;
    for field in ["labels", "annotations"] {
        if let Some(want) = wanted["metadata"][field].as_object() {
            for (key, value) in want {
                if out["metadata"][field].get(key).is_none() {
                    if !out["metadata"][field].is_object() {
                        out["metadata"][field] = json!({});
                    }
                    out["metadata"][field][key] = value.clone();
                    changed = true;
                }
            }
        }
    }
    if wanted.get("roleRef").is_some() {
        changed |= add_missing(&mut out, wanted, "subjects", same_subject);
    } else if wanted["aggregationRule"].is_object() {
        // The aggregation controller owns the rules; only the selectors are ours to add.
        if !out["aggregationRule"].is_object() {
            out["aggregationRule"] = json!({ "clusterRoleSelectors": [] });
        }
        let mut rule = out["aggregationRule"].clone();
        changed |= add_missing(&mut rule, &wanted["aggregationRule"], "clusterRoleSelectors", |a, b| a == b);
        out["aggregationRule"] = rule;
    } else {
        changed |= add_missing(&mut out, wanted, "rules", covers);
    }
    changed.then_some(out)
}

/// Appends to `out[field]` each item of `wanted[field]` that no item already there `matches`.
fn add_missing(out: &mut Value, wanted: &Value, field: &str, matches: impl Fn(&Value, &Value) -> bool) -> bool {
    let Some(want) = wanted[field].as_array() else { return false };
    if !out[field].is_array() {
        out[field] = json!([]);
    }
    let mut changed = false;
    for item in want {
        let have = out[field].as_array().map(|a| a.iter().any(|h| matches(h, item))).unwrap_or(false);
        if !have && let Some(list) = out[field].as_array_mut() {
            list.push(item.clone());
            changed = true;
        }
    }
    changed
}

/// Subjects are the same when kind, name and namespace are (apiGroup is implied by the kind).
fn same_subject(a: &Value, b: &Value) -> bool {
    let ns = |s: &Value| s["namespace"].as_str().unwrap_or_default().to_string();
    a["kind"] == b["kind"] && a["name"] == b["name"] && ns(a) == ns(b)
}

/// Whether rule `have` grants at least what `want` does (each list a superset, `*` covering all);
/// a rule without resourceNames covers one with them.
fn covers(have: &Value, want: &Value) -> bool {
    let list = |rule: &Value, field: &str| -> Vec<String> {
        rule[field]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let superset = |field: &str| {
        let have = list(have, field);
        have.iter().any(|h| h == "*") || list(want, field).iter().all(|w| have.contains(w))
    };
    let names_ok = list(have, "resourceNames").is_empty() || superset("resourceNames");
    ["apiGroups", "resources", "verbs", "nonResourceURLs"].into_iter().all(superset) && names_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(rules: Value, annotations: Value) -> Value {
        json!({"kind": "ClusterRole", "metadata": {"name": "r", "labels": {BOOTSTRAPPING: "rbac-defaults"}, "annotations": annotations}, "rules": rules})
    }

    #[test]
    fn the_data_holds_the_upstream_defaults_each_labelled_and_annotated() {
        let all = objects().unwrap();
        let count = |kind: &str| all.iter().filter(|o| o["kind"] == kind).count();
        assert_eq!((count("ClusterRole"), count("ClusterRoleBinding")), (64, 45));
        assert_eq!((count("Role"), count("RoleBinding")), (7, 7));
        for o in &all {
            assert!(is_default(o), "{}", o["metadata"]["name"]);
            assert_eq!(o["metadata"]["annotations"][AUTOUPDATE], "true", "{}", o["metadata"]["name"]);
        }
        // Every binding points at a role of the file (in its namespace for a RoleBinding).
        for b in all.iter().filter(|o| o.get("roleRef").is_some()) {
            let target = all.iter().find(|r| {
                r["kind"] == b["roleRef"]["kind"]
                    && r["metadata"]["name"] == b["roleRef"]["name"]
                    && r["metadata"]["namespace"] == b["metadata"]["namespace"]
            });
            assert!(target.is_some(), "{} binds a role the file lacks", b["metadata"]["name"]);
        }
    }

    /// The default named `name` of `kind` (in `namespace` for a Role or RoleBinding).
    fn default_object(kind: &str, name: &str, namespace: Option<&str>) -> Value {
        let all = objects().unwrap();
        let found = all.into_iter().find(|o| {
            o["kind"] == kind && o["metadata"]["name"] == name && o["metadata"]["namespace"].as_str() == namespace
        });
        found.unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    /// Each rule of `role` as `groups|resources|verbs`, in the file's order, for comparing with
    /// upstream's golden file line by line.
    fn rule_lines(role: &Value) -> Vec<String> {
        let join = |rule: &Value, field: &str| {
            let items = rule[field].as_array().cloned().unwrap_or_default();
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect::<Vec<_>>().join(",")
        };
        let rules = role["rules"].as_array().cloned().unwrap_or_default();
        rules
            .iter()
            .map(|r| format!("{}|{}|{}", join(r, "apiGroups"), join(r, "resources"), join(r, "verbs")))
            .collect()
    }

    // What a comparison with v1.32.0's golden files found wrong; each assertion fails on the old data.
    #[test]
    fn the_data_matches_the_1_32_golden_files_where_it_had_drifted() {
        // edit and view keep the legacy `extensions` group, and edit manages Leases; the pieces keep
        // upstream's rule order (policy before networking.k8s.io), which `kubectl describe` shows.
        let edit = rule_lines(&default_object("ClusterRole", "system:aggregate-to-edit", None));
        let groups: Vec<&str> = edit.iter().map(|l| l.split('|').next().unwrap_or_default()).collect();
        assert_eq!(
            groups[6..],
            ["apps", "autoscaling", "batch", "extensions", "policy", "networking.k8s.io", "coordination.k8s.io"]
        );
        assert!(
            edit.contains(
                &"coordination.k8s.io|leases|create,delete,deletecollection,get,list,patch,update,watch".into()
            )
        );
        let view = rule_lines(&default_object("ClusterRole", "system:aggregate-to-view", None));
        let at = |lines: &[String], group: &str| lines.iter().position(|l| l.starts_with(&format!("{group}|")));
        assert!(at(&view, "batch") < at(&view, "extensions") && at(&view, "extensions") < at(&view, "policy"));
        // The kubelet's events rule names the core group only; the scheduler reads VolumeAttachments.
        let node = rule_lines(&default_object("ClusterRole", "system:node", None));
        assert!(node.contains(&"|events|create,patch,update".into()), "{node:?}");
        let scheduler = rule_lines(&default_object("ClusterRole", "system:kube-scheduler", None));
        let csinodes = scheduler.iter().position(|l| l == "storage.k8s.io|csinodes|get,list,watch");
        let attachments = scheduler.iter().position(|l| l == "storage.k8s.io|volumeattachments|get,list,watch");
        assert_eq!(attachments, csinodes.map(|i| i + 1));
        // The in-tree glusterfs and OpenStack plugins' rules are gone from the volume controllers.
        let binder = rule_lines(&default_object("ClusterRole", "system:controller:persistent-volume-binder", None));
        let expand = rule_lines(&default_object("ClusterRole", "system:controller:expand-controller", None));
        for gone in ["|endpoints|", "|services|", "|secrets|", "|nodes|"] {
            assert!(!binder.iter().chain(&expand).any(|l| l.contains(gone)), "{gone}");
        }
        assert!(!expand.iter().any(|l| l.contains("storageclasses")));
        // StatefulSet PVC auto-deletion watches claims and makes pods their owners.
        let sts = rule_lines(&default_object("ClusterRole", "system:controller:statefulset-controller", None));
        assert!(sts.contains(&"|persistentvolumeclaims|create,get,list,watch".into()));
        assert_eq!(sts.last().map(String::as_str), Some("|pods/finalizers|update"));
        // The controller manager and the scheduler read the front-proxy CA through a RoleBinding.
        let reader =
            default_object("RoleBinding", "system::extension-apiserver-authentication-reader", Some("kube-system"));
        assert_eq!(reader["roleRef"]["name"], "extension-apiserver-authentication-reader");
        let users: Vec<&Value> =
            reader["subjects"].as_array().map(|s| s.iter().map(|s| &s["name"]).collect()).unwrap_or_default();
        assert_eq!(users, ["system:kube-controller-manager", "system:kube-scheduler"]);
        // Roles of controllers behind feature gates that are off by default in 1.32 stay out.
        let all = objects().unwrap();
        for gated in [
            "system:controller:resource-claim-controller",
            "system:controller:service-cidrs-controller",
            "system:controller:selinux-warning-controller",
            "system:controller:storage-version-migrator-controller",
            "system:controller:volumeattributesclass-protection-controller",
            "system:cluster-trust-bundle-discovery",
        ] {
            assert!(!all.iter().any(|o| o["metadata"]["name"] == gated), "{gated}");
        }
    }

    #[test]
    fn a_missing_rule_is_added_and_a_learners_own_rule_kept() {
        let want =
            role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]), json!({AUTOUPDATE: "true"}));
        let mine = json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]});
        let have = role(json!([mine]), json!({}));
        let out = reconcile(&have, &want).expect("a change");
        assert_eq!(out["rules"].as_array().unwrap().len(), 2);
        assert_eq!(out["rules"][0], mine);
        assert_eq!(out["metadata"]["annotations"][AUTOUPDATE], "true");
        assert_eq!(reconcile(&out, &want), None, "settled after one pass");
    }

    #[test]
    fn a_broader_rule_covers_a_narrower_one() {
        let want = role(
            json!([{"apiGroups": [""], "resourceNames": ["x"], "resources": ["pods"], "verbs": ["get"]}]),
            json!({AUTOUPDATE: "true"}),
        );
        let have = role(
            json!([{"apiGroups": ["*"], "resources": ["pods", "secrets"], "verbs": ["get", "list"]}]),
            json!({AUTOUPDATE: "true"}),
        );
        assert_eq!(reconcile(&have, &want), None);
    }

    #[test]
    fn autoupdate_false_leaves_the_object_alone() {
        let want =
            role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]), json!({AUTOUPDATE: "true"}));
        let have = role(json!([]), json!({AUTOUPDATE: "false"}));
        assert_eq!(reconcile(&have, &want), None);
    }

    #[test]
    fn a_missing_subject_is_added_to_a_binding() {
        let sa = json!({"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"});
        let want =
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"}, "subjects": [sa]});
        let other = json!({"kind": "User", "name": "ada", "apiGroup": "rbac.authorization.k8s.io"});
        let have =
            json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"}, "subjects": [other]});
        let out = reconcile(&have, &want).unwrap();
        assert_eq!(out["subjects"], json!([other, sa]));
    }

    #[test]
    fn aggregated_roles_keep_their_rules() {
        let selectors = json!({"clusterRoleSelectors": [{"matchLabels": {"a": "true"}}]});
        let want =
            json!({"kind": "ClusterRole", "metadata": {"name": "view"}, "aggregationRule": selectors, "rules": []});
        let have = json!({"kind": "ClusterRole", "metadata": {"name": "view"}, "aggregationRule": selectors, "rules": [{"verbs": ["get"]}]});
        assert_eq!(reconcile(&have, &want), None);
    }
}

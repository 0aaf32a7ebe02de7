//! RBAC: which rules the bindings give a user, and whether one of them allows a request. Pure
//! functions over a snapshot of the roles and bindings, so every case is a table row in a test.

use super::Identity;
use super::attributes::Attributes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// The group whose members may do anything, without consulting RBAC.
pub const MASTERS: &str = "system:masters";

/// One RBAC `PolicyRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rule {
    /// Verbs, or `*`.
    pub verbs: Vec<String>,
    /// API groups (`""` is core), or `*`.
    pub api_groups: Vec<String>,
    /// Resources such as `pods`, `pods/exec`, `*/scale` or `*`.
    pub resources: Vec<String>,
    /// Object names the rule is limited to (empty = any).
    pub resource_names: Vec<String>,
    /// Non-resource paths such as `/healthz` or `/api/*`.
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl Rule {
    /// Whether this rule allows the request (upstream's `RuleAllows`).
    pub fn allows(&self, attrs: &Attributes) -> bool {
        if !has_or_star(&self.verbs, &attrs.verb) {
            return false;
        }
        let Some(r) = &attrs.resource else {
            return self.non_resource_urls.iter().any(|url| url_matches(url, &attrs.path));
        };
        let combined = r.combined();
        has_or_star(&self.api_groups, &r.group)
            && self.resources.iter().any(|res| {
                res == "*" || *res == combined || (!r.subresource.is_empty() && *res == format!("*/{}", r.subresource))
            })
            && (self.resource_names.is_empty() || self.resource_names.contains(&r.name))
    }
}

fn has_or_star(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

/// `*` matches every path, `/api/*` every path under `/api/`, anything else only itself.
fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RoleRef {
    kind: String,
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Binding {
    metadata: Meta,
    subjects: Vec<Subject>,
    role_ref: RoleRef,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Meta {
    name: String,
    namespace: String,
}

/// The roles and bindings an authorization looks at: every ClusterRole and ClusterRoleBinding,
/// and the Roles and RoleBindings of the request's namespace.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// ClusterRoles.
    pub cluster_roles: Vec<Arc<Value>>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<Arc<Value>>,
    /// Roles of the namespace.
    pub roles: Vec<Arc<Value>>,
    /// RoleBindings of the namespace.
    pub role_bindings: Vec<Arc<Value>>,
}

/// The answer to a request: allowed or not, and upstream's reason text (which binding allowed
/// it, or which referenced roles are missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// `RBAC: allowed by …`, `RBAC: clusterrole… not found`, or empty.
    pub reason: String,
}

/// Decides a request: members of `system:masters` may do anything; everyone else needs a rule
/// from a binding that names them.
pub fn authorize(user: &Identity, attrs: &Attributes, policy: &Policy) -> Decision {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Decision { allowed: true, reason: String::new() };
    }
    let namespace = attrs.resource.as_ref().map(|r| r.namespace.as_str()).unwrap_or_default();
    let mut reason = None;
    let errors = visit_rules(user, namespace, policy, |source, rule| {
        if rule.allows(attrs) {
            reason = Some(format!("RBAC: allowed by {source}"));
            return false;
        }
        true
    });
    match reason {
        Some(reason) => Decision { allowed: true, reason },
        None => Decision { allowed: false, reason: errors_reason(&errors) },
    }
}

/// Every rule the bindings give `user` in `namespace` (cluster-wide ones included), and the
/// errors met resolving the roles they reference.
pub fn rules_for(user: &Identity, namespace: &str, policy: &Policy) -> (Vec<Rule>, Vec<String>) {
    let mut rules = Vec::new();
    if user.groups.iter().any(|g| g == MASTERS) {
        let all = vec!["*".to_string()];
        rules.push(Rule { verbs: all.clone(), api_groups: all.clone(), resources: all.clone(), ..Rule::default() });
        rules.push(Rule { verbs: all.clone(), non_resource_urls: all, ..Rule::default() });
    }
    let errors = visit_rules(user, namespace, policy, |_, rule| {
        rules.push(rule.clone());
        true
    });
    (rules, errors)
}

/// `RBAC: <error>` or `RBAC: [<error>, <error>]`, duplicates dropped, as upstream aggregates them.
fn errors_reason(errors: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => format!("RBAC: {one}"),
        many => format!("RBAC: [{}]", many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
    }
}

/// Walks the rules of the bindings that name `user` — cluster bindings first, then the
/// namespace's — until `visit` returns false; returns the role references that did not resolve.
fn visit_rules(
    user: &Identity,
    namespace: &str,
    policy: &Policy,
    mut visit: impl FnMut(&str, &Rule) -> bool,
) -> Vec<String> {
    let mut errors = Vec::new();
    let scopes =
        [("ClusterRoleBinding", "", &policy.cluster_role_bindings), ("RoleBinding", namespace, &policy.role_bindings)];
    for (binding_kind, scope, bindings) in scopes {
        if binding_kind == "RoleBinding" && namespace.is_empty() {
            break;
        }
        for value in bindings.iter() {
            let Ok(binding) = Binding::deserialize(value.as_ref()) else {
                continue;
            };
            if binding_kind == "RoleBinding" && binding.metadata.namespace != namespace {
                continue;
            }
            let Some(subject) = binding.subjects.iter().find(|s| applies_to(user, s, scope)) else {
                continue;
            };
            let rules = match role_rules(&binding.role_ref, scope, policy) {
                Ok(rules) => rules,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let source = describe(binding_kind, &binding, subject, scope);
            for rule in &rules {
                if !visit(&source, rule) {
                    return errors;
                }
            }
        }
    }
    errors
}

/// Whether a binding's subject is this user (a ServiceAccount subject without a namespace means
/// the binding's own namespace).
fn applies_to(user: &Identity, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let namespace = if subject.namespace.is_empty() { binding_namespace } else { &subject.namespace };
            !namespace.is_empty() && user.name == super::service_account_username(namespace, &subject.name)
        }
        _ => false,
    }
}

fn role_rules(role_ref: &RoleRef, namespace: &str, policy: &Policy) -> Result<Vec<Rule>, String> {
    let (roles, singular) = match role_ref.kind.as_str() {
        "ClusterRole" => (&policy.cluster_roles, "clusterrole"),
        "Role" => (&policy.roles, "role"),
        other => return Err(format!("unsupported role reference kind: {other:?}")),
    };
    let role = roles.iter().find(|r| {
        r["metadata"]["name"] == role_ref.name.as_str()
            && (role_ref.kind == "ClusterRole" || r["metadata"]["namespace"] == namespace)
    });
    let Some(role) = role else {
        return Err(format!("{singular}.rbac.authorization.k8s.io {:?} not found", role_ref.name));
    };
    Ok(Vec::<Rule>::deserialize(&role["rules"]).unwrap_or_default())
}

/// Upstream's description of where an allowing rule came from.
fn describe(binding_kind: &str, binding: &Binding, subject: &Subject, namespace: &str) -> String {
    let name = if namespace.is_empty() {
        binding.metadata.name.clone()
    } else {
        format!("{}/{namespace}", binding.metadata.name)
    };
    let who = match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = if subject.namespace.is_empty() { namespace } else { &subject.namespace };
            format!("{} {:?}", subject.kind, format!("{}/{ns}", subject.name))
        }
        _ => format!("{} {:?}", subject.kind, subject.name),
    };
    format!("{binding_kind} {name:?} of {} {:?} to {who}", binding.role_ref.kind, binding.role_ref.name)
}

#[cfg(test)]
#[rustfmt::skip] // one table row per line reads better than wrapped rows
mod tests {
    use super::*;
    use serde_json::json;

    /// The bootstrap ClusterRoles and bindings plus the test's own objects.
    fn policy(extra: &[Value]) -> Policy {
        let mut boot: Vec<Value> = crate::auth::bootstrap_rbac::objects().unwrap();
        crate::auth::aggregation::settle(&mut boot);
        let mut p = Policy::default();
        for object in boot.into_iter().chain(extra.iter().cloned()) {
            let list = match object["kind"].as_str() {
                Some("ClusterRole") => &mut p.cluster_roles,
                Some("ClusterRoleBinding") => &mut p.cluster_role_bindings,
                Some("Role") => &mut p.roles,
                Some("RoleBinding") => &mut p.role_bindings,
                _ => continue,
            };
            list.push(Arc::new(object));
        }
        p
    }

    fn sa(namespace: &str, name: &str) -> Identity {
        Identity::service_account(namespace, name, "uid")
    }

    fn binding(kind: &str, name: &str, namespace: Option<&str>, role: (&str, &str), subject: Value) -> Value {
        let mut b = json!({"kind": kind, "metadata": {"name": name}, "roleRef": {"kind": role.0, "name": role.1},
            "subjects": [subject]});
        if let Some(ns) = namespace {
            b["metadata"]["namespace"] = json!(ns);
        }
        b
    }

    fn sa_subject(namespace: &str, name: &str) -> Value {
        json!({"kind": "ServiceAccount", "name": name, "namespace": namespace})
    }

    fn role(name: &str, namespace: &str, rules: Value) -> Value {
        json!({"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules})
    }

    fn can(user: &Identity, p: &Policy, verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> bool {
        authorize(user, &Attributes::resource(verb, group, resource, ns, name), p).allowed
    }

    #[test]
    fn a_service_account_without_bindings_can_do_nothing_with_resources() {
        let p = policy(&[]);
        assert!(!can(&sa("default", "default"), &p, "list", "", "pods", "default", ""));
        assert!(!can(&sa("default", "default"), &p, "get", "", "namespaces", "", ""));
    }

    #[test]
    fn masters_may_do_anything() {
        let p = Policy::default();
        assert!(can(&Identity::admin(), &p, "delete", "", "namespaces", "", "default"));
        assert!(authorize(&Identity::admin(), &Attributes::non_resource("post", "/anything"), &p).allowed);
    }

    #[test]
    fn table_of_role_and_binding_cases() {
        let web = sa("team", "web");
        let extra = [
            role("pod-reader", "team", json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])),
            binding("RoleBinding", "read-pods", Some("team"), ("Role", "pod-reader"), json!({"kind": "ServiceAccount",
                "name": "web"})),
            binding("RoleBinding", "edit", Some("team"), ("ClusterRole", "edit"), sa_subject("team", "editor")),
            binding("ClusterRoleBinding", "admins", None, ("ClusterRole", "admin"), sa_subject("team", "admin")),
            role("one-cm", "team", json!([{"apiGroups": [""], "resources": ["configmaps"],
                "resourceNames": ["settings"], "verbs": ["get", "update"]}])),
            binding("RoleBinding", "one-cm", Some("team"), ("Role", "one-cm"), sa_subject("team", "web")),
            role("scaler", "team", json!([{"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]}])),
            binding("RoleBinding", "scaler", Some("team"), ("Role", "scaler"), json!({"kind": "Group",
                "name": "system:serviceaccounts:team"})),
        ];
        let p = policy(&extra);
        let editor = sa("team", "editor");
        let admin = sa("team", "admin");
        // (who, verb, group, resource, namespace, name, allowed)
        let cases: &[(&Identity, &str, &str, &str, &str, &str, bool)] = &[
            (&web, "list", "", "pods", "team", "", true),
            (&web, "get", "", "pods", "team", "x", true),
            (&web, "delete", "", "pods", "team", "x", false),
            (&web, "list", "", "pods", "other", "", false),
            (&web, "create", "", "pods/exec", "team", "x", false),
            (&web, "get", "", "configmaps", "team", "settings", true),
            (&web, "get", "", "configmaps", "team", "other", false),
            (&web, "list", "", "configmaps", "team", "", false),
            (&web, "patch", "apps", "deployments/scale", "team", "d", true),
            (&web, "patch", "apps", "deployments", "team", "d", false),
            // a ClusterRole bound by a RoleBinding reaches only that namespace
            (&editor, "create", "apps", "deployments", "team", "", true),
            (&editor, "create", "", "pods/exec", "team", "web", true),
            (&editor, "create", "apps", "deployments", "default", "", false),
            (&editor, "list", "rbac.authorization.k8s.io", "rolebindings", "team", "", false),
            // admin bound cluster-wide reaches every namespace, but nothing cluster-scoped
            (&admin, "create", "apps", "deployments", "default", "", true),
            (&admin, "create", "rbac.authorization.k8s.io", "rolebindings", "kube-system", "", true),
            (&admin, "list", "", "namespaces", "", "", true),
            (&admin, "create", "", "namespaces", "", "", false),
            (&admin, "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "", false),
            (&admin, "list", "rbac.authorization.k8s.io", "clusterroles", "", "", false),
        ];
        for (who, verb, group, resource, ns, name, allowed) in cases {
            assert_eq!(can(who, &p, verb, group, resource, ns, name), *allowed, "{} {verb} {group}/{resource} in \
                {ns:?} named {name:?}", who.name);
        }
    }

    #[test]
    fn every_authenticated_user_reads_discovery_and_may_ask_about_itself() {
        let p = policy(&[]);
        let user = sa("default", "default");
        for path in ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/openapi/v3", "/openapi/v2",
            "/healthz"] {
            assert!(authorize(&user, &Attributes::non_resource("get", path), &p).allowed, "{path}");
        }
        assert!(!authorize(&user, &Attributes::non_resource("get", "/metrics"), &p).allowed);
        assert!(!authorize(&user, &Attributes::non_resource("post", "/api"), &p).allowed);
        assert!(can(&user, &p, "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""));
        assert!(can(&user, &p, "create", "authentication.k8s.io", "selfsubjectreviews", "", ""));
        let anonymous = Identity::anonymous();
        assert!(authorize(&anonymous, &Attributes::non_resource("get", "/version"), &p).allowed);
        assert!(!authorize(&anonymous, &Attributes::non_resource("get", "/api"), &p).allowed);
    }

    #[test]
    fn wildcards_match_every_verb_group_and_resource_including_subresources() {
        let rule = Rule { verbs: vec!["*".into()], api_groups: vec!["*".into()], resources: vec!["*".into()],
            ..Rule::default() };
        assert!(rule.allows(&Attributes::resource("create", "apps", "deployments/scale", "x", "y")));
        let pods = Rule { verbs: vec!["*".into()], api_groups: vec!["".into()], resources: vec!["pods".into()],
            ..Rule::default() };
        assert!(!pods.allows(&Attributes::resource("create", "", "pods/exec", "x", "y")));
        assert!(!rule.allows(&Attributes::non_resource("get", "/version")));
    }

    #[test]
    fn an_allowed_request_names_the_binding_that_allowed_it() {
        let p = policy(&[binding("ClusterRoleBinding", "x", None, ("ClusterRole", "view"), sa_subject("default",
            "default"))]);
        let d = authorize(&sa("default", "default"), &Attributes::resource("list", "", "pods", "default", ""), &p);
        assert_eq!(d.reason, "RBAC: allowed by ClusterRoleBinding \"x\" of ClusterRole \"view\" to ServiceAccount \
            \"default/default\"");
        let p = policy(&[binding("RoleBinding", "r", Some("team"), ("ClusterRole", "view"),
            json!({"kind": "ServiceAccount", "name": "w"}))]);
        let d = authorize(&sa("team", "w"), &Attributes::resource("list", "", "pods", "team", ""), &p);
        assert_eq!(d.reason, "RBAC: allowed by RoleBinding \"r/team\" of ClusterRole \"view\" to ServiceAccount \
            \"w/team\"");
    }

    #[test]
    fn a_binding_to_a_missing_role_is_reported_in_the_reason() {
        let p = policy(&[
            binding("ClusterRoleBinding", "x", None, ("ClusterRole", "pod-reader"), sa_subject("default", "default")),
            binding("RoleBinding", "y", Some("default"), ("Role", "gone"), sa_subject("default", "default")),
        ]);
        let d = authorize(&sa("default", "default"), &Attributes::resource("list", "", "pods", "default", ""), &p);
        assert!(!d.allowed);
        assert_eq!(d.reason, "RBAC: [clusterrole.rbac.authorization.k8s.io \"pod-reader\" not found, \
            role.rbac.authorization.k8s.io \"gone\" not found]");
        let d = authorize(&sa("default", "default"), &Attributes::resource("list", "", "namespaces", "", ""), &p);
        assert_eq!(d.reason, "RBAC: clusterrole.rbac.authorization.k8s.io \"pod-reader\" not found");
    }

    #[test]
    fn the_rules_of_a_user_include_cluster_and_namespace_bindings() {
        let p = policy(&[binding("RoleBinding", "r", Some("team"), ("ClusterRole", "view"), sa_subject("team", "w"))]);
        let (rules, errors) = rules_for(&sa("team", "w"), "team", &p);
        assert!(errors.is_empty());
        assert!(rules.iter().any(|r| r.resources.contains(&"pods".to_string())));
        assert!(rules.iter().any(|r| r.non_resource_urls.contains(&"/api".to_string())));
        let (elsewhere, _) = rules_for(&sa("team", "w"), "default", &p);
        assert!(!elsewhere.iter().any(|r| r.resources.contains(&"pods".to_string())));
    }
}

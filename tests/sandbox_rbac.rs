//! Authentication and RBAC with the real kubectl: a ServiceAccount token from `kubectl create token`
//! is refused with upstream's Forbidden lines until a binding grants it access; `auth can-i` and
//! `auth whoami` answer for the admin and for the ServiceAccount; revoked tokens are Unauthorized.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{assert_has_line, failed_with};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};
use std::process::Output;

/// kubectl as the bearer of `token`, with the sandbox's server and CA from its kubeconfig.
fn as_token(sb: &Sandbox, token: &str, args: &[&str]) -> Output {
    let flag = format!("--token={token}");
    let mut all = vec![flag.as_str()];
    all.extend_from_slice(args);
    sb.kubectl(&all)
}

fn token_for(sb: &Sandbox, account: &str) -> String {
    let token = sb.kubectl_ok(&["create", "token", account]).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    token
}

const SA_USER: &str = "system:serviceaccount:default:default";

#[test]
fn a_service_account_token_is_forbidden_until_a_binding_grants_access() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let token = token_for(&sb, "default");

    let pods = as_token(&sb, &token, &["get", "pods"]);
    assert_eq!(
        failed_with(&pods, 1),
        format!(
            "Error from server (Forbidden): pods is forbidden: User \"{SA_USER}\" cannot list resource \"pods\" in \
                API group \"\" in the namespace \"default\"\n"
        )
    );
    let namespaces = as_token(&sb, &token, &["get", "namespaces"]);
    assert_eq!(
        failed_with(&namespaces, 1),
        format!(
            "Error from server (Forbidden): namespaces is forbidden: User \"{SA_USER}\" cannot list resource \
                \"namespaces\" in API group \"\" at the cluster scope\n"
        )
    );
    let named = as_token(&sb, &token, &["get", "deployment", "web"]);
    assert_eq!(
        failed_with(&named, 1),
        format!(
            "Error from server (Forbidden): deployments.apps \"web\" is forbidden: User \"{SA_USER}\" cannot get \
                resource \"deployments\" in API group \"apps\" in the namespace \"default\"\n"
        )
    );

    sb.kubectl_ok(&["create", "clusterrolebinding", "x", "--clusterrole=view", "--serviceaccount=default:default"]);
    let allowed = as_token(&sb, &token, &["get", "pods"]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert_eq!(text(&allowed.stderr), "No resources found in default namespace.\n");
    // view reads, but does not write.
    let create = as_token(&sb, &token, &["create", "configmap", "x"]);
    assert_eq!(
        failed_with(&create, 1),
        format!(
            "error: failed to create configmap: configmaps is forbidden: User \"{SA_USER}\" cannot create resource \
                \"configmaps\" in API group \"\" in the namespace \"default\"\n"
        )
    );
}

#[test]
fn can_i_answers_yes_for_the_admin_and_follows_the_service_accounts_bindings() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    assert_eq!(sb.kubectl_ok(&["auth", "can-i", "create", "deployments"]), "yes\n");
    let token = token_for(&sb, "default");
    let no = as_token(&sb, &token, &["auth", "can-i", "create", "deployments"]);
    assert_eq!((no.status.code(), text(&no.stdout)), (Some(1), "no\n".to_string()));

    sb.kubectl_ok(&["create", "rolebinding", "edit", "--clusterrole=edit", "--serviceaccount=default:default"]);
    let yes = as_token(&sb, &token, &["auth", "can-i", "create", "deployments"]);
    assert_eq!((yes.status.code(), text(&yes.stdout)), (Some(0), "yes\n".to_string()));
    // The RoleBinding reaches its own namespace only; `edit` grants nothing on RBAC objects.
    let elsewhere = as_token(&sb, &token, &["auth", "can-i", "create", "deployments", "-n", "kube-system"]);
    assert_eq!(text(&elsewhere.stdout), "no\n");
    let rbac = as_token(&sb, &token, &["auth", "can-i", "create", "rolebindings"]);
    assert_eq!(text(&rbac.stdout), "no\n");

    // The admin may act as the ServiceAccount (`--as`), and then gets the same answers.
    let sa_flag = format!("--as={SA_USER}");
    assert_eq!(sb.kubectl_ok(&["auth", "can-i", "create", "deployments", &sa_flag]), "yes\n");
    let as_sa = sb.kubectl(&["auth", "can-i", "create", "rolebindings", &sa_flag]);
    assert_eq!(text(&as_sa.stdout), "no\n");
    // …but the ServiceAccount may not act as anyone.
    let escalate = as_token(&sb, &token, &["get", "pods", "--as=kubernetes-admin"]);
    assert_eq!(
        failed_with(&escalate, 1),
        format!(
            "Error from server (Forbidden): users \"kubernetes-admin\" is forbidden: User \"{SA_USER}\" cannot \
                impersonate resource \"users\" in API group \"\" at the cluster scope\n"
        )
    );

    let list = as_token(&sb, &token, &["auth", "can-i", "--list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let listing = text(&list.stdout);
    assert!(listing.lines().any(|l| l.starts_with("deployments.apps ")), "{listing}");
    assert!(listing.lines().any(|l| l.contains("[/api/*]")), "{listing}");
}

#[test]
fn whoami_names_the_admin_and_the_service_account() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let admin = sb.kubectl_ok(&["auth", "whoami"]);
    assert_has_line(&admin, "Username kubernetes-admin");
    assert_has_line(&admin, "Groups [system:masters system:authenticated]");
    let token = token_for(&sb, "default");
    let sa = as_token(&sb, &token, &["auth", "whoami"]);
    assert!(sa.status.success(), "{}", text(&sa.stderr));
    let out = text(&sa.stdout);
    assert_has_line(&out, &format!("Username {SA_USER}"));
    assert_has_line(&out, "Groups [system:serviceaccounts system:serviceaccounts:default system:authenticated]");
}

/// kubectl's last line for a 401: with a cold discovery cache it first logs each failed discovery
/// call and words the reason differently, as against a real cluster.
fn assert_logged_out(out: &Output) {
    let stderr = failed_with(out, 1);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        ["Unauthorized", "the server has asked for the client to provide credentials"]
            .iter()
            .any(|why| last == format!("error: You must be logged in to the server ({why})")),
        "{stderr}"
    );
}

#[test]
fn unknown_and_revoked_tokens_are_unauthorized() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let garbage = as_token(&sb, "not-a-token", &["get", "pods"]);
    assert_logged_out(&garbage);

    sb.kubectl_ok(&["create", "serviceaccount", "robot"]);
    let token = token_for(&sb, "robot");
    let works = as_token(&sb, &token, &["auth", "whoami"]);
    assert!(works.status.success(), "{}", text(&works.stderr));
    sb.kubectl_ok(&["delete", "serviceaccount", "robot"]);
    sb.kubectl_ok(&["create", "serviceaccount", "robot"]);
    let revoked = as_token(&sb, &token, &["get", "serviceaccounts"]);
    assert_logged_out(&revoked);

    let short = sb.kubectl(&["create", "token", "robot", "--duration=1m"]);
    assert_eq!(
        failed_with(&short, 1),
        "error: failed to create token: TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: \
            Invalid value: 60: may not specify a duration less than 10 minutes\n"
    );
    let missing = sb.kubectl(&["create", "token", "nobody"]);
    assert_eq!(failed_with(&missing, 1), "error: failed to create token: serviceaccounts \"nobody\" not found\n");
}

#[test]
fn a_role_labelled_aggregate_to_edit_extends_edit_and_admin() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let rule = sb.kubectl_ok(&[
        "get",
        "clusterrole",
        "admin",
        "-o",
        "jsonpath={.aggregationRule.clusterRoleSelectors[0].matchLabels}",
    ]);
    assert!(rule.contains("rbac.authorization.k8s.io/aggregate-to-admin"), "{rule}");
    let pieces = sb.kubectl_ok(&["get", "clusterroles", "-o", "name"]);
    for piece in ["system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"] {
        assert!(pieces.contains(&format!("clusterrole.rbac.authorization.k8s.io/{piece}")), "{pieces}");
    }
    sb.kubectl_ok(&["create", "serviceaccount", "boss"]);
    sb.kubectl_ok(&["create", "rolebinding", "edit", "--clusterrole=edit", "--serviceaccount=default:default"]);
    sb.kubectl_ok(&["create", "rolebinding", "admin", "--clusterrole=admin", "--serviceaccount=default:boss"]);
    let (editor, boss) = (token_for(&sb, "default"), token_for(&sb, "boss"));
    let can = |token: &str, what: &[&str]| {
        let mut args = vec!["auth", "can-i"];
        args.extend_from_slice(what);
        text(&as_token(&sb, token, &args).stdout)
    };
    // Through the chain of pieces: view's reads are in edit, edit's writes are in admin.
    assert_eq!(can(&editor, &["create", "statefulsets.apps"]), "yes\n");
    assert_eq!(can(&boss, &["create", "statefulsets.apps"]), "yes\n");
    assert_eq!(can(&boss, &["create", "rolebindings"]), "yes\n");
    // Upstream's edit manages Leases; PodTemplates are in no default role, so they need a piece.
    assert_eq!(can(&editor, &["list", "leases.coordination.k8s.io"]), "yes\n");
    assert_eq!(can(&editor, &["list", "podtemplates"]), "no\n");

    let piece = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: podtemplate-editor\n  \
                 labels: {rbac.authorization.k8s.io/aggregate-to-edit: \"true\"}\nrules:\n- apiGroups: [\"\"]\n  \
                 resources: [podtemplates]\n  verbs: [get, list, watch, create, update, patch, delete]\n";
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], piece);
    gitops_lab_e2e::eventually("edit to take the new piece", || {
        (can(&editor, &["list", "podtemplates"]) == "yes\n").then_some(())
    });
    gitops_lab_e2e::eventually("admin to take it through edit", || {
        (can(&boss, &["delete", "podtemplates"]) == "yes\n").then_some(())
    });
    let edit = sb.kubectl_ok(&["get", "clusterrole", "edit", "-o", "jsonpath={.rules[*].resources}"]);
    assert!(edit.contains("podtemplates"), "{edit}");

    // Taking the label off takes the rules away again.
    sb.kubectl_ok(&["label", "clusterrole", "podtemplate-editor", "rbac.authorization.k8s.io/aggregate-to-edit-"]);
    gitops_lab_e2e::eventually("edit to drop the piece", || {
        (can(&editor, &["list", "podtemplates"]) == "no\n").then_some(())
    });
}

/// The names kubectl lists for `kind` (e.g. `clusterroles`, `roles -A` as `namespace/name`).
fn names(sb: &Sandbox, args: &[&str]) -> std::collections::BTreeSet<String> {
    let list = gitops_lab_e2e::chapter::get_json(sb, args);
    let items = list["items"].as_array().expect("a list").iter();
    items
        .map(|o| match o["metadata"]["namespace"].as_str() {
            Some(ns) => format!("{ns}/{}", o["metadata"]["name"].as_str().unwrap_or_default()),
            None => o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// The defaults of a kind in the data file, named as [`names`] does.
fn data_names(kind: &str) -> std::collections::BTreeSet<String> {
    let all = gitops_sandbox_core::auth::bootstrap_rbac::objects().expect("the data file parses");
    all.iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| match o["metadata"]["namespace"].as_str() {
            Some(ns) => format!("{ns}/{}", o["metadata"]["name"].as_str().unwrap_or_default()),
            None => o["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[test]
fn a_new_sandbox_serves_the_default_rbac_of_a_1_32_cluster() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let roles = names(&sb, &["get", "clusterroles"]);
    for (kind, args) in [
        ("ClusterRole", vec!["get", "clusterroles"]),
        ("ClusterRoleBinding", vec!["get", "clusterrolebindings"]),
        ("Role", vec!["get", "roles", "-A"]),
        ("RoleBinding", vec!["get", "rolebindings", "-A"]),
    ] {
        let served = names(&sb, &args);
        let missing: Vec<_> = data_names(kind).difference(&served).cloned().collect();
        assert!(missing.is_empty(), "{kind}s not served: {missing:?}");
    }
    // Well-known names, independent of the data file.
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:node",
        "system:node-proxier",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:kube-dns",
        "system:auth-delegator",
        "system:monitoring",
        "system:controller:deployment-controller",
        "system:controller:replicaset-controller",
        "system:certificates.k8s.io:legacy-unknown-approver",
    ] {
        assert!(roles.contains(name), "no ClusterRole {name}");
    }
    assert!(roles.len() >= 60, "{} ClusterRoles", roles.len());
    let kube_system = names(&sb, &["get", "roles", "-n", "kube-system"]);
    for name in ["extension-apiserver-authentication-reader", "system::leader-locking-kube-scheduler"] {
        assert!(kube_system.contains(&format!("kube-system/{name}")), "{kube_system:?}");
    }
    let scheduler = gitops_lab_e2e::chapter::get_json(&sb, &["get", "clusterrole", "system:kube-scheduler"]);
    assert_eq!(scheduler["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults");
    assert_eq!(scheduler["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true");
}

/// `kubectl auth can-i` as another identity: its answer (yes or no, the reason RBAC may give aside),
/// checked against the exit code.
fn can_i(sb: &Sandbox, identity: &[&str], question: &[&str]) -> String {
    let mut args = vec!["auth", "can-i"];
    args.extend_from_slice(question);
    args.extend_from_slice(identity);
    let out = sb.kubectl(&args);
    let line = text(&out.stdout);
    let answer = line.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(out.status.code(), Some(if answer == "yes" { 0 } else { 1 }), "{args:?}: {line}{}", text(&out.stderr));
    answer
}

#[test]
fn the_system_identities_get_the_answers_of_a_1_32_cluster() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let scheduler = ["--as=system:kube-scheduler"];
    assert_eq!(can_i(&sb, &scheduler, &["create", "events"]), "yes");
    assert_eq!(can_i(&sb, &scheduler, &["create", "pods", "--subresource=binding"]), "yes");
    assert_eq!(can_i(&sb, &scheduler, &["update", "leases/kube-scheduler", "-n", "kube-system"]), "yes");
    assert_eq!(can_i(&sb, &scheduler, &["delete", "nodes"]), "no");
    // The front-proxy CA, through upstream's RoleBinding to the Role that names that ConfigMap only.
    let ca = "configmaps/extension-apiserver-authentication";
    assert_eq!(can_i(&sb, &scheduler, &["get", ca, "-n", "kube-system"]), "yes");
    assert_eq!(can_i(&sb, &scheduler, &["get", "configmaps/kube-proxy", "-n", "kube-system"]), "no");
    let statefulsets = ["--as=system:serviceaccount:kube-system:statefulset-controller"];
    assert_eq!(can_i(&sb, &statefulsets, &["watch", "persistentvolumeclaims", "-A"]), "yes");
    assert_eq!(can_i(&sb, &statefulsets, &["update", "pods", "--subresource=finalizers", "-n", "default"]), "yes");
    // 1.32 took the in-tree glusterfs plugin's Secret and Service access from the volume binder.
    let binder = ["--as=system:serviceaccount:kube-system:persistent-volume-binder"];
    assert_eq!(can_i(&sb, &binder, &["get", "secrets", "-A"]), "no");
    assert_eq!(can_i(&sb, &binder, &["watch", "persistentvolumeclaims", "-A"]), "yes");
    let manager = ["--as=system:kube-controller-manager"];
    assert_eq!(can_i(&sb, &manager, &["list", "secrets", "-A"]), "yes");
    assert_eq!(can_i(&sb, &manager, &["delete", "pods"]), "no");
    let default_sa = ["--as=system:serviceaccount:kube-system:default"];
    assert_eq!(can_i(&sb, &default_sa, &["list", "secrets"]), "no");
    assert_eq!(can_i(&sb, &default_sa, &["get", "/api"]), "yes");
    let replicasets = ["--as=system:serviceaccount:kube-system:replicaset-controller"];
    assert_eq!(can_i(&sb, &replicasets, &["create", "pods", "-n", "default"]), "yes");
    assert_eq!(can_i(&sb, &replicasets, &["create", "deployments.apps"]), "no");
    let dns = ["--as=system:serviceaccount:kube-system:kube-dns"];
    assert_eq!(can_i(&sb, &dns, &["watch", "services", "-A"]), "yes");
    let monitoring = ["--as=prometheus", "--as-group=system:monitoring"];
    assert_eq!(can_i(&sb, &monitoring, &["get", "/metrics"]), "yes");
    // A node: `system:node` is bound to nobody, as upstream since 1.8. On a real cluster the Node
    // authorizer grants a kubelet that role's rules (so `get nodes`, `create events` are yes there);
    // the sandbox has no Node authorizer, so a node identity gets only what every user gets.
    let node = ["--as=system:node:minikube", "--as-group=system:nodes"];
    assert_eq!(can_i(&sb, &node, &["get", "secrets"]), "no");
    assert_eq!(can_i(&sb, &node, &["get", "nodes"]), "no");
    assert_eq!(can_i(&sb, &node, &["create", "selfsubjectaccessreviews.authorization.k8s.io"]), "yes");
}

#[test]
fn a_restart_restores_the_defaults_but_keeps_a_role_marked_autoupdate_false() {
    if !kubectl_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let sb = Sandbox::start_in(&data);
    // An older sandbox: defaults missing, one without its annotation and a rule, a binding short of
    // a subject.
    sb.kubectl_ok(&["delete", "clusterrole", "system:kube-scheduler"]);
    sb.kubectl_ok(&["delete", "clusterrolebinding", "system:kube-dns"]);
    sb.kubectl_ok(&["delete", "role", "-n", "kube-system", "system::leader-locking-kube-scheduler"]);
    let strip = r#"[{"op":"remove","path":"/metadata/annotations"},{"op":"remove","path":"/rules/1"}]"#;
    sb.kubectl_ok(&["patch", "clusterrole", "system:basic-user", "--type=json", "-p", strip]);
    let one_subject = r#"[{"op":"remove","path":"/subjects/1"}]"#;
    sb.kubectl_ok(&["patch", "clusterrolebinding", "system:public-info-viewer", "--type=json", "-p", one_subject]);
    // A learner's own version of a default, opted out of reconciling.
    sb.kubectl_ok(&[
        "annotate",
        "--overwrite",
        "clusterrole",
        "system:node-proxier",
        "rbac.authorization.kubernetes.io/autoupdate=false",
    ]);
    let mine = r#"{"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["get"]}]}"#;
    sb.kubectl_ok(&["patch", "clusterrole", "system:node-proxier", "--type=merge", "-p", mine]);
    assert_eq!(can_i(&sb, &["--as=system:kube-scheduler"], &["create", "events"]), "no");
    sb.stop();

    let sb = Sandbox::start_in(&data);
    let get = |args: &[&str]| gitops_lab_e2e::chapter::get_json(&sb, args);
    assert_eq!(get(&["get", "clusterrole", "system:kube-scheduler"])["metadata"]["name"], "system:kube-scheduler");
    assert_eq!(get(&["get", "clusterrolebinding", "system:kube-dns"])["subjects"][0]["name"], "kube-dns");
    get(&["get", "role", "-n", "kube-system", "system::leader-locking-kube-scheduler"]);
    let basic = get(&["get", "clusterrole", "system:basic-user"]);
    assert_eq!(basic["rules"].as_array().map(Vec::len), Some(2), "{basic}");
    assert_eq!(basic["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "true");
    let public = get(&["get", "clusterrolebinding", "system:public-info-viewer"]);
    assert_eq!(public["subjects"].as_array().map(Vec::len), Some(2), "{public}");
    let proxier = get(&["get", "clusterrole", "system:node-proxier"]);
    assert_eq!(proxier["rules"], serde_json::json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]));
    assert_eq!(proxier["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"], "false");
    assert_eq!(can_i(&sb, &["--as=system:kube-scheduler"], &["create", "events"]), "yes");
}

//! Failures of real connections, explained: a closed port, a server whose certificate the
//! kubeconfig's CA did not sign, a wrong token (401), a login helper whose login expired, and a
//! ServiceAccount without RBAC (403) — each produced for real against a sandbox; then what that
//! account may do, asked with SelfSubjectAccessReview, and the missing permissions of a step.

#[path = "site_support/mod.rs"]
mod site_support;

use gitops_lab::cluster::access::{Need, can_i, explain_missing, whoami};
use gitops_lab::protocol::{ClusterChoice, ClusterPhase, ErrorView};
use gitops_lab::{Engine, EngineConfig};
use gitops_lab_e2e::Sandbox;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use site_support::*;
use std::path::Path;

/// Starts an engine on context `name` of `kubeconfig` and returns the connection's error.
async fn connection_error(dir: &Path, kubeconfig: &Path, name: &str) -> ErrorView {
    let mut config = EngineConfig::new(dir, dir.join("exercises"));
    config.kubeconfig = Some(kubeconfig.to_path_buf());
    config.cluster = ClusterChoice::Context { name: name.into() };
    let engine = Engine::start(config).await;
    let status = engine.connection().status();
    engine.shutdown().await;
    assert_eq!(status.phase, ClusterPhase::Failed, "{status:?}");
    let error = status.error.expect("a failed connection says why");
    assert!(!error.message.zh.is_empty() && error.message.zh != error.message.en, "both languages: {error:?}");
    assert!(error.hint.as_ref().is_some_and(|h| !h.en.is_empty() && !h.zh.is_empty()), "a next step: {error:?}");
    error
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let path = dir.path().join("closed");
    kubeconfig_variant(&sandbox, &path, "closed", |c| {
        c.clusters[0].cluster.as_mut().unwrap().server = Some(format!("https://127.0.0.1:{port}"));
    });
    let error = connection_error(dir.path(), &path, "closed").await;
    assert_eq!(error.code, "unreachable", "{error:?}");
    assert!(error.hint.unwrap().en.contains("Check that the cluster is running"));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_a_tls_failure_that_names_the_ca() {
    let sandbox = Sandbox::start();
    let other = Sandbox::start();
    let other_ca = kube::config::Kubeconfig::read_from(&other.kubeconfig).unwrap().clusters[0].cluster.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong-ca");
    kubeconfig_variant(&sandbox, &path, "wrong-ca", |c| {
        c.clusters[0].cluster.as_mut().unwrap().certificate_authority_data = other_ca.certificate_authority_data;
    });
    let error = connection_error(dir.path(), &path, "wrong-ca").await;
    assert_eq!(error.code, "tls", "{error:?}");
    assert!(error.message.en.contains("signed by a CA that the kubeconfig does not trust"), "{error:?}");
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-token");
    kubeconfig_variant(&sandbox, &path, "bad-token", |c| {
        c.auth_infos[0].auth_info.as_mut().unwrap().token = Some("not-a-valid-token".to_string().into());
    });
    let error = connection_error(dir.path(), &path, "bad-token").await;
    assert_eq!(error.code, "unauthorized", "{error:?}");
    assert!(error.message.en.contains("401 Unauthorized"));
}

#[tokio::test]
async fn an_expired_login_helper_is_explained_with_its_own_words() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    // A login helper as cloud CLIs are: it prints a credential, or fails when the login expired.
    let helper = dir.path().join("cloud-login");
    std::fs::write(&helper, "#!/bin/sh\necho 'error: the SSO session has expired; run: cloud login' >&2\nexit 1\n")
        .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = dir.path().join("exec");
    let command = helper.display().to_string();
    kubeconfig_variant(&sandbox, &path, "exec", |c| {
        let user = c.auth_infos[0].auth_info.as_mut().unwrap();
        user.token = None;
        let exec = serde_json::json!({
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "interactiveMode": "Never",
        });
        user.exec = Some(serde_json::from_value(exec).expect("an exec entry"));
    });
    let error = connection_error(dir.path(), &path, "exec").await;
    assert_eq!(error.code, "credentials", "{error:?}");
    assert!(error.message.en.contains("the SSO session has expired"), "{error:?}");
    assert!(error.hint.unwrap().en.contains("log in again"));
}

#[tokio::test]
async fn a_service_account_without_rbac_is_forbidden_and_told_what_it_lacks() {
    let sandbox = Sandbox::start();
    let admin = client_for(&sandbox).await;
    create_namespace(&admin, "web").await;
    let account = ServiceAccount {
        metadata: ObjectMeta { name: Some("learner".into()), ..Default::default() },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), "web").create(&PostParams::default(), &account).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learner");
    service_account_kubeconfig(&sandbox, &admin, "web", "learner", &path, "learner").await;

    // It reaches the cluster (discovery and /version are open to every account) …
    let mut config = EngineConfig::new(dir.path(), dir.path());
    config.kubeconfig = Some(path.clone());
    config.cluster = ClusterChoice::Context { name: "learner".into() };
    let engine = Engine::start(config).await;
    let learner = engine.connection().require().expect("the account connects").client;
    // … but the API refuses its requests, and the lab says why.
    let refused = Api::<Pod>::namespaced(learner.clone(), "web").list(&ListParams::default()).await.unwrap_err();
    let view = gitops_lab::Error::from(refused).view();
    assert_eq!(view.code, "forbidden");
    assert!(view.message.en.contains("system:serviceaccount:web:learner"), "{view:?}");

    assert_eq!(whoami(&learner).await.as_deref(), Some("system:serviceaccount:web:learner"));
    assert!(!can_i(&learner, "list", "", "pods", Some("web")).await.unwrap());
    let step = [Need::new("list", "", "pods", Some("web")), Need::new("create", "apps", "deployments", Some("web"))];
    let missing = explain_missing(&learner, &step).await.unwrap().expect("both are missing");
    assert!(
        missing.message.en.contains("list pods in namespace \"web\"; create deployments.apps in namespace \"web\""),
        "{missing:?}"
    );
    assert!(missing.hint.unwrap().en.contains("--serviceaccount=web:learner -n web"));

    // Granting one of the two leaves only the other.
    grant(
        &admin,
        "web",
        "learner",
        "pod-reader",
        PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: vec!["list".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(can_i(&learner, "list", "", "pods", Some("web")).await.unwrap());
    let missing = explain_missing(&learner, &step).await.unwrap().expect("one is still missing");
    assert!(!missing.message.en.contains("list pods"), "{missing:?}");
    assert!(missing.message.en.contains("create deployments.apps"));
    assert!(Api::<Pod>::namespaced(learner, "web").list(&ListParams::default()).await.is_ok());
    engine.shutdown().await;
}

/// A Role with one rule in `namespace`, bound to ServiceAccount `account` there.
async fn grant(admin: &kube::Client, namespace: &str, account: &str, role: &str, rule: PolicyRule) {
    let meta = ObjectMeta { name: Some(role.into()), ..Default::default() };
    let role_object = Role { metadata: meta.clone(), rules: Some(vec![rule]) };
    Api::<Role>::namespaced(admin.clone(), namespace).create(&PostParams::default(), &role_object).await.unwrap();
    let binding = RoleBinding {
        metadata: meta,
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: "Role".into(), name: role.into() },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account.into(),
            namespace: Some(namespace.into()),
            ..Default::default()
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), namespace).create(&PostParams::default(), &binding).await.unwrap();
}

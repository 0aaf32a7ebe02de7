//! The engine's Rust NGINX operator (chapter 2.3.3) against a real sandbox: a labelled ConfigMap
//! becomes a Deployment whose nginx serves the page (read through a kube-rs port-forward), a new
//! page rolls a new pod, deleting the ConfigMap removes the Deployment, hand edits are put back,
//! `kube-root-ca.crt` and unlabelled ConfigMaps are ignored; the CLI runs it; the in-cluster
//! manifests pass the server's dry run and their RBAC is enough for the operator and no more.

#[path = "site_support/mod.rs"]
mod site_support;

use gitops_lab::protocol::Command;
use gitops_lab_e2e::{Sandbox, gitops_lab_bin, kubectl_available, text};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, ResourceExt};
use site_support::*;
use std::time::Duration;

/// How long one awaited state may take on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

struct Lab {
    sandbox: Sandbox,
    engine: gitops_lab::Engine,
    client: Client,
    _dir: tempfile::TempDir,
}

async fn lab_with_operator(namespace: &str) -> (Lab, gitops_lab::Subscription) {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let engine = engine_for(&sandbox, dir.path()).await;
    let client = client_for(&sandbox).await;
    create_namespace(&client, namespace).await;
    let mut events = engine.subscribe();
    let started = engine.handle(Command::OperatorStart { namespace: namespace.into() }).await;
    assert!(started.is_ok(), "the operator starts: {started:?}");
    expect_notice(&mut events, &format!("watches ConfigMaps labelled {SITE_LABEL} in namespace {namespace}"), PATIENCE)
        .await;
    (Lab { sandbox, engine, client, _dir: dir }, events)
}

async fn wait_deployment_gone(api: &Api<Deployment>, name: &str, uid: &str) {
    let gone = tokio::time::timeout(PATIENCE, await_condition(api.clone(), name, conditions::is_deleted(uid))).await;
    assert!(matches!(gone, Ok(Ok(_))), "deployment {name} goes away: {gone:?}");
}

#[tokio::test]
async fn a_labelled_config_map_becomes_a_site_that_follows_its_page_and_goes_with_it() {
    let (lab, mut events) = lab_with_operator("sites").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(lab.client.clone(), "sites");
    let pods: Api<Pod> = Api::namespaced(lab.client.clone(), "sites");
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), "sites");

    config_maps.create(&PostParams::default(), &page("welcome", "<h1>hello, first page</h1>", true)).await.unwrap();
    expect_notice(&mut events, "Created deployment/welcome in sites", PATIENCE).await;
    let first = ready_site_pod(&pods, "welcome", None, PATIENCE).await;
    assert_eq!(page_of(&pods, &first.name_any()).await, "<h1>hello, first page</h1>");
    let deployment = deployments.get("welcome").await.unwrap();
    let owner = &deployment.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("ConfigMap", "welcome", Some(true)));

    let change = serde_json::json!({"data": {"index.html": "<h1>hello, second page</h1>"}});
    config_maps.patch("welcome", &PatchParams::default(), &Patch::Merge(&change)).await.unwrap();
    expect_notice(&mut events, "ConfigMap welcome changed", PATIENCE).await;
    let old_hash = first.annotations().get(HASH_ANNOTATION).cloned();
    let second = ready_site_pod(&pods, "welcome", old_hash.as_deref(), PATIENCE).await;
    assert_ne!(second.name_any(), first.name_any(), "a new pod serves the new page");
    assert_eq!(page_of(&pods, &second.name_any()).await, "<h1>hello, second page</h1>");

    config_maps.delete("welcome", &DeleteParams::default()).await.unwrap();
    wait_deployment_gone(&deployments, "welcome", &deployment.uid().unwrap()).await;
    lab.engine.shutdown().await;
}

#[tokio::test]
async fn unlabelled_config_maps_and_the_root_ca_are_never_sites() {
    let (lab, mut events) = lab_with_operator("quiet").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(lab.client.clone(), "quiet");
    config_maps.create(&PostParams::default(), &page("plain", "not a site", false)).await.unwrap();
    // Even labelled, the namespace's root CA stays what it is (its controller adds it soon after the namespace).
    let published = await_condition(config_maps.clone(), "kube-root-ca.crt", |cm: Option<&ConfigMap>| cm.is_some());
    tokio::time::timeout(PATIENCE, published).await.expect("kube-root-ca.crt appears").unwrap();
    let label = serde_json::json!({"metadata": {"labels": {SITE_LABEL: "true"}}});
    config_maps.patch("kube-root-ca.crt", &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
    // A real site afterwards: once it exists, the operator has seen everything before it.
    config_maps.create(&PostParams::default(), &page("marker", "the marker", true)).await.unwrap();
    expect_notice(&mut events, "Created deployment/marker", PATIENCE).await;
    assert_eq!(deployment_names(&lab.client, "quiet").await, vec!["marker".to_string()]);
    lab.engine.shutdown().await;
}

#[tokio::test]
async fn a_deleted_or_edited_deployment_is_put_back() {
    let (lab, mut events) = lab_with_operator("repair").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(lab.client.clone(), "repair");
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), "repair");
    config_maps.create(&PostParams::default(), &page("home", "home page", true)).await.unwrap();
    expect_notice(&mut events, "Created deployment/home", PATIENCE).await;

    let old = deployments.get("home").await.unwrap();
    deployments.delete("home", &DeleteParams::default()).await.unwrap();
    expect_notice(&mut events, "deployment/home in repair was gone; the operator created it again", PATIENCE).await;
    assert_ne!(deployments.get("home").await.unwrap().uid(), old.uid());

    let scale = serde_json::json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}});
    deployments.patch("home", &PatchParams::default(), &Patch::Strategic(&scale)).await.unwrap();
    expect_notice(&mut events, "deployment/home in repair had been edited", PATIENCE).await;
    let spec = deployments.get("home").await.unwrap().spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.template.spec.unwrap().containers[0].image.as_deref(), Some("nginx:1.27"));
    lab.engine.shutdown().await;
}

#[tokio::test]
async fn a_deployment_the_operator_did_not_make_is_left_alone_and_explained() {
    let (lab, mut events) = lab_with_operator("shared").await;
    let out = lab.sandbox.kubectl(&["create", "deployment", "taken", "--image=nginx:1.25", "-n", "shared"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config_maps: Api<ConfigMap> = Api::namespaced(lab.client.clone(), "shared");
    config_maps.create(&PostParams::default(), &page("taken", "mine?", true)).await.unwrap();
    let notice = expect_notice(&mut events, "deployment/taken already exists in shared", PATIENCE).await;
    assert!(notice.contains("Retrying in 1 s"), "{notice}");
    let deployments: Api<Deployment> = Api::namespaced(lab.client.clone(), "shared");
    let image =
        deployments.get("taken").await.unwrap().spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("nginx:1.25"), "the learner's Deployment is untouched");
    // The back-off doubles between attempts.
    expect_notice(&mut events, "Retrying in 2 s", PATIENCE).await;
    lab.engine.shutdown().await;
}

#[tokio::test]
async fn starting_the_operator_without_a_cluster_says_how_to_connect() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = gitops_lab::EngineConfig::new(dir.path(), dir.path());
    config.kubeconfig = Some(dir.path().join("missing-kubeconfig"));
    config.cluster = gitops_lab::protocol::ClusterChoice::Context { name: "nowhere".into() };
    let engine = gitops_lab::Engine::start(config).await;
    let error = engine.handle(Command::OperatorStart { namespace: "default".into() }).await.unwrap_err();
    assert_eq!(error.code, "no-kubeconfig", "{error:?}");
    engine.shutdown().await;
}

#[tokio::test]
async fn the_command_line_operator_serves_a_site_and_stops_on_sigterm() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(gitops_lab_bin())
        .args([
            "operator",
            "nginx",
            "--cluster",
            &format!("context:{SANDBOX_CONTEXT}"),
            "--namespace",
            "default",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("KUBECONFIG", &sandbox.kubeconfig)
        .env("GITOPS_LAB_LANG", "en")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("gitops-lab starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut said = Vec::new();
    let wait_line = async |lines: &mut tokio::io::Lines<_>, said: &mut Vec<String>, needle: &str| {
        let found = tokio::time::timeout(PATIENCE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                said.push(line.clone());
                if line.contains(needle) {
                    return true;
                }
            }
            false
        });
        assert!(matches!(found.await, Ok(true)), "the operator prints {needle:?}; it printed {said:#?}");
    };
    wait_line(&mut lines, &mut said, "info: The NGINX operator watches ConfigMaps").await;
    let client = client_for(&sandbox).await;
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &page("cli", "from the cli", true))
        .await
        .unwrap();
    wait_line(&mut lines, &mut said, "info: Created deployment/cli in default").await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod = ready_site_pod(&pods, "cli", None, PATIENCE).await;
    assert_eq!(page_of(&pods, &pod.name_any()).await, "from the cli");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    wait_line(&mut lines, &mut said, "stopped; the sites it made keep running").await;
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("it exits").unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_in_cluster_manifests_pass_the_servers_dry_run() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let deploy = gitops_lab_e2e::tests_dir().join("../deploy/nginx-operator");
    let out = sandbox.kubectl(&["apply", "--dry-run=server", "-f", deploy.to_str().unwrap()]);
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{printed}{}", text(&out.stderr));
    for object in [
        "serviceaccount/nginx-operator",
        "role.rbac.authorization.k8s.io/nginx-operator",
        "rolebinding.rbac.authorization.k8s.io/nginx-operator",
        "deployment.apps/nginx-operator",
    ] {
        assert!(printed.contains(&format!("{object} created (server dry run)")), "{object} missing in:\n{printed}");
    }
}

#[tokio::test]
async fn the_operators_service_account_may_do_what_it_needs_and_no_more() {
    if !kubectl_available() {
        return;
    }
    use gitops_lab::cluster::access::{Need, can_i, missing};
    let sandbox = Sandbox::start();
    let admin = client_for(&sandbox).await;
    create_namespace(&admin, "team").await;
    create_namespace(&admin, "elsewhere").await;
    let rbac = gitops_lab_e2e::tests_dir().join("../deploy/nginx-operator/rbac.yaml");
    sandbox.kubectl_ok(&["apply", "-n", "team", "-f", rbac.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("operator");
    service_account_kubeconfig(&sandbox, &admin, "team", "nginx-operator", &kubeconfig, "operator").await;

    // The operator, run as its ServiceAccount, does its whole job …
    let mut config = gitops_lab::EngineConfig::new(dir.path(), dir.path());
    config.kubeconfig = Some(kubeconfig);
    config.cluster = gitops_lab::protocol::ClusterChoice::Context { name: "operator".into() };
    let engine = gitops_lab::Engine::start(config).await;
    let mut events = engine.subscribe();
    let as_operator = engine.connection().require().expect("the ServiceAccount connects").client;
    engine.handle(Command::OperatorStart { namespace: "team".into() }).await.expect("the operator starts");
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), "team");
    config_maps.create(&PostParams::default(), &page("least", "least privilege", true)).await.unwrap();
    expect_notice(&mut events, "Created deployment/least in team", PATIENCE).await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "team");
    let first = ready_site_pod(&pods, "least", None, PATIENCE).await;
    let change = serde_json::json!({"data": {"index.html": "still enough"}});
    config_maps.patch("least", &PatchParams::default(), &Patch::Merge(&change)).await.unwrap();
    expect_notice(&mut events, "ConfigMap least changed", PATIENCE).await;
    let old_hash = first.annotations().get(HASH_ANNOTATION).cloned();
    let second = ready_site_pod(&pods, "least", old_hash.as_deref(), PATIENCE).await;
    assert_eq!(page_of(&pods, &second.name_any()).await, "still enough");

    // … and may do nothing else.
    let needs = [
        Need::new("list", "", "configmaps", Some("team")),
        Need::new("watch", "", "configmaps", Some("team")),
        Need::new("get", "apps", "deployments", Some("team")),
        Need::new("create", "apps", "deployments", Some("team")),
        Need::new("patch", "apps", "deployments", Some("team")),
    ];
    assert_eq!(missing(&as_operator, &needs).await.unwrap(), vec![], "it has every permission it uses");
    for (verb, group, resource, namespace) in [
        ("delete", "apps", "deployments", Some("team")),
        ("get", "", "configmaps", Some("team")),
        ("update", "", "configmaps", Some("team")),
        ("get", "", "secrets", Some("team")),
        ("list", "", "pods", Some("team")),
        ("list", "", "configmaps", Some("elsewhere")),
        ("create", "apps", "deployments", Some("elsewhere")),
        ("list", "", "namespaces", None),
    ] {
        assert!(
            !can_i(&as_operator, verb, group, resource, namespace).await.unwrap(),
            "it may not {verb} {resource} in {namespace:?}"
        );
    }
    engine.shutdown().await;
}

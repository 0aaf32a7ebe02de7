//! Shared by the operator suite and its benchmark: an engine connected to a test sandbox, kube-rs
//! helpers to wait on sites, and reading a pod's page through a kube-rs port-forward.
#![allow(dead_code)] // Each includer uses a different part.

use futures::TryStreamExt;
use gitops_lab::protocol::{ClusterChoice, Event};
use gitops_lab::{Engine, EngineConfig, Subscription};
use gitops_lab_e2e::Sandbox;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The context name the sandbox writes into its kubeconfig.
pub const SANDBOX_CONTEXT: &str = "gitops-lab-sandbox";
/// The label that makes a ConfigMap a site.
pub const SITE_LABEL: &str = "gitops-lab.dev/nginx-site";
/// The pod-template annotation with the page's fingerprint.
pub const HASH_ANNOTATION: &str = "gitops-lab.dev/content-hash";

/// An engine connected (as `context:gitops-lab-sandbox`) to an already running test sandbox.
pub async fn engine_for(sandbox: &Sandbox, data_dir: &Path) -> Engine {
    let mut config = EngineConfig::new(data_dir, data_dir.join("exercises"));
    config.kubeconfig = Some(sandbox.kubeconfig.clone());
    config.cluster = ClusterChoice::Context { name: SANDBOX_CONTEXT.into() };
    let engine = Engine::start(config).await;
    let status = engine.connection().status();
    assert!(engine.connection().handle().is_some(), "the engine reaches the test sandbox: {status:?}");
    engine
}

/// A kube-rs client for the test sandbox.
pub async fn client_for(sandbox: &Sandbox) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a usable kubeconfig");
    Client::try_from(config).expect("a client")
}

/// Creates a namespace.
pub async fn create_namespace(client: &Client, name: &str) {
    let namespace = Namespace {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("the namespace is created");
}

/// A ConfigMap with `index.html`, labelled as a site when `site` is true.
pub fn page(name: &str, html: &str, site: bool) -> ConfigMap {
    let labels = site.then(|| [(SITE_LABEL.to_string(), "true".to_string())].into());
    ConfigMap {
        metadata: kube::api::ObjectMeta { name: Some(name.into()), labels, ..Default::default() },
        data: Some([("index.html".to_string(), html.to_string())].into()),
        ..Default::default()
    }
}

/// Waits (on a watch, not by polling) until a Ready pod of site `name` whose template hash differs
/// from `old_hash` exists, and returns it. `None` as `old_hash` accepts any Ready pod of the site.
pub async fn ready_site_pod(pods: &Api<Pod>, name: &str, old_hash: Option<&str>, patience: Duration) -> Pod {
    ready_pod(pods, &format!("{SITE_LABEL}={name}"), HASH_ANNOTATION, old_hash, patience).await
}

/// Waits (on a watch) for a Ready, not terminating pod matching `selector` whose `annotation` is
/// set and differs from `old` (any value when `old` is `None`).
pub async fn ready_pod(
    pods: &Api<Pod>,
    selector: &str,
    annotation: &str,
    old: Option<&str>,
    patience: Duration,
) -> Pod {
    let config = watcher::Config::default().labels(selector);
    let wanted = |pod: &Pod| {
        let value = pod.annotations().get(annotation).map(String::as_str);
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        ready && pod.metadata.deletion_timestamp.is_none() && value.is_some() && value != old
    };
    let stream = kube::runtime::WatchStreamExt::applied_objects(watcher(pods.clone(), config));
    let found = tokio::time::timeout(patience, async {
        let mut stream = std::pin::pin!(stream);
        while let Some(pod) = stream.try_next().await.expect("the pod watch works") {
            if wanted(&pod) {
                return pod;
            }
        }
        panic!("the pod watch ended");
    })
    .await;
    found.unwrap_or_else(|_| panic!("no new Ready pod matching {selector} within {patience:?}"))
}

/// The body of `GET /` from a pod's port 80, through a kube-rs port-forward.
pub async fn page_of(pods: &Api<Pod>, pod: &str) -> String {
    let mut forward = pods.portforward(pod, &[80]).await.expect("a port-forward to the pod");
    let mut stream = forward.take_stream(80).expect("the forwarded port");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: site\r\nConnection: close\r\n\r\n").await.expect("the request is sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("the answer is read");
    drop(stream);
    // The page is what matters; the sandbox closes the WebSocket once nginx closed the connection,
    // and kube-rs then reports its own close message as unsendable.
    let _ = forward.join().await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "nginx answers 200:\n{answer}");
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

/// The names of the Deployments in a namespace.
pub async fn deployment_names(client: &Client, namespace: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default()).await.expect("deployments are listed").items.iter().map(|d| d.name_any()).collect()
}

/// Waits for a notice whose English text contains `needle`; returns it, or panics with what came.
pub async fn expect_notice(events: &mut Subscription, needle: &str, patience: Duration) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(patience, async {
        while let Some(event) = events.next().await {
            if let Event::Notice { message, .. } = event {
                if message.en.contains(needle) {
                    assert!(!message.zh.is_empty() && message.zh != message.en, "the notice has its Chinese text");
                    return Some(message.en);
                }
                seen.push(message.en);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(text)) => text,
        _ => panic!("no notice containing {needle:?} within {patience:?}; saw: {seen:#?}"),
    }
}

/// A kubeconfig file at `path` like the sandbox's, with a context `name` whose server, CA (PEM
/// bytes, base64 in the file) or user were changed by `edit`.
pub fn kubeconfig_variant(
    sandbox: &Sandbox,
    path: &Path,
    name: &str,
    edit: impl FnOnce(&mut kube::config::Kubeconfig),
) {
    let mut config = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    for named in &mut config.clusters {
        named.name = name.into();
    }
    for named in &mut config.auth_infos {
        named.name = name.into();
    }
    for named in &mut config.contexts {
        named.name = name.into();
        if let Some(context) = named.context.as_mut() {
            context.cluster = name.into();
            context.user = Some(name.into());
        }
    }
    config.current_context = Some(name.into());
    edit(&mut config);
    // JSON is YAML too; kube-rs and kubectl read it alike.
    std::fs::write(path, serde_json::to_vec_pretty(&config).expect("a serializable kubeconfig"))
        .expect("the kubeconfig is written");
}

/// A kubeconfig at `path` (context `name`) that reaches the sandbox as ServiceAccount
/// `namespace/account` with a fresh token.
pub async fn service_account_kubeconfig(
    sandbox: &Sandbox,
    client: &Client,
    namespace: &str,
    account: &str,
    path: &Path,
    name: &str,
) {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    use k8s_openapi::api::core::v1::ServiceAccount;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request =
        TokenRequest { spec: TokenRequestSpec { audiences: vec![], ..Default::default() }, ..Default::default() };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .expect("a token for the account");
    let token = token.status.expect("the token request is answered").token;
    kubeconfig_variant(sandbox, path, name, |config| {
        let user = config.auth_infos[0].auth_info.as_mut().expect("a user entry");
        user.token = Some(token.into());
    });
}

//! Benchmark: a ConfigMap's page changes → a new pod serves the new page. The lab's Rust operator
//! (`gitops-lab operator nginx`, the real binary) against the chapter-style bash operator
//! (`fixtures/operators/nginx-site-operator.sh`: `kubectl get --watch` piped into a loop that runs
//! `kubectl apply` per event), each watching its own namespace of one sandbox, in the same run,
//! changes alternating between them.
//!
//! Per change: the time from sending the ConfigMap PATCH to (a) a Ready pod of the new template
//! (seen by a watch) and (b) that pod answering `GET /` with the new page through a kube-rs
//! port-forward. Old pods are not asked: the sandbox refreshes mounted ConfigMaps in running pods
//! too, so only a new pod proves the operator did its part.
//!
//! Run: `cargo build --release -p gitops-lab && cargo bench -p gitops-lab-e2e --bench operator`
//! (`BENCH_CHANGES`, default 20 per operator). Prints a Markdown table on stdout.

#[path = "site_support/mod.rs"]
mod site_support;

use gitops_lab_e2e::{Sandbox, gitops_lab_bin, kubectl_path};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Client, ResourceExt};
use site_support::*;
use std::path::Path;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);

/// One operator under test.
struct Contender {
    name: &'static str,
    namespace: &'static str,
    /// The label its pods carry (`KEY=site`).
    pod_label: &'static str,
    /// The pod-template annotation that changes with the page.
    annotation: &'static str,
    child: tokio::process::Child,
    /// The annotation value of the pod serving now.
    current: String,
    ready_ms: Vec<f64>,
    serving_ms: Vec<f64>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let changes: usize = std::env::var("BENCH_CHANGES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let load_before = load_average();
    let sandbox = Sandbox::start();
    let client = client_for(&sandbox).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut contenders = [
        rust_operator(&sandbox, &client, scratch.path()).await,
        bash_operator(&sandbox, &client, scratch.path()).await,
    ];
    for contender in &mut contenders {
        warm_up(&client, contender).await;
    }
    for round in 0..changes {
        // Alternate who goes first, so that drift in the machine's speed hits both alike.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            change(&client, &mut contenders[index], round).await;
        }
        eprintln!("round {}/{changes} done", round + 1);
    }
    for contender in &mut contenders {
        stop(&mut contender.child).await;
    }
    report(&contenders, changes, &load_before, &load_average());
}

/// The lab's operator: the real `gitops-lab operator nginx` against the sandbox's context.
async fn rust_operator(sandbox: &Sandbox, client: &Client, scratch: &Path) -> Contender {
    create_namespace(client, "rust-op").await;
    let child = tokio::process::Command::new(gitops_lab_bin())
        .args([
            "operator",
            "nginx",
            "--cluster",
            &format!("context:{SANDBOX_CONTEXT}"),
            "--namespace",
            "rust-op",
            "--data-dir",
        ])
        .arg(scratch.join("lab"))
        .env("KUBECONFIG", &sandbox.kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("gitops-lab starts");
    contender("rust operator (gitops-lab operator nginx)", "rust-op", SITE_LABEL, HASH_ANNOTATION, child)
}

/// The chapter-style bash operator, with the real kubectl, watching the same label.
async fn bash_operator(sandbox: &Sandbox, client: &Client, scratch: &Path) -> Contender {
    create_namespace(client, "bash-op").await;
    let kubeconfig = scratch.join("bash-kubeconfig");
    kubeconfig_variant(sandbox, &kubeconfig, "bash", |config| {
        config.contexts[0].context.as_mut().unwrap().namespace = Some("bash-op".into());
    });
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(kubectl_path(), bin.join("kubectl")).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let script = gitops_lab_e2e::tests_dir().join("fixtures/operators/nginx-site-operator.sh");
    let child = tokio::process::Command::new("bash")
        .arg(script)
        .arg(format!("{SITE_LABEL}=true"))
        .env("KUBECONFIG", &kubeconfig)
        .env("HOME", scratch.join("home"))
        .env("PATH", path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("bash starts");
    contender(
        "bash operator (chapter style, kubectl --watch + apply)",
        "bash-op",
        "site",
        "nginx-site-operator/configmap-version",
        child,
    )
}

fn contender(
    name: &'static str,
    namespace: &'static str,
    pod_label: &'static str,
    annotation: &'static str,
    child: tokio::process::Child,
) -> Contender {
    Contender {
        name,
        namespace,
        pod_label,
        annotation,
        child,
        current: String::new(),
        ready_ms: vec![],
        serving_ms: vec![],
    }
}

/// Creates the site and waits for its first pod.
async fn warm_up(client: &Client, contender: &mut Contender) {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), contender.namespace);
    config_maps.create(&PostParams::default(), &page("site", "first page", true)).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), contender.namespace);
    let pod = ready_pod(&pods, &format!("{}=site", contender.pod_label), contender.annotation, None, PATIENCE).await;
    contender.current = pod.annotations()[contender.annotation].clone();
    settle(client, contender.namespace).await;
}

/// One measured change.
async fn change(client: &Client, contender: &mut Contender, round: usize) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), contender.namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), contender.namespace);
    let text = format!("page {round} of {}", contender.namespace);
    let patch = serde_json::json!({"data": {"index.html": text}});
    let selector = format!("{}=site", contender.pod_label);
    let began = Instant::now();
    config_maps.patch("site", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let pod = ready_pod(&pods, &selector, contender.annotation, Some(&contender.current), PATIENCE).await;
    let ready = began.elapsed();
    let body = page_of(&pods, &pod.name_any()).await;
    let serving = began.elapsed();
    assert_eq!(body, text, "{}: the new pod serves the new page", contender.name);
    contender.current = pod.annotations()[contender.annotation].clone();
    contender.ready_ms.push(ready.as_secs_f64() * 1e3);
    contender.serving_ms.push(serving.as_secs_f64() * 1e3);
    settle(client, contender.namespace).await;
}

/// Waits until the site's rollout is over (one replica, updated and available, no old pods left).
async fn settle(client: &Client, namespace: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let done = |d: Option<&Deployment>| {
        d.and_then(|d| Some((d.metadata.generation?, d.status.as_ref()?))).is_some_and(|(generation, s)| {
            s.observed_generation == Some(generation)
                && s.replicas == Some(1)
                && s.updated_replicas == Some(1)
                && s.available_replicas == Some(1)
        })
    };
    tokio::time::timeout(PATIENCE, await_condition(deployments, "site", done))
        .await
        .expect("the rollout ends")
        .unwrap();
}

async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill").args(["-TERM", "--", &format!("-{pid}")]).status().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let _ = child.kill().await;
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

fn report(contenders: &[Contender; 2], changes: usize, before: &str, after: &str) {
    println!(
        "ConfigMap change → new pod serving the new page, {changes} changes per operator, alternating; load average {before} → {after}\n"
    );
    println!(
        "| operator | change → new pod Ready (median / p90) | change → new page served (median / p90 / min / max) |"
    );
    println!("|---|---:|---:|");
    for c in contenders {
        let s = &c.serving_ms;
        println!(
            "| {} | {:.1} / {:.1} ms | **{:.1}** / {:.1} / {:.1} / {:.1} ms |",
            c.name,
            percentile(&c.ready_ms, 50.0),
            percentile(&c.ready_ms, 90.0),
            percentile(s, 50.0),
            percentile(s, 90.0),
            percentile(s, 0.0),
            percentile(s, 100.0)
        );
    }
    let [rust, bash] = contenders;
    let pairwise: Vec<f64> = rust.serving_ms.iter().zip(&bash.serving_ms).map(|(r, b)| b / r).collect();
    println!(
        "\nbash / rust, change → new page served: ratio of medians **{:.1}×**; per round: median {:.1}×, min {:.1}×, max {:.1}×",
        percentile(&bash.serving_ms, 50.0) / percentile(&rust.serving_ms, 50.0),
        percentile(&pairwise, 50.0),
        percentile(&pairwise, 0.0),
        percentile(&pairwise, 100.0)
    );
}

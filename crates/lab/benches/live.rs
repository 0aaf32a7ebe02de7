//! Live-model benchmark: the engine's resident memory while it watches 1,000 pods, and the time from
//! a watch event reaching the engine to its `GraphDelta` being published.
//!
//! `cargo build --release -p gitops-lab && cargo bench -p gitops-lab-engine --bench live`
//!
//! The driver (this program) starts a real sandbox process (`gitops-lab sandbox serve`), creates the
//! pods through kube-rs (Deployments of 100 nginx replicas, all Ready), then runs the engine in a
//! child process of its own (this program again, with `GITOPS_LAB_BENCH_ENGINE` set) so that only
//! the engine's memory is counted: once watching an empty namespace (the baseline), once watching
//! the namespace of the pods. The child reports when its graph first holds every pod, its VmRSS and
//! VmHWM, then patches one ConfigMap back and forth (alternately 2 and 1 keys, so each patch changes
//! its node) and times, per patch: the write's acknowledgement, the same event reaching a plain
//! kube-rs watcher on its own connection in the engine's process (the "watch event reached the
//! engine" reference), and the `GraphDelta` carrying the node reaching a subscriber of the engine.
//! Knobs: `BENCH_PODS` (1000), `BENCH_CHANGES` (500), `GITOPS_LAB_BIN` (the `gitops-lab` binary;
//! default: beside this benchmark in the target directory).

mod support;
use support::{gitops_lab_bin, knob};

use futures::StreamExt;
use gitops_lab::protocol::{ClusterChoice, Command, Event, Reply};
use gitops_lab::{Engine, EngineConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: the kubeconfig the engine connects with.
const ENGINE_ENV: &str = "GITOPS_LAB_BENCH_ENGINE";
/// The namespace of the pods, and the empty one of the baseline.
const PODS_NAMESPACE: &str = "default";
const EMPTY_NAMESPACE: &str = "bench-empty";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match std::env::var_os(ENGINE_ENV) {
        Some(kubeconfig) => runtime.block_on(engine_child(PathBuf::from(kubeconfig))),
        None => runtime.block_on(driver()),
    }
}

async fn driver() {
    let (pods, changes) = (knob("BENCH_PODS", 1000), knob("BENCH_CHANGES", 500));
    let temp = tempfile::tempdir().expect("temp dir");
    let (mut sandbox, kubeconfig) = start_sandbox(&temp.path().join("sandbox"));
    let client = client(&kubeconfig).await;
    eprintln!("creating {pods} pods…");
    let created = Instant::now();
    create_pods(&client, pods).await;
    let created = created.elapsed();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let empty = serde_json::json!({"metadata": {"name": EMPTY_NAMESPACE}});
    namespaces.create(&PostParams::default(), &serde_json::from_value(empty).expect("namespace")).await.expect("ns");
    let baseline_config = temp.path().join("baseline-kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    std::fs::write(&baseline_config, text.replace("namespace: default", &format!("namespace: {EMPTY_NAMESPACE}")))
        .expect("baseline kubeconfig");

    eprintln!("engine watching an empty namespace (baseline)…");
    let baseline = run_child(&baseline_config, 0, changes);
    eprintln!("engine watching {pods} pods…");
    let loaded = run_child(&kubeconfig, pods, changes);
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    report(pods, created, &baseline, &loaded);
}

/// Starts `gitops-lab sandbox serve` and returns it with its kubeconfig.
fn start_sandbox(dir: &Path) -> (std::process::Child, PathBuf) {
    let mut child = Process::new(gitops_lab_bin())
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let kubeconfig = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("kubeconfig: ").map(PathBuf::from))
        .expect("the sandbox prints its kubeconfig");
    std::thread::spawn(move || lines.for_each(drop));
    (child, kubeconfig)
}

async fn client(kubeconfig: &Path) -> Client {
    let file = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(config).expect("client")
}

/// Deployments of up to 100 nginx replicas, `total` pods in all, waited for until all are Ready.
async fn create_pods(client: &Client, total: usize) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), PODS_NAMESPACE);
    for (index, start) in (0..total).step_by(100).enumerate() {
        let replicas = (total - start).min(100);
        let name = format!("load-{index}");
        let manifest = serde_json::json!({
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}
            }
        });
        let deployment: Deployment = serde_json::from_value(manifest).expect("deployment");
        deployments.create(&PostParams::default(), &deployment).await.expect("create deployment");
    }
    loop {
        let listed = deployments.list(&ListParams::default()).await.expect("list");
        let ready: i32 = listed.items.iter().filter_map(|d| d.status.as_ref()?.ready_replicas).sum();
        eprint!("\r  {ready}/{total} ready");
        if usize::try_from(ready).unwrap_or(0) >= total {
            eprintln!();
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What one engine child reported.
#[derive(Default)]
struct ChildReport {
    sync_ms: f64,
    nodes: usize,
    rss_kib: u64,
    hwm_kib: u64,
    samples: Vec<Sample>,
}

/// Picks one time of a sample.
type Pick = fn(&Sample) -> f64;

/// The times of one change, in µs.
struct Sample {
    /// Write acknowledged → the reference watcher has the event.
    ack_to_watcher: f64,
    /// Write acknowledged → the GraphDelta reached a subscriber.
    ack_to_delta: f64,
    /// The reference watcher has the event → the GraphDelta reached a subscriber.
    watcher_to_delta: f64,
}

/// Runs the engine child with `kubeconfig` and collects its report.
fn run_child(kubeconfig: &Path, pods: usize, changes: usize) -> ChildReport {
    let child = Process::new(std::env::current_exe().expect("own path"))
        .env(ENGINE_ENV, kubeconfig)
        .env("BENCH_PODS", pods.to_string())
        .env("BENCH_CHANGES", changes.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the engine child starts");
    let output = child.wait_with_output().expect("the engine child ends");
    assert!(output.status.success(), "the engine child failed");
    let mut report = ChildReport::default();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        match fields.first() {
            Some(&"synced") => (report.nodes, report.sync_ms) = (number(1) as usize, number(2)),
            Some(&"memory") => (report.rss_kib, report.hwm_kib) = (number(1) as u64, number(2) as u64),
            Some(&"change") => report.samples.push(Sample {
                ack_to_watcher: number(1),
                ack_to_delta: number(2),
                watcher_to_delta: number(3),
            }),
            _ => {}
        }
    }
    report
}

/// The child: an engine, its memory once synced, then timed changes.
async fn engine_child(kubeconfig: PathBuf) {
    let (pods, changes) = (knob("BENCH_PODS", 1000), knob("BENCH_CHANGES", 500));
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = EngineConfig::new(data.path().join("lab"), data.path().join("exercises"));
    config.kubeconfig = Some(kubeconfig.clone());
    config.cluster = ClusterChoice::Context { name: "gitops-lab-sandbox".into() };
    let started = Instant::now();
    let engine = Engine::start(config).await;
    let mut events = engine.subscribe();
    let nodes = loop {
        let Ok(Reply::Graph(snapshot)) = engine.handle(Command::Graph).await else { panic!("graph") };
        let seen = snapshot.nodes.iter().filter(|n| n.object.kind == "Pod").count();
        if !snapshot.namespaces.is_empty() && seen >= pods {
            break snapshot.nodes.len();
        }
        // Wake on the next event rather than polling.
        let _ = tokio::time::timeout(Duration::from_secs(1), events.next()).await;
    };
    println!("synced {nodes} {:.1}", started.elapsed().as_secs_f64() * 1000.0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss, hwm) = memory();
    println!("memory {rss} {hwm}");
    let namespace = if pods == 0 { EMPTY_NAMESPACE } else { PODS_NAMESPACE };
    time_changes(&engine, &kubeconfig, namespace, changes).await;
    engine.shutdown().await;
    let _ = std::io::stdout().flush();
}

/// VmRSS and VmHWM of this process, in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The reference: a plain watcher of the probe on its own connection, in the engine's process.
fn reference_watcher(api: Api<ConfigMap>) -> tokio::sync::mpsc::UnboundedReceiver<(String, Instant)> {
    let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
    let config = watcher::Config::default().fields("metadata.name=bench-probe");
    let mut stream = Box::pin(watcher::watcher(api, config));
    tokio::spawn(async move {
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(object)) = event {
                let _ = seen_tx.send((object.resource_version().unwrap_or_default(), Instant::now()));
            }
        }
    });
    seen
}

/// The probe's node status in each GraphDelta that carries it, with the time it arrived.
fn probe_deltas(engine: &Engine) -> tokio::sync::mpsc::UnboundedReceiver<(String, Instant)> {
    let (delta_tx, deltas) = tokio::sync::mpsc::unbounded_channel();
    let mut subscription = engine.subscribe();
    tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            if let Event::Graph(delta) = event
                && let Some(node) = delta.upserts.iter().find(|n| n.object.name == "bench-probe")
            {
                let _ = delta_tx.send((node.status.clone(), Instant::now()));
            }
        }
    });
    deltas
}

/// Patches a ConfigMap `changes` times and prints the three times of each change.
async fn time_changes(engine: &Engine, kubeconfig: &Path, namespace: &str, changes: usize) {
    let client = client(kubeconfig).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let probe: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "bench-probe"}, "data": {"a": "1"}}))
            .expect("configmap");
    api.create(&PostParams::default(), &probe).await.expect("probe created");
    let mut seen = reference_watcher(api.clone());
    let mut deltas = probe_deltas(engine);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for change in 0..changes {
        let (patch, expected) = if change % 2 == 0 {
            (serde_json::json!({"data": {"b": "2"}}), "2 key(s)")
        } else {
            (serde_json::json!({"data": {"b": null}}), "1 key(s)")
        };
        let patched = api.patch("bench-probe", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("patch");
        let acked = Instant::now();
        let version = patched.resource_version().unwrap_or_default();
        let watched = loop {
            let (seen_version, at) = seen.recv().await.expect("reference watcher");
            if seen_version == version {
                break at;
            }
        };
        let published = loop {
            let (status, at) = deltas.recv().await.expect("engine deltas");
            if status == expected {
                break at;
            }
        };
        let micros = |from: Instant, to: Instant| to.saturating_duration_since(from).as_secs_f64() * 1e6;
        let before = |a: Instant, b: Instant| if b >= a { micros(a, b) } else { -micros(b, a) };
        println!(
            "change {:.1} {:.1} {:.1}",
            micros(acked, watched),
            micros(acked, published),
            before(watched, published)
        );
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Prints the Markdown tables.
fn report(pods: usize, created: Duration, baseline: &ChildReport, loaded: &ChildReport) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("Load average at the end: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("{pods} pods created and Ready in {:.1} s.\n", created.as_secs_f64());
    println!("| engine watching | nodes | first graph after start | VmRSS | VmHWM (peak) |");
    println!("|---|---:|---:|---:|---:|");
    for (label, r) in [("an empty namespace (baseline)", baseline), ("the pods' namespace", loaded)] {
        println!(
            "| {label} | {} | {:.0} ms | {:.1} MiB | {:.1} MiB |",
            r.nodes,
            r.sync_ms,
            r.rss_kib as f64 / 1024.0,
            r.hwm_kib as f64 / 1024.0
        );
    }
    println!("\n| {} ConfigMap changes, times in ms | watching | median | p95 | p99 | max |", loaded.samples.len());
    println!("|---|---|---:|---:|---:|---:|");
    for (label, r) in [("empty namespace", baseline), (&*format!("{pods} pods"), loaded)] {
        let columns: [(&str, Pick); 3] = [
            ("write acknowledged → reference watcher has the event", |s| s.ack_to_watcher),
            ("write acknowledged → GraphDelta at a subscriber", |s| s.ack_to_delta),
            ("**event at the reference watcher → GraphDelta at a subscriber**", |s| s.watcher_to_delta),
        ];
        for (name, pick) in columns {
            let mut values: Vec<f64> = r.samples.iter().map(pick).map(|us| us / 1000.0).collect();
            values.sort_by(|a, b| a.total_cmp(b));
            let [median, p95, p99] = [0.5, 0.95, 0.99].map(|p| percentile(&values, p));
            let max = values.last().copied().unwrap_or(f64::NAN);
            println!("| {name} | {label} | {median:.3} | {p95:.3} | {p99:.3} | {max:.3} |");
        }
    }
}

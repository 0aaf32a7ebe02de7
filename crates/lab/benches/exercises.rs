//! Engine benchmark: how fast a check turns green after the event that satisfies it reaches the
//! engine, and the lab's apply against `kubectl apply` of the chapter's Deployment file.
//!
//! `cargo build --release -p gitops-lab && cargo bench -p gitops-lab-engine --bench exercises`
//!
//! The driver starts a real sandbox process (`gitops-lab sandbox serve`) and an engine in this
//! process, connected to it as to any kubeconfig context.
//!
//! 1. **Check latency**: an exercise with one check (`field: ConfigMap bench data.n equals "on"`) is
//!    opened; the driver flips the ConfigMap between `on` and `off` with kube-rs patches. For each
//!    flip it records the write's acknowledgement, the event reaching a plain kube-rs watcher in this
//!    process (the reference: "the event reached the engine"), and the engine's `Event::Check`
//!    announcing the new verdict. Knob: `BENCH_FLIPS` (400).
//! 2. **Apply**: warm, alternating, `BENCH_APPLIES` (20) times each: the lab's apply of the chapter's
//!    Deployment file through the engine's kubectl module (in process, as the UI uses it), the
//!    `gitops-lab apply -f` command (a process, connecting like kubectl), and `/usr/bin/kubectl apply
//!    -f`. Each alternates between two versions of the file so every apply is a `configured`.

mod support;
use support::{gitops_lab_bin, knob};

use futures::StreamExt;
use gitops_lab::kubectl::{ApplyOptions, Kubectl, parse};
use gitops_lab::protocol::{ClusterChoice, Command, Event};
use gitops_lab::{Engine, EngineConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx-declarative\n  annotations:\n    environment: prod\n    organization: ORG\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: nginx\n  template:\n    metadata:\n      labels:\n        app: nginx\n    spec:\n      containers:\n        - name: nginx\n          image: nginx:latest\n";

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, samples: &mut [f64]) {
    println!(
        "{name:<58} n={:<4} median {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms",
        samples.len(),
        percentile(samples, 0.5),
        percentile(samples, 0.95),
        percentile(samples, 1.0)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(driver());
}

async fn driver() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let (mut sandbox, kubeconfig) = start_sandbox(&temp.path().join("sandbox"));
    let exercises = temp.path().join("exercises");
    write_exercise(&exercises.join("bench"));
    let mut config = EngineConfig::new(temp.path().join("lab"), &exercises);
    config.kubeconfig = Some(kubeconfig.clone());
    config.cluster = ClusterChoice::Context { name: "gitops-lab-sandbox".into() };
    let engine = Engine::start(config).await;
    let client = engine.connection().require().expect("connected").client;
    check_latency(&engine, client.clone()).await;
    apply(&engine, &kubeconfig, temp.path()).await;
    engine.shutdown().await;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
}

fn start_sandbox(dir: &Path) -> (std::process::Child, PathBuf) {
    let mut child = Process::new(gitops_lab_bin())
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let kubeconfig = loop {
        let line = lines.next().expect("the sandbox prints its kubeconfig").expect("a line");
        if let Some(path) = line.strip_prefix("kubeconfig: ") {
            break PathBuf::from(path);
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, kubeconfig)
}

fn write_exercise(dir: &Path) {
    std::fs::create_dir_all(dir).expect("the exercise folder");
    let text = "schema: 1\nid: bench\nsection: \"9.9\"\ntitle: {en: Bench, zh-CN: 基准}\nsummary: {en: Bench, zh-CN: 基准}\nintro: {en: Bench, zh-CN: 基准}\nsteps:\n  - id: flip\n    title: {en: Flip, zh-CN: 翻转}\n    text: {en: Flip, zh-CN: 翻转}\n    checks:\n      - field: {kind: ConfigMap, name: bench, path: data.n, equals: \"on\"}\n";
    std::fs::write(dir.join("exercise.yaml"), text).expect("the exercise file");
}

async fn check_latency(engine: &Engine, client: Client) {
    let flips = knob("BENCH_FLIPS", 400);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut map = ConfigMap::default();
    map.metadata.name = Some("bench".into());
    map.data = Some([("n".to_string(), "off".to_string())].into());
    maps.create(&PostParams::default(), &map).await.expect("the ConfigMap");
    let mut events = engine.subscribe();
    engine.handle(Command::OpenExercise { id: "bench".into() }).await.expect("the exercise opens");
    let reference = watcher(maps.clone(), watcher::Config::default().fields("metadata.name=bench")).boxed();
    let mut reference = reference;
    while let Some(Ok(event)) = reference.next().await {
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), events.next()).await {}
    let (mut from_ack, mut from_event) = (Vec::new(), Vec::new());
    for i in 0..flips {
        let wanted = i % 2 == 0;
        let value = if wanted { "on" } else { "off" };
        let patch = serde_json::json!({"data": {"n": value}});
        let sent = Instant::now();
        maps.patch("bench", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("a patch");
        let acked = sent.elapsed();
        let seen = loop {
            match reference.next().await {
                Some(Ok(watcher::Event::Apply(cm)))
                    if cm.data.as_ref().and_then(|d| d.get("n")).map(String::as_str) == Some(value) =>
                {
                    break sent.elapsed();
                }
                Some(_) => continue,
                None => panic!("the reference watcher ended"),
            }
        };
        let green = loop {
            match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
                Ok(Some(Event::Check { check, .. })) if check.met == wanted => break sent.elapsed(),
                Ok(Some(_)) => continue,
                _ => panic!("no check event for flip {i}"),
            }
        };
        from_ack.push((green.saturating_sub(acked)).as_secs_f64() * 1000.0);
        from_event.push((green.saturating_sub(seen.min(green))).as_secs_f64() * 1000.0);
    }
    report("check verdict after the write's acknowledgement", &mut from_ack);
    report("check verdict after the event reached a watcher (reference)", &mut from_event);
}

async fn apply(engine: &Engine, kubeconfig: &Path, dir: &Path) {
    let runs = knob("BENCH_APPLIES", 20);
    let handle = engine.connection().require().expect("connected");
    let lab = Kubectl::new(&handle);
    let files: Vec<PathBuf> = ["sales", "marketing"]
        .iter()
        .map(|org| {
            let path = dir.join(format!("deployment-{org}.yaml"));
            std::fs::write(&path, DEPLOYMENT.replace("ORG", org)).expect("a manifest");
            path
        })
        .collect();
    let (mut in_process, mut lab_cli, mut kubectl) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs * 2 + 2 {
        let file = &files[i % 2];
        let text = std::fs::read_to_string(file).expect("the manifest");
        let manifests = parse("deployment.yaml", &text).expect("it parses");
        let started = Instant::now();
        let (_, output) = lab.apply_all(&manifests, &ApplyOptions::default()).await;
        let lab_time = started.elapsed().as_secs_f64() * 1000.0;
        assert!(output.ok(), "{}", output.stderr);
        let other = &files[(i + 1) % 2];
        let started = Instant::now();
        let status = Process::new(gitops_lab_bin())
            .args(["apply", "-f"])
            .arg(other)
            .args(["--cluster", "context:gitops-lab-sandbox", "--data-dir"])
            .arg(dir.join("cli"))
            .env("KUBECONFIG", kubeconfig)
            .stdout(Stdio::null())
            .status()
            .expect("gitops-lab apply");
        let cli_time = started.elapsed().as_secs_f64() * 1000.0;
        assert!(status.success());
        let started = Instant::now();
        let status = Process::new("/usr/bin/kubectl")
            .args(["apply", "-f"])
            .arg(file)
            .env("KUBECONFIG", kubeconfig)
            .stdout(Stdio::null())
            .status()
            .expect("kubectl apply");
        let kubectl_time = started.elapsed().as_secs_f64() * 1000.0;
        assert!(status.success());
        if i >= 2 {
            in_process.push(lab_time);
            lab_cli.push(cli_time);
            kubectl.push(kubectl_time);
        }
    }
    report("apply: the lab's apply in process (engine, warm client)", &mut in_process);
    report("apply: `gitops-lab apply -f` (a process)", &mut lab_cli);
    report("apply: `kubectl apply -f` (a process)", &mut kubectl);
}

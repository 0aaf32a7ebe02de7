//! Workload benchmark: pod start, a 100-replica Deployment, port-forward latency and throughput, and
//! the idle CPU of the real binary, against a sandbox with its controllers and simulated node.
//!
//! Run: `cargo bench -p gitops-lab-sandbox --bench workloads`
//! (results and their reading: docs/benchmarks.md). Parts 1–3 serve a sandbox in this process
//! (`server::run`, real HTTPS, a temporary data directory with real fsync); part 4 starts the real
//! binary (`GITOPS_LAB_BIN`, default `gitops-lab` in the release target dir; skipped when absent) so only
//! the server's own CPU is counted. Knobs: `BENCH_PARTS` (comma list of pods, deployment,
//! portforward, idle; default all), `BENCH_PODS` (200), `BENCH_DEPLOY_RUNS` (5), `BENCH_REPLICAS`
//! (100), `BENCH_PF_REQUESTS` (500), `BENCH_PF_MIB` (64), `BENCH_IDLE_SECS` (30), `BENCH_DIR`
//! (where the data directory goes, default the system temp dir), `KUBECTL` (default /usr/bin/kubectl).

#![forbid(unsafe_code)]

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

#[allow(dead_code)]
#[path = "shared/serve.rs"]
mod serve;
// Shared by both benches; each uses a part.
#[allow(dead_code)]
#[path = "shared/report.rs"]
mod report;
use report::{Report, Stats, load_average, sample_cpu};
use serve::{Server, client};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn wanted(part: &str) -> bool {
    std::env::var("BENCH_PARTS").map_or(true, |parts| parts.split(',').any(|p| p.trim() == part))
}

fn main() {
    // Two workers, like the machines the targets are set for.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let base = std::env::var_os("BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::tempdir_in(&base).expect("a temporary directory");
    let mut report = Report::default();
    report.note(format!("load average at the start: {}", load_average()));
    if wanted("pods") || wanted("deployment") || wanted("portforward") {
        let server = Server::start(&temp.path().join("data")).await;
        if wanted("pods") {
            pod_start(&server.client, env_number("BENCH_PODS", 200), &mut report).await;
        }
        if wanted("deployment") {
            let (runs, replicas) = (env_number("BENCH_DEPLOY_RUNS", 5), env_number("BENCH_REPLICAS", 100));
            deployment_runs(&server.client, runs, replicas as i32, &mut report).await;
        }
        if wanted("portforward") {
            port_forward(&server, &mut report).await;
        }
        report.note(format!("load average after the in-process parts: {}", load_average()));
        server.stop().await;
    }
    if wanted("idle") {
        idle_cpu(temp.path(), env_number("BENCH_IDLE_SECS", 30) as u64, &mut report).await;
    }
    report.note(format!("load average at the end: {}", load_average()));
    report.print();
}

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("the namespace is created");
}

fn nginx_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"run": name}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
    }))
    .expect("a pod")
}

fn is_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a watcher saw of one pod at one moment.
struct Seen {
    name: String,
    at: Instant,
    bound: bool,
    running: bool,
    ready: bool,
}

/// Follows the pods of a namespace with kube-rs' watcher; the returned receiver gets one `Seen`
/// per applied event, after the initial list is done.
async fn watch_pods(client: &Client, ns: &str) -> mpsc::UnboundedReceiver<Seen> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (init_tx, init_rx) = tokio::sync::oneshot::channel();
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    tokio::spawn(async move {
        let mut init = Some(init_tx);
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::InitDone) => {
                    init.take().map(|i| i.send(()));
                }
                Ok(Event::Apply(pod)) => {
                    let (bound, running) =
                        (pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()), phase(&pod) == "Running");
                    let seen = Seen { name: pod.name_any(), at: Instant::now(), bound, running, ready: is_ready(&pod) };
                    if tx.send(seen).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => eprintln!("pod watcher: {error}"),
            }
        }
    });
    let _ = init_rx.await;
    rx
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Part 1: pods created one at a time; from each create's acknowledgement to the watcher seeing it
/// bound to the node, Running, and Running with Ready=True.
async fn pod_start(client: &Client, count: usize, report: &mut Report) {
    let ns = "bench-pods";
    namespace(client, ns).await;
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut seen = watch_pods(client, ns).await;
    let (mut create, mut bound, mut running, mut ready) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (started, rv_before) = (Instant::now(), store_revision(&api).await);
    for i in 0..count {
        let name = format!("p-{i:04}");
        let sent = Instant::now();
        api.create(&PostParams::default(), &nginx_pod(&name)).await.expect("the pod is created");
        let ack = Instant::now();
        create.push(ack - sent);
        let (mut b, mut r) = (None, None);
        loop {
            let s = tokio::time::timeout(Duration::from_secs(30), seen.recv())
                .await
                .expect("the pod gets ready within 30 s")
                .expect("the watcher runs");
            if s.name != name {
                continue;
            }
            let since = s.at.saturating_duration_since(ack);
            if s.bound && b.is_none() {
                b = Some(since);
            }
            if s.running && r.is_none() {
                r = Some(since);
            }
            if s.ready {
                ready.push(since);
                bound.push(b.unwrap_or(since));
                running.push(r.unwrap_or(since));
                break;
            }
        }
    }
    let total = started.elapsed();
    let slowest = ready
        .iter()
        .enumerate()
        .max_by_key(|(_, d)| **d)
        .map(|(i, d)| format!("p-{i:04} ({:.0} ms)", d.as_secs_f64() * 1000.0));
    report.note(format!(
        "slowest pod: {}; FailedMount events in the namespace: {}",
        slowest.unwrap_or_default(),
        failed_mounts(client, ns).await
    ));
    let writes = store_revision(&api).await.saturating_sub(rv_before);
    report.note(format!(
        "store writes while the {count} pods were created and started: {writes} ({:.1} per pod)",
        writes as f64 / count as f64
    ));
    report.line(&format!("pod create round trip ({count} nginx pods, one at a time)"), None, &Stats::of(create));
    report.line("  create ack → watcher sees spec.nodeName set", None, &Stats::of(bound));
    report.line("  create ack → watcher sees phase Running", None, &Stats::of(running));
    report.line(
        "pod create ack → Running and Ready=True (watcher)",
        Some(("p99 ≤ 100 ms", 100.0)),
        &Stats::of(ready).with_p99_target(),
    );
    report.note(format!("{count} pods created and ready in {:.1} s", total.as_secs_f64()));
    let started = Instant::now();
    api.delete_collection(&DeleteParams::default(), &ListParams::default()).await.expect("the pods are deleted");
    let left = wait_empty(&api, Duration::from_secs(120)).await;
    report.note(format!(
        "deleting the {count} pods (one DELETE collection) until the LIST is empty: {:.1} s ({left} left)",
        started.elapsed().as_secs_f64()
    ));
}

/// The FailedMount events of a namespace: how many, and the first one's object and message.
async fn failed_mounts(client: &Client, ns: &str) -> String {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    let list =
        events.list(&ListParams::default().fields("reason=FailedMount")).await.map(|l| l.items).unwrap_or_default();
    match list.first() {
        Some(e) => {
            format!(
                "{} (first: {} {:?})",
                list.len(),
                e.involved_object.name.as_deref().unwrap_or("?"),
                e.message.as_deref().unwrap_or("")
            )
        }
        None => "0".into(),
    }
}

/// Polls (client side, between measurements only) until the namespace's pods are gone; how many are left.
async fn wait_empty(api: &Api<Pod>, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let left = api.list(&ListParams::default()).await.map(|l| l.items.len()).unwrap_or(usize::MAX);
        if left == 0 || Instant::now() > deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The store's revision: a LIST's resourceVersion (the sandbox counts every committed write).
async fn store_revision(api: &Api<Pod>) -> u64 {
    let list = api.list(&ListParams::default().limit(1)).await.expect("a list");
    list.metadata.resource_version.and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}},
    }))
    .expect("a deployment")
}

/// Part 2: a Deployment of `replicas` nginx pods from create to readyReplicas and
/// availableReplicas both equal to `replicas`, `runs` times, deleted and drained between runs.
async fn deployment_runs(client: &Client, runs: usize, replicas: i32, report: &mut Report) {
    let ns = "bench-deploy";
    namespace(client, ns).await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut pod_events = watch_pods(client, ns).await;
    let (mut total, mut created, mut pods_ready, mut drain) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut writes = Vec::new();
    for run in 0..runs {
        let name = format!("web-{run}");
        let watch =
            watcher::watcher(deployments.clone(), watcher::Config::default().fields(&format!("metadata.name={name}")));
        let mut watch = watch.boxed();
        loop {
            match watch.try_next().await {
                Ok(Some(Event::InitDone)) => break,
                Ok(None) => panic!("the deployment watcher ended before its initial list"),
                _ => {}
            }
        }
        let rv_before = store_revision(&pods).await;
        let sent = Instant::now();
        deployments
            .create(&PostParams::default(), &deployment(&name, replicas))
            .await
            .expect("the deployment is created");
        let ack = Instant::now();
        let (done, all_created, last_pod_ready) = until_ready(&mut watch, &mut pod_events, &name, replicas, sent).await;
        total.push(done - sent);
        writes.push(store_revision(&pods).await.saturating_sub(rv_before));
        created.push(all_created.unwrap_or(done - sent));
        pods_ready.push(last_pod_ready.unwrap_or(done - sent));
        eprintln!(
            "deployment run {run}: {:.0} ms (ack {:.1} ms)",
            (done - sent).as_secs_f64() * 1000.0,
            (ack - sent).as_secs_f64() * 1000.0
        );
        let started = Instant::now();
        deployments.delete(&name, &DeleteParams::background()).await.expect("the deployment is deleted");
        let left = wait_empty(&pods, Duration::from_secs(120)).await;
        assert_eq!(left, 0, "the deployment's pods are gone within 120 s");
        drain.push(started.elapsed());
        while pod_events.try_recv().is_ok() {}
    }
    report.line(&format!("  Deployment create → status.replicas = {replicas}"), None, &Stats::of(created));
    report.line(
        &format!("  Deployment create → watcher has seen all {replicas} pods Ready"),
        None,
        &Stats::of(pods_ready),
    );
    report.line(
        &format!("Deployment of {replicas} nginx: create → ready = available = {replicas}"),
        Some(("≤ 2000 ms", 2000.0)),
        &Stats::of(total),
    );
    report.note(format!(
        "store writes (resourceVersion advance) from the Deployment's create to its readiness, per run: {writes:?}"
    ));
    report.line("  delete (background) → no pods left in the LIST (polled every 200 ms)", None, &Stats::of(drain));
}

/// Follows a Deployment's watcher and the namespace's pods until the Deployment reports all replicas
/// ready and available; that moment, and (since `sent`) when status.replicas reached the size and
/// when the pod watcher had seen every pod Ready.
async fn until_ready(
    watch: &mut (impl futures::Stream<Item = Result<Event<Deployment>, watcher::Error>> + Unpin),
    pod_events: &mut mpsc::UnboundedReceiver<Seen>,
    name: &str,
    replicas: i32,
    sent: Instant,
) -> (Instant, Option<Duration>, Option<Duration>) {
    let (mut all_created, mut ready_pods, mut last_pod_ready) = (None, std::collections::HashSet::new(), None);
    let prefix = format!("{name}-");
    loop {
        tokio::select! {
            event = watch.try_next() => {
                let Ok(Some(Event::Apply(d))) = event else { continue };
                let status = d.status.unwrap_or_default();
                if status.replicas == Some(replicas) && all_created.is_none() {
                    all_created = Some(Instant::now() - sent);
                }
                if status.ready_replicas == Some(replicas) && status.available_replicas == Some(replicas) {
                    return (Instant::now(), all_created, last_pod_ready);
                }
            }
            Some(s) = pod_events.recv() => {
                let counted = s.ready && s.name.starts_with(&prefix) && ready_pods.insert(s.name);
                if counted && ready_pods.len() == replicas as usize {
                    last_pod_ready = Some(s.at - sent);
                }
            }
        }
    }
}

/// Sends a GET and reads the whole answer on a kept-alive connection; the body's length.
async fn http_get<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut S,
    path: &str,
    close: bool,
    buf: &mut Vec<u8>,
) -> usize {
    let connection = if close { "close" } else { "keep-alive" };
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: {connection}\r\n\r\n").as_bytes())
        .await
        .expect("the request is sent");
    buf.clear();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read_some(conn, buf).await;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "GET {path}: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a Content-Length");
    let mut body = buf.len() - head_end;
    let mut chunk = vec![0u8; 256 * 1024];
    while body < length {
        match conn.read(&mut chunk).await.expect("the body is readable") {
            0 => panic!("the connection closed after {body} of {length} bytes"),
            n => body += n,
        }
    }
    length
}

async fn read_some<S: AsyncRead + Unpin>(conn: &mut S, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    match conn.read(&mut chunk).await.expect("the answer is readable") {
        0 => panic!("the connection closed before the response head"),
        n => buf.extend_from_slice(&chunk[..n]),
    }
}

/// Runs an awaited expression `n` times; the time of each.
macro_rules! timed {
    ($n:expr, $call:expr) => {{
        let mut samples = Vec::with_capacity($n);
        for _ in 0..$n {
            let start = Instant::now();
            $call.await;
            samples.push(start.elapsed());
        }
        samples
    }};
}

/// Part 3: GET latency and download throughput through kube-rs' port-forward (v4 channels over
/// WebSocket) and through a spawned `kubectl port-forward` (its own transport).
async fn port_forward(server: &Server, report: &mut Report) {
    let (requests, mib) = (env_number("BENCH_PF_REQUESTS", 500), env_number("BENCH_PF_MIB", 64));
    let ns = "bench-pf";
    namespace(&server.client, ns).await;
    let pods: Api<Pod> = Api::namespaced(server.client.clone(), ns);
    pods.create(&PostParams::default(), &nginx_pod("pf")).await.expect("the pod is created");
    wait_ready(&pods, "pf").await;
    let size = upload(&pods, mib, report).await;
    let mut buf = Vec::new();

    let mut forwarder = pods.portforward("pf", &[80]).await.expect("port-forward starts");
    let mut stream = forwarder.take_stream(80).expect("a stream for port 80");
    let small = http_get(&mut stream, "/", false, &mut buf).await;
    let latencies = timed!(requests, http_get(&mut stream, "/", false, &mut buf));
    report.note(format!("kube-rs kept-alive GETs of {requests} slower than 20 ms: {}", slow(&latencies)));
    report.line(
        &format!("kube-rs port-forward: GET / ({small} B), one kept-alive stream"),
        None,
        &Stats::of(latencies),
    );
    let rates = download(&mut stream, size, &mut buf).await;
    report.rate(&format!("kube-rs port-forward: download {mib} MiB"), "≥ 50 MB/s", 50.0, &rates);
    drop(stream);
    forwarder.abort();
    let mut fresh = Vec::new();
    for _ in 0..requests / 5 {
        let start = Instant::now();
        let mut forwarder = pods.portforward("pf", &[80]).await.expect("port-forward starts");
        let mut stream = forwarder.take_stream(80).expect("a stream for port 80");
        http_get(&mut stream, "/", true, &mut buf).await;
        fresh.push(start.elapsed());
        drop(stream);
        let _ = forwarder.join().await;
    }
    report.line(
        "kube-rs port-forward: new forwarder + GET / each (WebSocket upgrade included)",
        None,
        &Stats::of(fresh),
    );

    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into());
    let Some((mut child, port)) = kubectl_port_forward(&kubectl, &server.running.kubeconfig, ns) else {
        report.note(format!("kubectl port-forward skipped: {kubectl} did not start or print its port"));
        return;
    };
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("the forwarded port accepts");
    conn.set_nodelay(true).expect("nodelay");
    http_get(&mut conn, "/", false, &mut buf).await;
    let kept = timed!(requests, http_get(&mut conn, "/", false, &mut buf));
    report.note(format!("kubectl kept-alive GETs of {requests} slower than 20 ms: {}", slow(&kept)));
    report.line("kubectl port-forward: GET /, one kept-alive TCP connection", None, &Stats::of(kept));
    let rates = download(&mut conn, size, &mut buf).await;
    drop(conn);
    report.rate(&format!("kubectl port-forward: download {mib} MiB"), "≥ 50 MB/s", 50.0, &rates);
    let mut fresh = Vec::new();
    for _ in 0..requests / 5 {
        let start = Instant::now();
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("the forwarded port accepts");
        http_get(&mut conn, "/", true, &mut buf).await;
        fresh.push(start.elapsed());
    }
    report.line("kubectl port-forward: new TCP connection (new stream pair) + GET / each", None, &Stats::of(fresh));
    let _ = child.kill();
    let _ = child.wait();
}

/// How many samples took 20 ms or more, and at which request numbers (the first ten).
fn slow(samples: &[Duration]) -> String {
    let at: Vec<usize> = samples.iter().enumerate().filter(|(_, d)| d.as_millis() >= 20).map(|(i, _)| i).collect();
    format!("{} (requests {:?})", at.len(), &at[..at.len().min(10)])
}

/// Three downloads of /big.bin; MB/s (10^6 bytes) of each.
async fn download<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut S, size: usize, buf: &mut Vec<u8>) -> Vec<f64> {
    let mut rates = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(http_get(conn, "/big.bin", false, buf).await, size, "the whole file arrives");
        rates.push(size as f64 / start.elapsed().as_secs_f64() / 1e6);
    }
    rates
}

async fn wait_ready(pods: &Api<Pod>, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pods.get(name).await.is_ok_and(|p| is_ready(&p)) {
        assert!(Instant::now() < deadline, "pod {name} is not ready after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `mib` MiB into the pod's document root through exec (`sh -c 'cat > …'` with stdin);
/// the file's size. The upload rate is reported too: it is the exec path's throughput.
async fn upload(pods: &Api<Pod>, mib: usize, report: &mut Report) -> usize {
    let size = mib << 20;
    let params = AttachParams::default().stdin(true).stdout(false).stderr(true);
    let start = Instant::now();
    let command = ["sh", "-c", "cat > /usr/share/nginx/html/big.bin"];
    let mut process = pods.exec("pf", command, &params).await.expect("exec starts");
    let mut stdin = process.stdin().expect("stdin");
    let chunk: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for _ in 0..mib {
        stdin.write_all(&chunk).await.expect("stdin accepts");
    }
    stdin.shutdown().await.expect("stdin closes");
    drop(stdin);
    let status = process.take_status().expect("a status").await;
    let seconds = start.elapsed().as_secs_f64();
    let _ = process.join().await;
    assert!(status.as_ref().is_some_and(|s| s.status.as_deref() == Some("Success")), "the upload fails: {status:?}");
    report.note(format!(
        "{mib} MiB written into the pod through kube-rs exec stdin in {seconds:.2} s ({:.0} MB/s)",
        size as f64 / seconds / 1e6
    ));
    size
}

/// `kubectl port-forward pod/pf :80` in `ns`; the child and its local port.
fn kubectl_port_forward(kubectl: &str, kubeconfig: &Path, ns: &str) -> Option<(Child, u16)> {
    let home = kubeconfig.parent()?.join("home");
    let mut child = Command::new(kubectl)
        .args(["port-forward", "-n", ns, "pod/pf", ":80"])
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let port = lines.by_ref().map_while(Result::ok).find_map(|l| {
        l.strip_prefix("Forwarding from 127.0.0.1:")
            .and_then(|r| r.split_once(" -> "))
            .and_then(|(local, _)| local.parse().ok())
    });
    std::thread::spawn(move || lines.for_each(drop));
    match port {
        Some(port) => Some((child, port)),
        None => {
            let _ = child.kill();
            None
        }
    }
}

/// Part 4: the real binary's CPU while idle, empty and then with an nginx pod and a Deployment of
/// 3 replicas; utime + stime from /proc/<pid>/stat, and wake-ups (context switches of all threads).
async fn idle_cpu(dir: &Path, secs: u64, report: &mut Report) {
    // Bench executables live in target/release/deps/; the binary in target/release/.
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.parent()?.join("gitops-lab")));
    let bin = std::env::var("GITOPS_LAB_BIN")
        .ok()
        .or_else(|| beside.map(|p| p.display().to_string()))
        .unwrap_or_else(|| "gitops-lab".into());
    if !Path::new(&bin).exists() {
        report.note(format!("idle CPU skipped: {bin} is missing (cargo build --release -p gitops-lab)"));
        return;
    }
    let mut child = Command::new(&bin)
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("idle-data"))
        .env("GITOPS_LAB_LANG", "en")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gitops-lab starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(path) = line.strip_prefix("kubeconfig: ") {
                let _ = tx.send(PathBuf::from(path));
            }
        }
    });
    let kubeconfig = rx.recv_timeout(Duration::from_secs(30)).expect("the sandbox prints its kubeconfig within 30 s");
    let pid = child.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let empty = sample_cpu(pid, secs).await;
    report.cpu("idle CPU of `gitops-lab sandbox serve`, empty", secs, empty);

    let client = client(&kubeconfig).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &nginx_pod("idle-nginx")).await.expect("the pod is created");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments.create(&PostParams::default(), &deployment("idle-web", 3)).await.expect("the deployment is created");
    wait_ready(&pods, "idle-nginx").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while deployments.get("idle-web").await.ok().and_then(|d| d.status).and_then(|s| s.available_replicas) != Some(3) {
        assert!(Instant::now() < deadline, "the deployment is not available after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((pods, deployments, client));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let busy = sample_cpu(pid, secs).await;
    report.cpu("idle CPU with 1 nginx pod + a Deployment of 3 (4 pods)", secs, busy);
    report.note(format!(
        "server threads: {}",
        std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
    ));
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.wait();
}

//! Sandbox benchmark: kube-rs round trips, watch delivery, large LISTs and server memory against a
//! sandbox served over real HTTPS with real fsync on disk, printed beside the physical floors.
//!
//! Run: `CARGO_TARGET_DIR=/work/target cargo bench -p gitops-lab-sandbox --bench sandbox`
//! (results and their reading: docs/benchmarks.md). Latencies are measured against a sandbox in
//! this process; the memory figures against the same data directory served by a child process (this
//! binary again, with `GITOPS_LAB_BENCH_SERVE` set), so the client's memory is not counted.
//! Knobs: `BENCH_OPS` (round trips per verb, default 2000), `BENCH_OBJECTS` (objects for the LIST
//! and memory figures, default 10000), `BENCH_DIR` (where the data directory goes, default the
//! system temp dir; it must be on a real disk for the fsync figures to mean anything).

#![forbid(unsafe_code)]

use futures::StreamExt;
use gitops_sandbox_core::registry::builtin_type;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

// The measuring helpers are shared with the workload benchmark; this one uses only some of them.
#[allow(dead_code)]
#[path = "shared/serve.rs"]
mod serve;
// Shared by both benches; each uses a part.
#[allow(dead_code)]
#[path = "shared/report.rs"]
mod report;
use report::{Report, Stats, load_average};
use serve::Server;

/// The number of watchers in the delivery test.
const WATCHERS: usize = 10;
/// Writes observed by every watcher in the delivery test.
const WATCHED_WRITES: usize = 500;
/// Runs of the large LIST (the median is reported).
const LIST_RUNS: usize = 7;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // Two workers, like the machines the targets are set for.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    match std::env::var_os(SERVE) {
        Some(dir) => runtime.block_on(serve_child(Path::new(&dir))),
        None => runtime.block_on(run()),
    }
}

/// Set in the environment of the child process that serves a data directory for the memory figures.
const SERVE: &str = "GITOPS_LAB_BENCH_SERVE";

/// The child's side: serve `dir` until the parent closes our stdin.
async fn serve_child(dir: &Path) {
    let server = Server::start(dir).await;
    println!("ready");
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await.expect("stdin").ok();
    server.stop().await;
}

async fn run() {
    let ops = env_number("BENCH_OPS", 2000);
    let objects = env_number("BENCH_OBJECTS", 10_000);
    let base = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::tempdir_in(&base).expect("a temporary directory");
    let mut report = Report::default();
    report.note(format!("load average at the start: {}", load_average()));

    report.line("floor: fsync of a 4 KiB append", None, &Stats::of(fsync_floor(temp.path(), 1000, true)));
    report.line(
        "floor: fdatasync of a 4 KiB overwrite in place",
        None,
        &Stats::of(fsync_floor(temp.path(), 1000, false)),
    );
    report.line("floor: loopback TCP round trip", None, &Stats::of(tcp_floor(5000)));

    let data = temp.path().join("data");
    let server = Server::start(&data).await;
    let api: Api<ConfigMap> = Api::namespaced(server.client.clone(), "default");
    round_trips(&api, ops, &mut report).await;
    direct_writes(&server, ops / 4, &mut report);
    watch_delivery(&api, &mut report).await;

    let bulk = create_bulk(&server.client, objects).await;
    let lists = list_runs(&bulk, LIST_RUNS, objects).await;
    report.line(
        &format!("LIST of {objects} ConfigMaps (kube-rs, typed)"),
        Some(("≤ 50 ms", 50.0)),
        &Stats::of(lists.typed),
    );
    report.line(&format!("LIST of {objects} ConfigMaps (raw text, no decoding)"), None, &Stats::of(lists.raw));
    report.note(format!(
        "process CPU per LIST (client and server together): {:.1} ms typed, {:.1} ms raw",
        lists.typed_cpu_ms, lists.raw_cpu_ms
    ));
    let (wall, read, encode) = server_side_list(&server, 30);
    report.line("  server's share: store read + JSON encoding, in process", None, &Stats::of(wall));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    report.note(format!(
        "server's share in CPU time (mean of 30): store read {:.2} ms, JSON encoding {:.1} ms",
        ms(read),
        ms(encode)
    ));
    report.note(format!("LIST response size: {:.1} MiB", lists.bytes as f64 / (1024.0 * 1024.0)));
    drop((api, bulk));
    server.stop().await;
    memory(&data, objects, &mut report).await;
    report.note(format!("load average at the end: {}", load_average()));
    report.print();
}

/// Serves the data directory from a child process and reads its VmRSS after opening and after LISTs.
async fn memory(data: &Path, objects: usize, report: &mut Report) {
    let started = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe().expect("the bench binary"))
        .env(SERVE, data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the serving child starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("the child says it is ready");
    assert_eq!(line.trim(), "ready", "the serving child did not start");
    let opened = started.elapsed();
    let pid = child.id();
    let loaded = rss_kib(pid);
    let client = serve::client(&data.join("kubeconfig")).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "bulk");
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        assert!(api.list(&ListParams::default()).await.expect("list").items.len() >= objects);
        times.push(start.elapsed());
    }
    let after = rss_kib(pid);
    drop(child.stdin.take());
    let _ = child.wait();
    let mib = |kib: u64| kib as f64 / 1024.0;
    report.line(&format!("LIST of {objects} ConfigMaps, server in its own process"), None, &Stats::of(times));
    report.note(format!(
        "server process opened the store ({objects}+ objects) and was ready in {:.0} ms",
        opened.as_secs_f64() * 1000.0
    ));
    report.note(format!("server VmRSS holding the objects: {:.1} MiB (target ≤ 100 MB)", mib(loaded)));
    report.note(format!(
        "server VmRSS after 5 large LISTs: {:.1} MiB ({:.2}× the loaded figure)",
        mib(after),
        mib(after) / mib(loaded)
    ));
}

/// The server's own share of a LIST: reading the index, then encoding every object as JSON. Gives
/// the wall times, and the mean CPU time of this thread for each step (which other processes' load
/// does not inflate; the kernel counts it in coarse steps, hence a mean over many runs).
fn server_side_list(server: &Server, runs: usize) -> (Vec<Duration>, Duration, Duration) {
    let sandbox = &server.running.sandbox;
    let configmaps = builtin_type("", "configmaps").id();
    let (mut wall, mut read_cpu, mut encode_cpu) = (Vec::new(), Duration::ZERO, Duration::ZERO);
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), thread_cpu());
        let (snapshot, _) = sandbox.store().list(&configmaps, Some("bulk"), None, 0, |_| true);
        let read = thread_cpu();
        let mut out = Vec::with_capacity(4 << 20);
        for item in &snapshot.items {
            serde_json::to_writer(&mut out, item.as_ref()).expect("encode");
        }
        std::hint::black_box(out);
        wall.push(start.elapsed());
        read_cpu += read.saturating_sub(cpu);
        encode_cpu += thread_cpu().saturating_sub(read);
    }
    let runs = runs.max(1) as u32;
    (wall, read_cpu / runs, encode_cpu / runs)
}

/// CPU time this thread has run, from /proc/thread-self/schedstat (nanoseconds on the CPU).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// CPU time of this whole process (user + system), from /proc/self/stat in clock ticks of 10 ms.
fn process_cpu_ms() -> f64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = text.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web", "owner": "platform-team"}},
        "data": {"greeting": "hello from the benchmark",
            "settings.properties": "color=blue\nsize=large\nmode=production\n"},
    }))
    .expect("a config map")
}

/// Times `ops` creates, gets and merge patches, one at a time.
async fn round_trips(api: &Api<ConfigMap>, ops: usize, report: &mut Report) {
    let pp = PostParams::default();
    let mut create = Vec::with_capacity(ops);
    for i in 0..ops {
        let cm = config_map(&format!("rt-{i}"));
        let start = Instant::now();
        api.create(&pp, &cm).await.expect("create");
        create.push(start.elapsed());
    }
    let mut get = Vec::with_capacity(ops);
    for i in 0..ops {
        let name = format!("rt-{}", (i * 7919) % ops);
        let start = Instant::now();
        api.get(&name).await.expect("get");
        get.push(start.elapsed());
    }
    let mut patch = Vec::with_capacity(ops);
    let params = PatchParams::default();
    for i in 0..ops {
        let body = Patch::Merge(json!({"data": {"counter": i.to_string()}}));
        let start = Instant::now();
        api.patch(&format!("rt-{i}"), &params, &body).await.expect("patch");
        patch.push(start.elapsed());
    }
    report.line("create round trip (kube-rs)", Some(("≤ 1 ms", 1.0)), &Stats::of(create));
    report.line("GET round trip (kube-rs)", Some(("≤ 0.3 ms", 0.3)), &Stats::of(get));
    report.line("merge PATCH round trip (kube-rs)", Some(("≤ 1 ms", 1.0)), &Stats::of(patch));
}

/// The same create without HTTP, TLS or kube-rs: `Sandbox::create` (admission, encoding, the
/// fsynced commit) called directly, to split a round trip into the store's part and the rest.
fn direct_writes(server: &Server, ops: usize, report: &mut Report) {
    let sandbox = &server.running.sandbox;
    let rt = builtin_type("", "configmaps");
    let mut create = Vec::with_capacity(ops);
    for i in 0..ops {
        let object = serde_json::to_value(config_map(&format!("direct-{i}"))).expect("JSON");
        let start = Instant::now();
        sandbox
            .create(rt, Some("default"), object, gitops_sandbox_core::cluster::WriteOptions::default())
            .expect("create");
        create.push(start.elapsed());
    }
    report.line("  create inside the server (Sandbox::create, no HTTP)", None, &Stats::of(create));
}

/// Ten watchers follow one object while it is patched; for each write, the time from the client
/// sending it (and from the client receiving its acknowledgement) to each watcher decoding the event.
async fn watch_delivery(api: &Api<ConfigMap>, report: &mut Report) {
    let target = "watched";
    let created = api.create(&PostParams::default(), &config_map(target)).await.expect("create");
    let from = created.resource_version().expect("a resourceVersion");
    let params = WatchParams::default().fields(&format!("metadata.name={target}"));
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut stream = api.watch(&params, &from).await.expect("a watch").boxed();
        watchers.push(tokio::spawn(async move {
            let mut seen: HashMap<String, Instant> = HashMap::with_capacity(WATCHED_WRITES);
            while seen.len() < WATCHED_WRITES {
                match stream.next().await {
                    Some(Ok(WatchEvent::Modified(cm))) => {
                        seen.insert(cm.resource_version().unwrap_or_default(), Instant::now());
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the watch ended early: {other:?}"),
                }
            }
            seen
        }));
    }
    let mut writes = Vec::with_capacity(WATCHED_WRITES);
    for i in 0..WATCHED_WRITES {
        let body = Patch::Merge(json!({"data": {"counter": i.to_string()}}));
        let sent = Instant::now();
        let written = api.patch(target, &PatchParams::default(), &body).await.expect("patch");
        writes.push((written.resource_version().expect("a resourceVersion"), sent, Instant::now()));
    }
    let (mut from_send, mut from_ack) = (Vec::new(), Vec::new());
    for watcher in watchers {
        let seen =
            tokio::time::timeout(Duration::from_secs(60), watcher).await.expect("watchers finish").expect("a watcher");
        for (rv, sent, acked) in &writes {
            let received = seen.get(rv).expect("every watcher sees every write");
            from_send.push(received.saturating_duration_since(*sent));
            from_ack.push(received.saturating_duration_since(*acked));
        }
    }
    let early = from_ack.iter().filter(|d| d.is_zero()).count();
    report.line(
        "watch delivery, after the write's ack (10 watchers)",
        Some(("p99 ≤ 5 ms", 5.0)),
        &Stats::of(from_ack).with_p99_target(),
    );
    report.line("watch delivery, from sending the write", None, &Stats::of(from_send));
    report.note(format!(
        "{early} of {} deliveries arrived before the writer saw its ack (counted as 0)",
        WATCHERS * WATCHED_WRITES
    ));
}

/// Creates `count` config maps in a fresh namespace from a few concurrent writers.
async fn create_bulk(client: &Client, count: usize) -> Api<ConfigMap> {
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "bulk"}})).expect("a namespace");
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.expect("namespace");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "bulk");
    let writers = 8;
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let api = api.clone();
            tokio::spawn(async move {
                for i in (w..count).step_by(writers) {
                    api.create(&PostParams::default(), &config_map(&format!("bulk-{i:05}"))).await.expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a bulk writer");
    }
    eprintln!("created {count} objects with {writers} writers in {:.1} s", started.elapsed().as_secs_f64());
    api
}

struct Lists {
    typed: Vec<Duration>,
    raw: Vec<Duration>,
    bytes: usize,
    typed_cpu_ms: f64,
    raw_cpu_ms: f64,
}

/// Times full LISTs, decoded by kube-rs and as raw text (server + transfer only).
async fn list_runs(api: &Api<ConfigMap>, runs: usize, expected: usize) -> Lists {
    let mut lists = Lists { typed: Vec::new(), raw: Vec::new(), bytes: 0, typed_cpu_ms: 0.0, raw_cpu_ms: 0.0 };
    let request = kube::core::Request::new("/api/v1/namespaces/bulk/configmaps");
    for _ in 0..runs {
        let (start, cpu) = (Instant::now(), process_cpu_ms());
        let list = api.list(&ListParams::default()).await.expect("list");
        lists.typed.push(start.elapsed());
        lists.typed_cpu_ms += (process_cpu_ms() - cpu) / runs as f64;
        // The namespace may also hold objects the sandbox puts in every namespace (its CA bundle).
        assert!(list.items.len() >= expected, "the LIST returns every object");
        let (start, cpu) = (Instant::now(), process_cpu_ms());
        let text = api
            .clone()
            .into_client()
            .request_text(request.list(&ListParams::default()).expect("a request"))
            .await
            .expect("list");
        lists.raw.push(start.elapsed());
        lists.raw_cpu_ms += (process_cpu_ms() - cpu) / runs as f64;
        lists.bytes = text.len();
    }
    lists
}

/// Times writing 4 KiB and syncing it: appended (the file grows, so the filesystem journal must
/// commit too) or overwritten in place (only the data block is flushed).
fn fsync_floor(dir: &Path, runs: usize, append: bool) -> Vec<Duration> {
    use std::io::{Seek, SeekFrom};
    let path = dir.join("fsync-probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("a probe file");
    let block = [7u8; 4096];
    if !append {
        file.write_all(&block).expect("a first block");
        file.sync_all().expect("fsync");
    }
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            if !append {
                file.seek(SeekFrom::Start(0)).expect("seek");
            }
            file.write_all(&block).expect("write");
            file.sync_data().expect("fdatasync");
            start.elapsed()
        })
        .collect();
    let _ = std::fs::remove_file(path);
    samples
}

/// Round trips of one byte over loopback TCP with Nagle off.
fn tcp_floor(runs: usize) -> Vec<Duration> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("an address");
    let echo = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("a connection");
        socket.set_nodelay(true).expect("nodelay");
        let mut byte = [0u8; 1];
        while socket.read_exact(&mut byte).is_ok() {
            if socket.write_all(&byte).is_err() {
                break;
            }
        }
    });
    let mut socket = std::net::TcpStream::connect(addr).expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    let mut byte = [1u8; 1];
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            socket.write_all(&byte).expect("send");
            socket.read_exact(&mut byte).expect("receive");
            start.elapsed()
        })
        .collect();
    drop(socket);
    let _ = echo.join();
    samples
}

/// A process's resident memory in KiB, from /proc/<pid>/status.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

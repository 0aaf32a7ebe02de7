//! Concurrent writers: a compiled plain HTTP/1.1 client (hyper over rustls, one kept-alive TLS
//! connection per writer) creating or merge-patching ConfigMaps against the real `gitops-lab
//! sandbox serve`, for a fixed time, with 1 and with N writers.
//!
//! Run (a release build of the binary first; results and their reading: docs/benchmarks.md):
//!
//! ```sh
//! cargo build --release -p gitops-lab
//! BENCH_DIR=/var/tmp/sb-bench cargo bench -p gitops-lab-sandbox --bench writers -- \
//!     --bin "$CARGO_TARGET_DIR/release/gitops-lab" [--writers 1,32] [--seconds 4] [--rounds 3] [--verbs create,patch]
//! ```
//!
//! It measures what `benches/plain_http.py` measures, so that the two agree at one writer: the
//! fdatasync floor in the data directory, GET /version, then per run the calls per second, latency
//! median and p95, the server process's CPU per call and context switches per call (from /proc,
//! which other processes' load does not inflate) and this client's own CPU per call. The client
//! runs on one thread (a current-thread runtime): at 32 writers it costs a fraction of what
//! Python's threads did, so the ratio measures the server more than the client. Rounds interleave
//! the writer counts (1, 32, 1, 32, …) so that a change in the machine's load hits both alike.

#![forbid(unsafe_code)]

use base64::Engine;
use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

type Result<T, E = String> = std::result::Result<T, E>;

/// The knobs, from the command line (after `--` of `cargo bench`).
struct Args {
    bin: PathBuf,
    writers: Vec<usize>,
    seconds: f64,
    rounds: usize,
    verbs: Vec<Verb>,
    ops: usize,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Verb {
    Create,
    Patch,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Patch => "merge patch",
        }
    }
}

const USAGE: &str = "usage: writers --bin PATH [--writers 1,32] [--seconds 4] [--rounds 3] \
                     [--verbs create,patch] [--ops 1000]";

fn parse_args() -> Result<Args> {
    let mut args = Args {
        bin: PathBuf::new(),
        writers: vec![1, 32],
        seconds: 4.0,
        rounds: 3,
        verbs: vec![Verb::Create, Verb::Patch],
        ops: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` adds `--bench` to every bench binary's arguments.
        if flag == "--bench" {
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|_| format!("{flag}: {v:?} is not a number; {USAGE}"));
        match flag.as_str() {
            "--bin" => args.bin = PathBuf::from(value),
            "--writers" => args.writers = value.split(',').map(number).collect::<Result<_>>()?,
            "--seconds" => args.seconds = value.parse().map_err(|_| format!("--seconds: {value:?}; {USAGE}"))?,
            "--rounds" => args.rounds = number(&value)?,
            "--ops" => args.ops = number(&value)?,
            "--verbs" => {
                args.verbs = value
                    .split(',')
                    .map(|v| match v {
                        "create" => Ok(Verb::Create),
                        "patch" => Ok(Verb::Patch),
                        other => Err(format!("--verbs: {other:?} is neither create nor patch; {USAGE}")),
                    })
                    .collect::<Result<_>>()?
            }
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if args.bin.as_os_str().is_empty() {
        return Err(format!("--bin is required (a release build of gitops-lab); {USAGE}"));
    }
    if args.writers.contains(&0) {
        return Err("--writers: a run needs at least one writer".into());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // One client thread: the writers are tasks, so the client's CPU stays small beside the server's.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    if let Err(message) = runtime.block_on(run(args)) {
        eprintln!("writers: {message}");
        std::process::exit(1);
    }
}

/// The sandbox child process, stopped when dropped.
struct Server {
    child: Child,
    address: String,
    tls: Arc<rustls::ClientConfig>,
    token: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, base: &Path) -> Result<Server> {
    let data = tempfile::tempdir_in(base).map_err(|e| format!("cannot make a data dir in {}: {e}", base.display()))?;
    let mut child = Command::new(bin)
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path().join("data"))
        .env("GITOPS_LAB_LANG", "en")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut server, mut kubeconfig) = (None, None);
    for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
        if let Some(url) = line.strip_prefix("server: ") {
            server = Some(url.trim().trim_start_matches("https://").to_string());
        }
        if let Some(path) = line.strip_prefix("kubeconfig: ") {
            kubeconfig = Some(PathBuf::from(path.trim()));
            break;
        }
    }
    let (Some(address), Some(kubeconfig)) = (server, kubeconfig) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the sandbox did not print its server and kubeconfig lines".into());
    };
    let text = std::fs::read_to_string(&kubeconfig).map_err(|e| format!("cannot read the kubeconfig: {e}"))?;
    let field = |name: &str| {
        text.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string())).unwrap_or_default()
    };
    let ca = base64::engine::general_purpose::STANDARD
        .decode(field("certificate-authority-data:"))
        .map_err(|e| format!("the kubeconfig's CA is not base64: {e}"))?;
    Ok(Server { child, address, tls: client_config(&ca)?, token: field("token:"), _data: data })
}

fn client_config(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.map_err(|e| format!("the CA: {e}"))?).map_err(|e| format!("the CA: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One kept-alive HTTPS connection (hyper's HTTP/1.1 client connection, no pool).
struct Connection {
    sender: SendRequest<String>,
    authorization: String,
}

async fn connect(server: &Server) -> Result<Connection> {
    let tcp = tokio::net::TcpStream::connect(&server.address).await.map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(server.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    Ok(Connection { sender, authorization: format!("Bearer {}", server.token) })
}

impl Connection {
    /// One request; the answer's body is read to its end. A status of 300 or more is an error.
    async fn call(&mut self, method: &str, path: &str, body: Option<(&str, String)>) -> Result<Bytes> {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1")
            .header("authorization", &self.authorization);
        if let Some((content_type, _)) = &body {
            request = request.header("content-type", *content_type);
        }
        let request = request.body(body.map(|(_, b)| b).unwrap_or_default()).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let answer = self.sender.send_request(request).await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = answer.status();
        let data = read_body(answer.into_body()).await?;
        if status.as_u16() >= 300 {
            return Err(format!("{method} {path}: {status} {}", String::from_utf8_lossy(&data[..data.len().min(200)])));
        }
        Ok(data)
    }
}

async fn read_body(mut body: Incoming) -> Result<Bytes> {
    let mut data = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(chunk) = frame.map_err(|e| format!("reading the answer: {e}"))?.into_data() {
            data.extend_from_slice(&chunk);
        }
    }
    Ok(data.into())
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn config_map(name: &str) -> String {
    serde_json::json!({"metadata": {"name": name, "labels": {"app": "bench"}}, "data": {"greeting": "hello", "n": name}})
        .to_string()
}

/// One call of `verb` by writer `w`, its `i`-th: a new ConfigMap, or a merge patch of its own one.
async fn step(conn: &mut Connection, verb: Verb, tag: &str, w: usize, i: u64) -> Result<()> {
    let (method, path, content_type, body) = match verb {
        Verb::Create => ("POST", CONFIGMAPS.to_string(), "application/json", config_map(&format!("{tag}-{w}-{i}"))),
        Verb::Patch => (
            "PATCH",
            format!("{CONFIGMAPS}/{tag}-{w}"),
            "application/merge-patch+json",
            format!(r#"{{"data":{{"n":"{i}"}}}}"#),
        ),
    };
    conn.call(method, &path, Some((content_type, body))).await.map(drop)
}

/// /proc figures of a process: CPU ms (user + system) and context switches of all its threads.
fn proc_cpu_ms(pid: &str) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let fields: Vec<&str> = text.rsplit_once(')').map(|(_, r)| r).unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // USER_HZ is 100 on Linux: a tick is 10 ms.
    (ticks(11) + ticks(12)) * 10.0
}

fn proc_switches(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The figures of one timed run.
struct Run {
    writers: usize,
    verb: Verb,
    calls_per_s: f64,
    median_ms: f64,
    p95_ms: f64,
    server_cpu_ms: f64,
    client_cpu_ms: f64,
    switches: f64,
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let at = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(at).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// `writers` connections calling `verb` back to back for `seconds`; connections (and, for a
/// patch, each writer's ConfigMap) are made before the clock starts.
async fn timed_run(server: &Server, verb: Verb, writers: usize, seconds: f64, tag: &str) -> Result<Run> {
    let mut conns = Vec::with_capacity(writers);
    for w in 0..writers {
        let mut conn = connect(server).await?;
        if verb == Verb::Patch {
            conn.call("POST", CONFIGMAPS, Some(("application/json", config_map(&format!("{tag}-{w}"))))).await?;
        }
        conns.push(conn);
    }
    let (pid, me) = (server.child.id().to_string(), "self".to_string());
    let (cpu, client, switches) = (proc_cpu_ms(&pid), proc_cpu_ms(&me), proc_switches(&pid));
    let started = Instant::now();
    let stop = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(w, mut conn)| {
            let tag = tag.to_string();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < stop {
                    let begun = Instant::now();
                    step(&mut conn, verb, &tag, w, samples.len() as u64).await?;
                    samples.push(begun.elapsed());
                }
                Ok::<_, String>(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.map_err(|e| format!("a writer stopped: {e}"))??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = samples.len().max(1) as f64;
    samples.sort();
    Ok(Run {
        writers,
        verb,
        calls_per_s: samples.len() as f64 / elapsed,
        median_ms: quantile(&samples, 0.5),
        p95_ms: quantile(&samples, 0.95),
        server_cpu_ms: (proc_cpu_ms(&pid) - cpu) / calls,
        client_cpu_ms: (proc_cpu_ms(&me) - client) / calls,
        switches: proc_switches(&pid).saturating_sub(switches) as f64 / calls,
    })
}

/// fdatasync of a 4 KiB overwrite in the data directory's file system: the disk's floor.
fn fsync_floor(dir: &Path, ops: usize) -> Result<f64> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("floor");
    let file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path);
    let file = file.map_err(|e| format!("floor file: {e}"))?;
    let block = vec![7u8; 4096];
    file.write_all_at(&block, 0).and_then(|_| file.sync_all()).map_err(|e| e.to_string())?;
    let mut samples = Vec::with_capacity(ops);
    for _ in 0..ops {
        let begun = Instant::now();
        file.write_all_at(&block, 0).and_then(|_| file.sync_data()).map_err(|e| e.to_string())?;
        samples.push(begun.elapsed());
    }
    let _ = std::fs::remove_file(path);
    samples.sort();
    Ok(quantile(&samples, 0.5))
}

async fn version_median(server: &Server, ops: usize) -> Result<f64> {
    let mut conn = connect(server).await?;
    let mut samples = Vec::with_capacity(ops);
    for _ in 0..ops {
        let begun = Instant::now();
        conn.call("GET", "/version", None).await?;
        samples.push(begun.elapsed());
    }
    samples.sort();
    Ok(quantile(&samples, 0.5))
}

async fn run(args: Args) -> Result<()> {
    let base = std::env::var_os("BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let server = start(&args.bin, &base)?;
    eprintln!("server pid {} at {}", server.child.id(), server.address);
    let (load_before, started) = (load_average(), jiff_now());
    let fsync = fsync_floor(&base, args.ops)?;
    let version = version_median(&server, args.ops).await?;
    println!("{started}; load average at the start: {load_before}\n");
    println!("fdatasync of a 4 KiB overwrite: {fsync:.3} ms median; GET /version: {version:.3} ms median");
    println!("single-writer target (GET /version + fsync + 0.3 ms): {:.3} ms\n", version + fsync + 0.3);
    println!(
        "| round | verb | writers | calls/s | median ms | p95 ms | server CPU ms/call | client CPU ms/call | server switches/call |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut runs = Vec::new();
    for round in 1..=args.rounds {
        for &verb in &args.verbs {
            for &writers in &args.writers {
                let tag = format!("r{round}-{}-{writers}", &verb.name()[..1]);
                let r = timed_run(&server, verb, writers, args.seconds, &tag).await?;
                println!(
                    "| {round} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} |",
                    r.verb.name(),
                    r.writers,
                    r.calls_per_s,
                    r.median_ms,
                    r.p95_ms,
                    r.server_cpu_ms,
                    r.client_cpu_ms,
                    r.switches
                );
                runs.push((round, r));
            }
        }
    }
    print_ratios(&args, &runs);
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

/// For each round and verb, the throughput of the most writers over one writer's.
fn print_ratios(args: &Args, runs: &[(usize, Run)]) {
    let (Some(&least), Some(&most)) = (args.writers.iter().min(), args.writers.iter().max()) else { return };
    if least == most {
        return;
    }
    println!();
    for &verb in &args.verbs {
        let rate = |round: usize, n: usize| {
            runs.iter()
                .find(|(r, run)| *r == round && run.verb == verb && run.writers == n)
                .map(|(_, run)| run.calls_per_s)
        };
        let ratios: Vec<String> = (1..=args.rounds)
            .filter_map(|round| Some(rate(round, most)? / rate(round, least)?))
            .map(|x| format!("{x:.2}x"))
            .collect();
        println!("{} {most} writers / {least} writer, per round: {}", verb.name(), ratios.join(", "));
    }
}

/// The wall-clock time in UTC, for the record.
fn jiff_now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

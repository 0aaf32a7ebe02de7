//! The streaming subresources end to end: the real `/usr/bin/kubectl` against the API router with a
//! fake node (a pod `web` whose port 80 answers HTTP, port 9000 pours bytes, and whose `app`
//! container runs `echo`, `false`, `cat` and `warn`; its `sidecar` container cannot run anything).
//! Skipped when kubectl is not installed.

use crate::Sandbox;
use crate::testing::{PAGE, POUR, add_running_pod, serve_with_fake_node};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output as Finished, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    dir: tempfile::TempDir,
    sandbox: Arc<Sandbox>,
    kubeconfig: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Option<Self> {
        if !Command::new("/usr/bin/kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success()) {
            eprintln!("*** SKIPPED: /usr/bin/kubectl is not available ***");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Arc::new(Sandbox::open(&dir.path().join("data")).unwrap());
        add_running_pod(&sandbox);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        runtime.block_on(serve_with_fake_node(sandbox.clone(), &kubeconfig)).unwrap();
        Some(Fixture { dir, sandbox, kubeconfig, _runtime: runtime })
    }

    fn kubectl(&self, args: &[&str]) -> Command {
        let mut command = Command::new("/usr/bin/kubectl");
        command.args(args).env("KUBECONFIG", &self.kubeconfig).env("HOME", self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> Finished {
        self.kubectl(args).output().unwrap()
    }

    /// Starts `kubectl port-forward` with `:remote` ports and returns it with remote → local ports.
    fn port_forward(&self, resource: &str, remotes: &[u16]) -> (Child, HashMap<u16, u16>) {
        self.port_forward_with(resource, remotes, true)
    }

    /// As [`Self::port_forward`]; `websockets: false` makes kubectl use a raw SPDY upgrade, as
    /// kubectl before 1.31 always does.
    fn port_forward_with(&self, resource: &str, remotes: &[u16], websockets: bool) -> (Child, HashMap<u16, u16>) {
        let mut args = vec!["port-forward".to_string(), resource.to_string()];
        args.extend(remotes.iter().map(|r| format!(":{r}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = self.kubectl(&args);
        command.env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets.to_string());
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut ports = HashMap::new();
        while ports.len() < remotes.len() {
            // Services print the pod's port, so count lines rather than match the asked-for ports.
            let Some(Ok(line)) = lines.next() else {
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("kubectl port-forward stopped early: {err}");
            };
            // "Forwarding from 127.0.0.1:41234 -> 80"
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                let (local, remote) = rest.split_once(" -> ").unwrap();
                ports.insert(remote.trim().parse().unwrap(), local.parse().unwrap());
            }
        }
        // Keep draining stdout ("Handling connection for …") so kubectl never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        (child, ports)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn http_get(port: u16) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn kubectl_exec_runs_commands_relays_stdin_and_propagates_exit_codes() {
    let Some(f) = Fixture::start() else { return };
    let hi = f.run(&["exec", "web", "--", "echo", "hi"]);
    assert_eq!((text(&hi.stdout), hi.status.code()), ("hi\n".to_string(), Some(0)), "{}", text(&hi.stderr));

    let failed = f.run(&["exec", "web", "--", "false"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(text(&failed.stderr).contains("command terminated with exit code 1"), "{}", text(&failed.stderr));

    let missing = f.run(&["exec", "web", "--", "nope"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(text(&missing.stderr).contains("sh: nope: not found"), "{}", text(&missing.stderr));

    let mut cat =
        f.kubectl(&["exec", "-i", "web", "--", "cat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    cat.stdin.take().unwrap().write_all(b"piped through\n").unwrap();
    let cat = cat.wait_with_output().unwrap();
    assert_eq!(text(&cat.stdout), "piped through\n");
}

#[test]
fn kubectl_exec_over_a_raw_spdy_upgrade_behaves_the_same() {
    let Some(f) = Fixture::start() else { return };
    // What kubectl before 1.30 always does.
    let spdy = |args: &[&str]| {
        let mut command = f.kubectl(args);
        command.env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
        command
    };
    let hi = spdy(&["exec", "web", "-c", "app", "--", "echo", "hi"]).output().unwrap();
    assert_eq!((text(&hi.stdout), hi.status.code()), ("hi\n".to_string(), Some(0)), "{}", text(&hi.stderr));
    let failed = spdy(&["exec", "web", "-c", "app", "--", "false"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert!(text(&failed.stderr).contains("command terminated with exit code 1"), "{}", text(&failed.stderr));
    let warned = spdy(&["exec", "web", "-c", "app", "--", "warn"]).output().unwrap();
    assert_eq!(text(&warned.stderr), "careful\n");
    let mut cat = spdy(&["exec", "-i", "web", "-c", "app", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    cat.stdin.take().unwrap().write_all(b"piped through spdy\n").unwrap();
    let cat = cat.wait_with_output().unwrap();
    assert_eq!(text(&cat.stdout), "piped through spdy\n");
    let refused = spdy(&["exec", "web", "-c", "sidecar", "--", "echo"]).output().unwrap();
    assert!(
        text(&refused.stderr).contains(r#"unable to upgrade connection: container not found ("sidecar")"#),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn kubectl_exec_into_an_unknown_container_gets_upstreams_error() {
    let Some(f) = Fixture::start() else { return };
    let wrong = f.run(&["exec", "web", "-c", "nope", "--", "echo", "hi"]);
    assert_ne!(wrong.status.code(), Some(0));
    assert!(text(&wrong.stderr).contains("container nope is not valid for pod web"), "{}", text(&wrong.stderr));
    // A container the node cannot run: the refusal comes after the upgrade, worded as 1.32 relays it.
    let refused = f.run(&["exec", "web", "-c", "sidecar", "--", "echo", "hi"]);
    assert_ne!(refused.status.code(), Some(0));
    let err = text(&refused.stderr);
    assert!(
        err.contains(r#"Internal error occurred: unable to upgrade connection: container not found ("sidecar")"#),
        "{err}"
    );
}

#[test]
fn kubectl_logs_follow_and_attach_stream_until_the_container_ends() {
    let Some(f) = Fixture::start() else { return };
    let followed = f.run(&["logs", "-f", "web", "-c", "app"]);
    assert_eq!(text(&followed.stdout), "one\ntwo\nthree\nfour\n");
    let attached = f.run(&["attach", "web", "-c", "app"]);
    assert_eq!(
        (text(&attached.stdout), attached.status.code()),
        ("four\n".to_string(), Some(0)),
        "{}",
        text(&attached.stderr)
    );
    let two = f.run(&["get", "--raw", "/api/v1/namespaces/default/pods/web/log"]);
    assert!(
        text(&two.stderr).contains("a container name must be specified for pod web, choose one of: [app sidecar]"),
        "{}",
        text(&two.stderr)
    );
}

#[test]
fn kubectl_logs_reads_tails_and_timestamps_the_container_log() {
    let Some(f) = Fixture::start() else { return };
    assert_eq!(text(&f.run(&["logs", "web", "-c", "app"]).stdout), "one\ntwo\nthree\n");
    assert_eq!(text(&f.run(&["logs", "web", "--tail=1"]).stdout), "three\n");
    let stamped = text(&f.run(&["logs", "web", "--timestamps", "--tail=1"]).stdout);
    assert_eq!(stamped, "2027-01-15T08:00:02.000000000Z three\n");
    assert_eq!(text(&f.run(&["logs", "web", "--limit-bytes=6"]).stdout), "one\ntw");
    let previous = f.run(&["logs", "web", "-c", "app", "--previous"]);
    assert!(
        text(&previous.stderr).contains("previous terminated container \"app\" in pod \"web\" not found"),
        "{}",
        text(&previous.stderr)
    );
}

#[test]
fn kubectl_port_forward_to_a_pod_a_service_and_a_deployment_serves_the_page() {
    let Some(f) = Fixture::start() else { return };
    let (child, ports) = f.port_forward("pod/web", &[80]);
    let first = http_get(ports[&80]);
    let second = http_get(ports[&80]);
    stop(child);
    assert!(first.starts_with("HTTP/1.1 200 OK") && first.ends_with(PAGE), "{first}");
    assert_eq!(first, second);

    // kubectl maps the Service's port 8080 to the pod's targetPort 80 itself (and prints "-> 80").
    let (child, ports) = f.port_forward("svc/web", &[8080]);
    let page = http_get(ports[&80]);
    stop(child);
    assert!(page.ends_with(PAGE), "{page}");

    let (child, ports) = f.port_forward("deploy/web", &[80]);
    let page = http_get(ports[&80]);
    stop(child);
    assert!(page.ends_with(PAGE), "{page}");
}

#[test]
fn kubectl_port_forward_over_a_raw_spdy_upgrade_serves_the_page_too() {
    let Some(f) = Fixture::start() else { return };
    let (child, ports) = f.port_forward_with("pod/web", &[80, 9000], false);
    let page = http_get(ports[&80]);
    let mut conn = TcpStream::connect(("127.0.0.1", ports[&9000])).unwrap();
    let mut poured = Vec::new();
    conn.read_to_end(&mut poured).unwrap();
    stop(child);
    assert!(page.ends_with(PAGE), "{page}");
    assert_eq!(poured.len(), POUR);
}

#[test]
fn deleting_the_pod_ends_its_port_forward() {
    let Some(f) = Fixture::start() else { return };
    let (mut child, ports) = f.port_forward("pod/web", &[80]);
    assert!(http_get(ports[&80]).ends_with("fake pod\n"));
    let pods = super::pods();
    f.sandbox.delete(pods, Some("default"), "web", &gitops_sandbox_core::cluster::DeleteOptions::default()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = child.try_wait().unwrap();
    let _ = child.kill();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = child.wait();
    assert!(ended.is_some(), "kubectl port-forward still runs after the pod was deleted");
    assert!(err.contains("lost connection to pod"), "{err}");
}

#[test]
fn kubectl_port_forward_to_a_closed_port_reports_the_refusal() {
    let Some(f) = Fixture::start() else { return };
    let (mut child, ports) = f.port_forward("pod/web", &[81]);
    let mut conn = TcpStream::connect(("127.0.0.1", ports[&81])).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut rest = Vec::new();
    let _ = conn.read_to_end(&mut rest);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let _ = child.wait();
    assert!(
        err.contains("an error occurred forwarding") && err.contains("error forwarding port 81 to pod web"),
        "{err}"
    );
    assert!(err.contains("connection refused"), "{err}");
}

#[test]
fn kubectl_port_forward_moves_bulk_data_quickly_and_answers_requests_promptly() {
    let Some(f) = Fixture::start() else { return };
    let (child, ports) = f.port_forward("pod/web", &[9000, 80]);
    let mut latencies: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            assert!(http_get(ports[&80]).ends_with("fake pod\n"));
            started.elapsed()
        })
        .collect();
    latencies.sort();
    eprintln!(
        "port-forward request latency (new connection each): median {:?}, max {:?}",
        latencies[25], latencies[49]
    );
    let started = Instant::now();
    let mut conn = TcpStream::connect(("127.0.0.1", ports[&9000])).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("reading the forwarded port failed after {total} bytes: {e}"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    stop(child);
    assert_eq!(total, POUR);
    let rate = total as f64 / seconds / 1e6;
    eprintln!("port-forward throughput: {rate:.0} MB/s ({total} bytes in {seconds:.2} s)");
    // Unoptimised test builds are several times slower than release; this catches pathologies only.
    assert!(rate > 5.0, "{rate} MB/s");
}

//! Test support shared by the streaming suites (the crate's own unit tests and the end-to-end
//! suites, which enable the `testing` feature): a fake node behind [`PodStreams`] and a running
//! pod for it to serve. Not part of the sandbox a user runs.
//!
//! The fake pod `web` answers HTTP on port 80 with [`PAGE`] and pours [`POUR`] bytes on port 9000;
//! its `app` container runs `echo`, `false`, `cat` and `warn` (anything else is "not found", 127);
//! its `sidecar` container cannot run anything; its log has three lines and a fourth a moment later.

use crate::api::PodStreams;
use bytes::Bytes;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::cluster::WriteOptions;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_node::{ContainerLog, LogLine, NodeError, Output, Process};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

/// What the fake pod's port 80 answers.
pub const PAGE: &str = "Hello Kubernetes from the fake pod\n";

/// Bytes port 9000 sends before closing, for the throughput checks.
pub const POUR: usize = 32 * 1024 * 1024;

/// A node whose one pod is the fake `web`.
pub struct FakePods;

impl PodStreams for FakePods {
    fn exec(
        &self,
        _: &str,
        _: &str,
        container: &str,
        command: Vec<String>,
        _tty: bool,
        stdin: bool,
    ) -> Result<Process, NodeError> {
        if container == "sidecar" {
            return Err(NodeError::NoSuchContainer(format!("container not found ({container:?})")));
        }
        let (out, output) = mpsc::channel(16);
        let (exit_tx, exit) = oneshot::channel();
        let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            let say = |text: String| Output::Stdout(Bytes::from(text));
            let code = match command.first().map(String::as_str).unwrap_or_default() {
                "echo" => out.send(say(format!("{}\n", command[1..].join(" ")))).await.map_or(1, |_| 0),
                "false" => 1,
                "cat" => {
                    while let Some(bytes) = stdin_rx.recv().await {
                        let _ = out.send(Output::Stdout(bytes)).await;
                    }
                    0
                }
                "warn" => out.send(Output::Stderr(Bytes::from_static(b"careful\n"))).await.map_or(1, |_| 0),
                other => {
                    let _ = out.send(Output::Stderr(Bytes::from(format!("sh: {other}: not found\n")))).await;
                    127
                }
            };
            drop(out);
            let _ = exit_tx.send(code);
        });
        Ok(Process { stdin: stdin.then_some(stdin_tx), output, exit, resize: None })
    }

    fn logs(&self, _: &str, _: &str, _: &str, previous: bool) -> Result<ContainerLog, NodeError> {
        if previous {
            return Err(NodeError::NoLog("previous terminated container \"app\" in pod \"web\" not found".into()));
        }
        let at = |s| jiff::Timestamp::new(1_800_000_000 + s, 0).unwrap_or_default();
        let lines = ["one\n", "two\n", "three\n"]
            .iter()
            .enumerate()
            .map(|(i, t)| LogLine { at: at(i as i64), text: Bytes::from_static(t.as_bytes()) });
        // One more line a moment later, then the container ends.
        let (sender, follow) = tokio::sync::broadcast::channel(4);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _ = sender.send(LogLine { at: at(3), text: Bytes::from_static(b"four\n") });
        });
        Ok(ContainerLog { lines: lines.collect(), follow: Some(follow) })
    }

    fn connect(&self, _: &str, _: &str, port: u16) -> Result<DuplexStream, NodeError> {
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        match port {
            80 => tokio::spawn(answer_http(theirs)),
            9000 => tokio::spawn(pour(theirs)),
            _ => {
                return Err(NodeError::ConnectionRefused(format!(
                    "dial tcp4 127.0.0.1:{port}: connect: connection refused"
                )));
            }
        };
        Ok(ours)
    }
}

async fn answer_http(mut conn: DuplexStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PAGE}", PAGE.len());
    let _ = conn.write_all(answer.as_bytes()).await;
    let _ = conn.shutdown().await;
}

async fn pour(mut conn: DuplexStream) {
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..POUR / chunk.len() {
        if conn.write_all(&chunk).await.is_err() {
            return;
        }
    }
    let _ = conn.shutdown().await;
}

/// Stores the fake pod `web` as running on the node (no controllers needed), with a Service and a
/// Deployment that select it, so that `kubectl port-forward svc/web` and `deploy/web` find it.
pub fn add_running_pod(sandbox: &Sandbox) {
    let pods = builtin_type("", "pods");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": "sandbox", "containers": [
            {"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}, {"name": "sidecar",
                "image": "busybox"}]},
    });
    let created = sandbox.create(pods, Some("default"), pod, WriteOptions::default()).expect("the fixture is stored");
    let mut running = (*created.object).clone();
    running["status"] = json!({
        "phase": "Running", "podIP": "10.244.0.9",
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "",
                               "state": {"running": {"startedAt": "2026-11-26T08:00:00Z"}}}],
    });
    sandbox
        .update(pods, Some("default"), "web", running, UpdateScope::Status, WriteOptions::default())
        .expect("the fixture is stored");
    let services = builtin_type("", "services");
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 80}]},
    });
    sandbox.create(services, Some("default"), service, WriteOptions::default()).expect("the fixture is stored");
    // No controllers run here: kubectl itself picks the Deployment's pod by its selector.
    let deployments = builtin_type("apps", "deployments");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "app", "image": "nginx"}]}}},
    });
    sandbox.create(deployments, Some("default"), deployment, WriteOptions::default()).expect("the fixture is stored");
}

/// Serves `sandbox` over HTTPS on a free loopback port with [`FakePods`] as its node (no
/// controllers run), on the current tokio runtime, and writes `kubeconfig` for it.
pub async fn serve_with_fake_node(sandbox: Arc<Sandbox>, kubeconfig: &Path) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = format!("https://{addr}");
    crate::kubeconfig::write(kubeconfig, &server, &sandbox.certificates().ca_pem, sandbox.admin_token())?;
    // kubectl sends bearer tokens over HTTPS only, so serve TLS with the sandbox's own CA.
    let acceptor = crate::tls::acceptor(sandbox.certificates()).map_err(std::io::Error::other)?;
    let listener = crate::tls::TlsListener::new(listener, acceptor)?;
    let app = crate::api::router(sandbox, Arc::new(FakePods));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

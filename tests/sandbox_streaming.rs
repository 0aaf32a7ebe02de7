//! kube-rs (`ws` feature) against the sandbox's streaming subresources: exec with output, stdin and
//! exit codes, and port-forward in kube-rs' channel framing. The API is served in-process over
//! HTTPS with a fake node, so these tests exercise the protocol layer only.

use axum::body::Bytes;
use gitops_sandbox::api::PodStreams;
use gitops_sandbox::cluster::WriteOptions;
use gitops_sandbox::lifecycle::UpdateScope;
use gitops_sandbox::node::{ContainerLog, NodeError, Output, Process};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use kube::Client;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

/// Bytes port 9000 sends before closing.
const POUR: usize = 32 * 1024 * 1024;

struct FakePods;

impl PodStreams for FakePods {
    fn exec(&self, _: &str, _: &str, _: &str, command: Vec<String>, _: bool, stdin: bool) -> Result<Process, NodeError> {
        let (out, output) = mpsc::channel(16);
        let (exit_tx, exit) = oneshot::channel();
        let (stdin_tx, mut stdin_rx) = mpsc::channel::<Bytes>(16);
        tokio::spawn(async move {
            let code = match command.first().map(String::as_str).unwrap_or_default() {
                "echo" => out.send(Output::Stdout(Bytes::from(format!("{}\n", command[1..].join(" "))))).await.map_or(1, |_| 0),
                "cat" => {
                    while let Some(bytes) = stdin_rx.recv().await {
                        let _ = out.send(Output::Stdout(bytes)).await;
                    }
                    0
                }
                "warn" => out.send(Output::Stderr(Bytes::from_static(b"careful\n"))).await.map_or(1, |_| 0),
                _ => 1,
            };
            drop(out);
            let _ = exit_tx.send(code);
        });
        Ok(Process { stdin: stdin.then_some(stdin_tx), output, exit, resize: None })
    }

    fn logs(&self, _: &str, _: &str, _: &str, _: bool) -> Result<ContainerLog, NodeError> {
        Ok(ContainerLog { lines: Vec::new(), follow: None })
    }

    fn connect(&self, _: &str, _: &str, port: u16) -> Result<DuplexStream, NodeError> {
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        match port {
            80 => tokio::spawn(answer_http(theirs)),
            9000 => tokio::spawn(pour(theirs)),
            _ => return Err(NodeError::ConnectionRefused(format!("dial tcp4 127.0.0.1:{port}: connect: connection refused"))),
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
    let body = "Hello Kubernetes\n";
    let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
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

/// Serves the API with the fake node on a free port and returns a client and the pods API.
async fn start() -> (tempfile::TempDir, Api<Pod>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = Arc::new(gitops_sandbox::Sandbox::open(&dir.path().join("data")).expect("the sandbox opens"));
    add_running_pod(&sandbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    let kubeconfig = dir.path().join("kubeconfig");
    gitops_sandbox::kubeconfig::write(&kubeconfig, &format!("https://{addr}"), &sandbox.certificates().ca_pem, sandbox.admin_token())
        .expect("the kubeconfig is written");
    let acceptor = sandbox.certificates().acceptor().expect("a TLS acceptor");
    let listener = gitops_sandbox::tls::TlsListener::new(listener, acceptor).expect("a TLS listener");
    let app = gitops_sandbox::api::router_with(sandbox, Arc::new(FakePods));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    let client = Client::try_from(config).expect("a client");
    (dir, Api::namespaced(client, "default"))
}

fn add_running_pod(sandbox: &gitops_sandbox::Sandbox) {
    let pods = sandbox.registry().by_plural("", "v1", "pods").expect("pods are served");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "sandbox", "containers": [{"name": "app", "image": "nginx"}]},
    });
    let created = sandbox.create(pods, Some("default"), pod, WriteOptions::default()).expect("the pod is created");
    let mut running = (*created.object).clone();
    running["status"] = json!({"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": true, "restartCount": 0, "image": "nginx", "imageID": "", "state": {"running": {}}}]});
    sandbox.update(pods, Some("default"), "web", running, UpdateScope::Status, WriteOptions::default()).expect("the pod runs");
}

async fn read_all(mut reader: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut text = String::new();
    reader.read_to_string(&mut text).await.expect("readable output");
    text
}

#[tokio::test]
async fn exec_returns_output_and_a_success_status() {
    let (_dir, pods) = start().await;
    let mut process = pods.exec("web", ["echo", "hi"], &AttachParams::default().stderr(false)).await.expect("exec starts");
    let stdout = read_all(process.stdout().expect("stdout")).await;
    let status = process.take_status().expect("a status").await.expect("the status arrives");
    assert_eq!(stdout, "hi\n");
    assert_eq!(status.status.as_deref(), Some("Success"));
}

#[tokio::test]
async fn exec_reports_a_non_zero_exit_code_as_a_cause() {
    let (_dir, pods) = start().await;
    let mut process = pods.exec("web", ["false"], &AttachParams::default()).await.expect("exec starts");
    let status = process.take_status().expect("a status").await.expect("the status arrives");
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
    assert_eq!((causes[0].reason.as_deref(), causes[0].message.as_deref()), (Some("ExitCode"), Some("1")));
}

#[tokio::test]
async fn exec_relays_stdin_and_ends_when_it_is_closed() {
    let (_dir, pods) = start().await;
    let params = AttachParams::default().stdin(true).stderr(false);
    let mut process = pods.exec("web", ["cat"], &params).await.expect("exec starts");
    let mut stdin = process.stdin().expect("stdin");
    stdin.write_all(b"through the socket\n").await.expect("stdin accepts");
    // kube-rs' stdin is half of a pipe: only an explicit shutdown tells it (and then us) it has ended.
    stdin.shutdown().await.expect("stdin closes");
    let stdout = tokio::time::timeout(Duration::from_secs(10), read_all(process.stdout().expect("stdout"))).await.expect("cat ends");
    assert_eq!(stdout, "through the socket\n");
}

#[tokio::test]
async fn exec_stderr_arrives_on_its_own_stream() {
    let (_dir, pods) = start().await;
    let mut process = pods.exec("web", ["warn"], &AttachParams::default()).await.expect("exec starts");
    let stderr = read_all(process.stderr().expect("stderr")).await;
    assert_eq!(stderr, "careful\n");
}

#[tokio::test]
async fn exec_into_an_unknown_container_is_refused_before_the_upgrade() {
    let (_dir, pods) = start().await;
    let refused = pods.exec("web", ["echo"], &AttachParams::default().container("nope")).await;
    let text = format!("{:?}", refused.err().expect("an error"));
    assert!(text.contains("container nope is not valid for pod web"), "{text}");
}

#[tokio::test]
async fn port_forward_carries_an_http_exchange() {
    let (_dir, pods) = start().await;
    let mut forwarder = pods.portforward("web", &[80]).await.expect("port-forward starts");
    let mut stream = forwarder.take_stream(80).expect("a stream for port 80");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n").await.expect("the request is sent");
    let answer = tokio::time::timeout(Duration::from_secs(10), read_all(stream)).await.expect("the answer ends");
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("Hello Kubernetes\n"), "{answer}");
}

#[tokio::test]
async fn port_forward_to_a_closed_port_reports_the_refusal_on_the_error_channel() {
    let (_dir, pods) = start().await;
    let mut forwarder = pods.portforward("web", &[81]).await.expect("port-forward starts");
    let error = forwarder.take_error(81).expect("an error future").await.expect("an error message");
    assert!(error.contains("error forwarding port 81 to pod web") && error.contains("connection refused"), "{error}");
}

#[tokio::test]
async fn port_forward_moves_bulk_data() {
    let (_dir, pods) = start().await;
    let mut forwarder = pods.portforward("web", &[9000]).await.expect("port-forward starts");
    let mut stream = forwarder.take_stream(9000).expect("a stream for port 9000");
    let started = Instant::now();
    let mut total = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match stream.read(&mut buf).await.expect("readable") {
            0 => break,
            n => total += n,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(total, POUR);
    eprintln!("kube-rs port-forward throughput: {:.0} MB/s", total as f64 / seconds / 1e6);
}

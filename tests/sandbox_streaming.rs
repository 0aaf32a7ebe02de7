//! kube-rs (`ws` feature) against the sandbox's streaming subresources: exec with output, stdin and
//! exit codes, and port-forward in kube-rs' channel framing. The API is served in-process over
//! HTTPS with a fake node, so these tests exercise the protocol layer only.

#![forbid(unsafe_code)]

use gitops_sandbox::testing::{PAGE, POUR, add_running_pod, serve_with_fake_node};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, AttachParams};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the API with the fake node on a free port and returns a client and the pods API.
async fn start() -> (tempfile::TempDir, Api<Pod>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = Arc::new(gitops_sandbox::Sandbox::open(&dir.path().join("data")).expect("the sandbox opens"));
    add_running_pod(&sandbox);
    let kubeconfig = dir.path().join("kubeconfig");
    serve_with_fake_node(sandbox, &kubeconfig).await.expect("the API serves");
    (dir, Api::namespaced(client_for(&kubeconfig).await, "default"))
}

async fn client_for(kubeconfig: &std::path::Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    Client::try_from(config).expect("a client")
}

async fn read_all(mut reader: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut text = String::new();
    reader.read_to_string(&mut text).await.expect("readable output");
    text
}

#[tokio::test]
async fn exec_returns_output_and_a_success_status() {
    let (_dir, pods) = start().await;
    let mut process = pods
        .exec("web", ["echo", "hi"], &AttachParams::default().container("app").stderr(false))
        .await
        .expect("exec starts");
    let stdout = read_all(process.stdout().expect("stdout")).await;
    let status = process.take_status().expect("a status").await.expect("the status arrives");
    assert_eq!(stdout, "hi\n");
    assert_eq!(status.status.as_deref(), Some("Success"));
}

#[tokio::test]
async fn exec_reports_a_non_zero_exit_code_as_a_cause() {
    let (_dir, pods) = start().await;
    let mut process =
        pods.exec("web", ["false"], &AttachParams::default().container("app")).await.expect("exec starts");
    let status = process.take_status().expect("a status").await.expect("the status arrives");
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
    assert_eq!((causes[0].reason.as_deref(), causes[0].message.as_deref()), (Some("ExitCode"), Some("1")));
}

#[tokio::test]
async fn exec_relays_stdin_and_ends_when_it_is_closed() {
    let (_dir, pods) = start().await;
    let params = AttachParams::default().container("app").stdin(true).stderr(false);
    let mut process = pods.exec("web", ["cat"], &params).await.expect("exec starts");
    let mut stdin = process.stdin().expect("stdin");
    stdin.write_all(b"through the socket\n").await.expect("stdin accepts");
    // kube-rs' stdin is half of a pipe: only an explicit shutdown tells it (and then us) it has ended.
    stdin.shutdown().await.expect("stdin closes");
    let stdout = tokio::time::timeout(Duration::from_secs(10), read_all(process.stdout().expect("stdout")))
        .await
        .expect("cat ends");
    assert_eq!(stdout, "through the socket\n");
}

#[tokio::test]
async fn exec_stderr_arrives_on_its_own_stream() {
    let (_dir, pods) = start().await;
    let mut process = pods.exec("web", ["warn"], &AttachParams::default().container("app")).await.expect("exec starts");
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
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with(PAGE), "{answer}");
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

// -------------------------------------------------------------------------------------------------
// The real node: an nginx pod and a Deployment behind a Service, with kubectl and kube-rs.

mod real_node {
    use super::read_all;
    use gitops_sandbox::server::InProcess;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, AttachParams};
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::path::PathBuf;
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;

    /// A sandbox served in this process with its node and controllers, and kubectl pointed at it.
    struct Cluster {
        dir: tempfile::TempDir,
        kubeconfig: PathBuf,
        runtime: tokio::runtime::Runtime,
        _server: InProcess,
    }

    impl Cluster {
        fn start() -> Option<Self> {
            if !gitops_lab_e2e::kubectl_available() {
                return None;
            }
            let dir = tempfile::tempdir().expect("a temporary directory");
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
            let kubeconfig = dir.path().join("kubeconfig");
            let server = runtime.block_on(InProcess::start(&dir.path().join("data"), &kubeconfig)).expect("it serves");
            Some(Self { dir, kubeconfig, runtime, _server: server })
        }

        fn kubectl(&self, args: &[&str]) -> Command {
            let mut command = Command::new(gitops_lab_e2e::kubectl_path());
            command.args(args).env("KUBECONFIG", &self.kubeconfig).env("HOME", self.dir.path());
            command
        }

        fn run(&self, args: &[&str]) -> Output {
            self.kubectl(args).output().expect("kubectl runs")
        }

        fn ok(&self, args: &[&str]) -> String {
            let out = self.run(args);
            assert!(out.status.success(), "kubectl {args:?} failed: {}", gitops_lab_e2e::text(&out.stderr));
            gitops_lab_e2e::text(&out.stdout)
        }

        fn wait_running(&self, pod: &str) {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let phase =
                    gitops_lab_e2e::text(&self.run(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"]).stdout);
                if phase == "Running" {
                    return;
                }
                assert!(Instant::now() < deadline, "pod {pod} is {phase:?}, not Running, after 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        }

        fn pods(&self) -> Api<Pod> {
            let kubeconfig = self.kubeconfig.clone();
            self.runtime.block_on(async move {
                let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig parses");
                let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .expect("a client configuration");
                Api::namespaced(kube::Client::try_from(config).expect("a client"), "default")
            })
        }

        /// `kubectl port-forward RESOURCE :PORT…`, with the local port of each remote port it prints.
        fn port_forward(&self, resource: &str, remotes: &[u16]) -> (Child, HashMap<u16, u16>) {
            let mut args = vec!["port-forward".to_string(), resource.to_string()];
            args.extend(remotes.iter().map(|r| format!(":{r}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut child =
                self.kubectl(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kubectl starts");
            let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
            let mut ports = HashMap::new();
            while ports.len() < remotes.len() {
                let Some(Ok(line)) = lines.next() else {
                    let mut err = String::new();
                    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                    panic!("kubectl port-forward stopped early: {err}");
                };
                if let Some((local, remote)) =
                    line.strip_prefix("Forwarding from 127.0.0.1:").and_then(|r| r.split_once(" -> "))
                {
                    ports.insert(remote.trim().parse().expect("a port"), local.parse().expect("a port"));
                }
            }
            std::thread::spawn(move || lines.for_each(drop));
            (child, ports)
        }
    }

    fn http_get(port: u16) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("the forwarded port accepts");
        conn.set_read_timeout(Some(Duration::from_secs(20))).expect("a timeout");
        conn.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("the request is sent");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        answer
    }

    fn stop(mut child: Child) -> String {
        let _ = child.kill();
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        let _ = child.wait();
        err
    }

    fn nginx_pod(cluster: &Cluster) {
        cluster.ok(&["run", "nginx", "--image=nginx:1.27", "--port=80"]);
        cluster.wait_running("nginx");
    }

    #[test]
    fn kubectl_port_forward_serves_the_chapter_pods_cowsay_page() {
        let Some(cluster) = Cluster::start() else { return };
        let file = gitops_lab_e2e::tests_dir().join("fixtures/chapter02/nginx-pod.yaml");
        cluster.ok(&["create", "-f", file.to_str().expect("a UTF-8 path")]);
        cluster.wait_running("nginx");
        let (child, ports) = cluster.port_forward("pod/nginx", &[80]);
        let page = http_get(ports[&80]);
        stop(child);
        assert!(page.starts_with("HTTP/1.1 200 OK") && page.contains("Hello Kubernetes"), "{page}");
    }

    #[test]
    fn kubectl_port_forward_serves_nginx_and_reports_a_closed_port() {
        let Some(cluster) = Cluster::start() else { return };
        nginx_pod(&cluster);
        let (child, ports) = cluster.port_forward("pod/nginx", &[80]);
        let page = http_get(ports[&80]);
        stop(child);
        assert!(page.starts_with("HTTP/1.1 200 OK") && page.contains("nginx"), "{page}");

        let (mut child, ports) = cluster.port_forward("pod/nginx", &[81]);
        let _ = http_get(ports[&81]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let err = stop(child);
        assert!(err.contains("error forwarding port 81 to pod nginx") && err.contains("connection refused"), "{err}");
    }

    #[test]
    fn kubectl_exec_and_logs_reach_the_pods_container() {
        let Some(cluster) = Cluster::start() else { return };
        nginx_pod(&cluster);
        assert!(cluster.ok(&["exec", "nginx", "--", "ls", "/usr/share/nginx/html"]).contains("index.html"));
        let failed = cluster.run(&["exec", "nginx", "--", "sh", "-c", "exit 3"]);
        assert_eq!(failed.status.code(), Some(3));
        assert!(gitops_lab_e2e::text(&failed.stderr).contains("command terminated with exit code 3"));
        let mut cat = cluster
            .kubectl(&["exec", "-i", "nginx", "--", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        cat.stdin.take().expect("piped stdin").write_all(b"hello through stdin\n").expect("stdin accepts");
        let cat = cat.wait_with_output().expect("kubectl ends");
        assert_eq!(gitops_lab_e2e::text(&cat.stdout), "hello through stdin\n");
        let logs = cluster.run(&["logs", "nginx"]);
        assert!(logs.status.success(), "{}", gitops_lab_e2e::text(&logs.stderr));
        let wrong = cluster.run(&["logs", "nginx", "-c", "nope"]);
        assert!(
            gitops_lab_e2e::text(&wrong.stderr).contains("container nope is not valid for pod nginx"),
            "{}",
            gitops_lab_e2e::text(&wrong.stderr)
        );
    }

    #[test]
    fn kubectl_port_forward_to_a_deployment_and_its_service() {
        let Some(cluster) = Cluster::start() else { return };
        cluster.ok(&["create", "deployment", "web", "--image=nginx:1.27"]);
        cluster.ok(&["expose", "deployment", "web", "--port=8080", "--target-port=80"]);
        cluster.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        for resource in ["deploy/web", "svc/web"] {
            let remote = if resource.starts_with("svc") { 8080 } else { 80 };
            let (child, ports) = cluster.port_forward(resource, &[remote]);
            // kubectl prints the pod's port for a Service (8080 → targetPort 80).
            let page = http_get(ports[&80]);
            stop(child);
            assert!(page.starts_with("HTTP/1.1 200 OK"), "{resource}: {page}");
        }
    }

    #[test]
    fn a_rollout_restart_ends_the_port_forward_to_the_old_pod() {
        let Some(cluster) = Cluster::start() else { return };
        cluster.ok(&["create", "deployment", "web", "--image=nginx:1.27"]);
        cluster.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
        let (mut child, ports) = cluster.port_forward("deploy/web", &[80]);
        assert!(http_get(ports[&80]).starts_with("HTTP/1.1 200 OK"));
        cluster.ok(&["rollout", "restart", "deployment/web"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let ended = child.try_wait().ok().flatten();
        let err = stop(child);
        assert!(ended.is_some(), "kubectl port-forward still runs after the rollout replaced its pod");
        assert!(err.contains("lost connection to pod"), "{err}");
    }

    #[test]
    fn kube_rs_exec_reaches_the_pod() {
        let Some(cluster) = Cluster::start() else { return };
        nginx_pod(&cluster);
        let pods = cluster.pods();
        cluster.runtime.block_on(async move {
            let params = AttachParams::default().stderr(false);
            let mut process = pods.exec("nginx", ["ls", "/usr/share/nginx/html"], &params).await.expect("exec starts");
            let listing = read_all(process.stdout().expect("stdout")).await;
            assert!(listing.contains("index.html"), "{listing}");
        });
    }

    #[test]
    fn kube_rs_port_forward_reaches_the_pod() {
        let Some(cluster) = Cluster::start() else { return };
        nginx_pod(&cluster);
        let pods = cluster.pods();
        cluster.runtime.block_on(async move {
            let mut forwarder = pods.portforward("nginx", &[80]).await.expect("port-forward starts");
            let mut stream = forwarder.take_stream(80).expect("a stream for port 80");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: nginx\r\nConnection: close\r\n\r\n")
                .await
                .expect("the request is sent");
            let answer =
                tokio::time::timeout(Duration::from_secs(10), read_all(stream)).await.expect("the answer ends");
            assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.contains("nginx"), "{answer}");
        });
    }
}

//! The learner's own kubectl through the workshop server, with the real `/usr/bin/kubectl` and the
//! kubeconfig a learner downloads: get, apply, a watch, exec, port-forward and a followed log all
//! reach that learner's sandbox through `/k8s/ID`; another learner's token, a forged token, a link
//! token and the instructor's token are refused with a clear message. Connections to the sandbox are
//! counted (from /proc/net/tcp): a learner's steps and kubectl requests reuse kept-alive ones.

mod workshop_common;

use gitops_lab_e2e::chapter::Watcher;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use workshop_common::Workshop;

fn kubectl(config: &Path, args: &[&str]) -> Output {
    kubectl_env(config, &[], args)
}

/// kubectl with environment variables (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false` makes it use
/// SPDY instead of WebSocket).
fn kubectl_env(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(gitops_lab_e2e::kubectl_path())
        .envs(env.iter().copied())
        .arg("--kubeconfig")
        .arg(config)
        .args(["--request-timeout", "90s"])
        .args(args)
        .output()
        .expect("kubectl runs")
}

fn ok(config: &Path, args: &[&str]) -> String {
    let out = kubectl(config, args);
    assert!(out.status.success(), "kubectl {args:?}: {}", gitops_lab_e2e::text(&out.stderr));
    gitops_lab_e2e::text(&out.stdout)
}

/// A long-running kubectl with the learner's kubeconfig (and `env`), its lines read as they come.
fn streaming(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Watcher {
    let mut command = Command::new(gitops_lab_e2e::kubectl_path());
    command.envs(env.iter().copied()).arg("--kubeconfig").arg(config).args(args);
    Watcher::start(command)
}

/// The learner's kubeconfig, downloaded with their link token, written to a file.
fn download(workshop: &Workshop, token: &str, dir: &Path, name: &str) -> PathBuf {
    let (status, head, body) = workshop.call_with("GET", "/api/kubeconfig", Some(token), &[], None);
    assert_eq!(status, 200, "{body}");
    assert!(head.to_ascii_lowercase().contains("content-disposition: attachment"), "{head}");
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// The same kubeconfig with another token.
fn with_token(config: &Path, token: &str, dir: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(config).unwrap();
    let swapped: Vec<String> = text
        .lines()
        .map(|l| if l.trim_start().starts_with("token:") { format!("    token: {token}") } else { l.to_string() })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, swapped.join("\n")).unwrap();
    path
}

fn http_get(port: u16) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("the forwarded port accepts");
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
}

#[test]
fn a_learners_kubectl_reaches_their_own_sandbox_through_the_workshop() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    // kubectl sends a token only over HTTPS: on plain loopback the download says so.
    let plain = Workshop::start(data.path(), &[]);
    let (status, body) = plain.call("GET", "/api/kubeconfig", Some(&plain.join("Ada")), None);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("--tls") && body.contains("needs-https"), "{body}");
    plain.stop();
    let data = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &["--tls"]);
    let (ada, lei) = (workshop.join("Ada"), workshop.join("Lei"));
    let ada_config = download(&workshop, &ada, files.path(), "ada.yaml");
    let text = std::fs::read_to_string(&ada_config).unwrap();
    assert!(text.contains(&format!("server: {}/k8s/learner-1", workshop.base)), "{text}");
    assert!(workshop.base.starts_with("https://") && text.contains("certificate-authority-data: "), "{text}");
    assert!(!text.contains(&ada), "the kubeconfig does not carry the link token");
    let lei_config = download(&workshop, &lei, files.path(), "lei.yaml");

    // Plain requests, apply, and a watch on which a line arrives.
    let none = kubectl(&ada_config, &["get", "pods"]);
    assert!(none.status.success(), "{}", gitops_lab_e2e::text(&none.stderr));
    assert!(gitops_lab_e2e::text(&none.stderr).contains("No resources found in default namespace"));
    let mut watch = streaming(&ada_config, &[], &["get", "pods", "-w"]);
    let manifest = files.path().join("web.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: web\n    image: nginx:1.27\n    ports:\n    - containerPort: 80\n",
    )
    .unwrap();
    assert!(ok(&ada_config, &["apply", "-f", manifest.to_str().unwrap()]).contains("pod/web created"));
    watch.wait_for("the watch's line for pod web", Duration::from_secs(60), |l| l.starts_with("web "));
    ok(&ada_config, &["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);

    // exec (WebSocket v5), a followed log, port-forward (SPDY in WebSocket).
    assert_eq!(ok(&ada_config, &["exec", "web", "--", "echo", "hi"]).trim(), "hi");
    ok(
        &ada_config,
        &[
            "run",
            "ticker",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done",
        ],
    );
    let mut logs = streaming(&ada_config, &[], &["logs", "-f", "ticker", "--pod-running-timeout=60s"]);
    logs.wait_for("a tick", Duration::from_secs(60), |l| l.starts_with("tick 1"));
    let mut forward = streaming(&ada_config, &[], &["port-forward", "pod/web", ":80"]);
    let line = forward
        .wait_for("the forwarding line", Duration::from_secs(60), |l| l.starts_with("Forwarding from 127.0.0.1:"));
    let port: u16 = line["Forwarding from 127.0.0.1:".len()..].split(' ').next().unwrap().parse().unwrap();
    let page = http_get(port);
    assert!(page.starts_with("HTTP/1.1 200 OK") && page.contains("nginx"), "{page}");
    drop((watch, logs, forward));
    // The same upgrades in SPDY (kubectl's fallback, and older kubectl's only way).
    let spdy = [("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), ("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")];
    let out = kubectl_env(&ada_config, &spdy, &["exec", "web", "--", "echo", "hi"]);
    assert_eq!(gitops_lab_e2e::text(&out.stdout).trim(), "hi", "{}", gitops_lab_e2e::text(&out.stderr));
    let mut forward = streaming(&ada_config, &spdy, &["port-forward", "pod/web", ":80"]);
    let line = forward
        .wait_for("the forwarding line", Duration::from_secs(60), |l| l.starts_with("Forwarding from 127.0.0.1:"));
    let port: u16 = line["Forwarding from 127.0.0.1:".len()..].split(' ').next().unwrap().parse().unwrap();
    let page = http_get(port);
    assert!(page.starts_with("HTTP/1.1 200 OK") && page.contains("nginx"), "SPDY port-forward: {page}");
    drop(forward);

    // Each learner sees only their own sandbox.
    assert!(!ok(&lei_config, &["get", "pods", "-o", "name"]).contains("pod/web"));

    // Refusals: 401 with the reason, whatever kubectl does with it.
    let refused = |config: &Path, reason: &str| {
        let out = kubectl(config, &["get", "pods"]);
        let err = gitops_lab_e2e::text(&out.stderr);
        assert!(!out.status.success(), "refused");
        assert!(err.contains("Unauthorized") || err.contains("logged in"), "{err}");
        assert!(err.contains(reason), "{err}");
    };
    let lei_token = kubectl_token_of(&lei_config);
    refused(&with_token(&ada_config, &lei_token, files.path(), "swap.yaml"), "does not open learner-1's sandbox");
    refused(
        &with_token(&ada_config, &"f".repeat(64), files.path(), "forged.yaml"),
        "opens no sandbox of this workshop",
    );
    refused(&with_token(&ada_config, &ada, files.path(), "link.yaml"), "personal link's token");
    refused(
        &with_token(&ada_config, &workshop.instructor, files.path(), "instructor.yaml"),
        "not a kubectl credential",
    );
    let (status, body) = workshop.call("GET", "/k8s/learner-1/api/v1/namespaces/default/pods", Some("forged"), None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"kind\":\"Status\"") && body.contains("本工作坊"), "{body}");
    let (status, _) = workshop.call("GET", "/api/kubeconfig", None, None);
    assert_eq!(status, 401, "the kubeconfig needs a learner's link or cookie");
    let (status, _) = workshop.call("GET", "/api/kubeconfig", Some(&workshop.instructor), None);
    assert_eq!(status, 403, "the instructor has no kubeconfig");
    workshop.stop();
}

fn kubectl_token_of(config: &Path) -> String {
    let text = std::fs::read_to_string(config).unwrap();
    text.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("a token").to_string()
}

#[test]
fn kubectl_starts_a_stopped_sandbox_again_with_its_objects() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &["--tls", "--idle-stop", "1"]);
    let ada = workshop.join("Ada");
    let config = download(&workshop, &ada, files.path(), "ada.yaml");
    ok(&config, &["create", "configmap", "kept"]);
    workshop_common::wait_for("the idle sandbox to stop", Duration::from_secs(30), || {
        workshop.board_line("learner-1")["sandbox"] == "stopped"
    });
    assert!(ok(&config, &["get", "configmaps", "-o", "name"]).contains("configmap/kept"));
    assert_eq!(workshop.board_line("learner-1")["sandbox"], "running");
    workshop.stop();
}

/// The client ports of every TCP connection to `port` on loopback (open, closing or in TIME_WAIT:
/// a connection closed during the test still shows), from /proc/net/tcp{,6}.
fn connections_to(port: u16) -> std::collections::BTreeSet<String> {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path).unwrap_or_default().lines().skip(1).map(String::from).collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields: sl, local, remote, state; 0A is LISTEN.
            (fields.len() > 3 && fields[2].ends_with(&port) && fields[3] != "0A").then(|| fields[1].to_string())
        })
        .collect()
}

#[test]
fn a_learners_steps_and_kubectl_requests_reuse_connections_to_their_sandbox() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &["--tls", "--command-rate", "200"]);
    let ada = workshop.join("Ada");
    workshop.kubectl(&ada, "kubectl get pods");
    let config = download(&workshop, &ada, files.path(), "ada.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let token = text.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("a token").to_string();
    let sandbox = std::fs::read_to_string(data.path().join("learners/learner-1/sandbox/kubeconfig")).unwrap();
    let server = sandbox.lines().find_map(|l| l.trim().strip_prefix("server: https://")).expect("the sandbox's url");
    let port: u16 = server.rsplit_once(':').unwrap().1.trim_end_matches('/').parse().unwrap();
    let before = connections_to(port);

    // Ten learner steps (the engine's own client to the sandbox).
    for i in 0..5 {
        workshop.kubectl(&ada, &format!("kubectl create configmap step-{i}"));
        workshop.kubectl(&ada, "kubectl get configmaps");
    }
    let after_steps = connections_to(port);
    // Twenty requests through the kubectl door, one after another.
    for _ in 0..20 {
        let (status, _, body) =
            workshop.call_with("GET", "/k8s/learner-1/api/v1/namespaces/default/configmaps", Some(&token), &[], None);
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("step-4"), "{body}");
    }
    let after_door = connections_to(port);
    let new_for_steps = after_steps.difference(&before).count();
    let new_for_door = after_door.difference(&after_steps).count();
    eprintln!(
        "connections to the sandbox: {} before, {new_for_steps} new for 10 steps, {new_for_door} new for 20 kubectl requests",
        before.len()
    );
    assert!(new_for_steps <= 2, "the engine's client keeps its connections: {new_for_steps} new for 10 steps");
    assert!(new_for_door <= 2, "the kubectl door keeps its connection: {new_for_door} new for 20 requests");
    workshop.stop();
}

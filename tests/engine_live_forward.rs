//! The engine's port-forwards against a real sandbox: a forward to a Deployment that keeps answering
//! from the new pod through `kubectl rollout restart`, `NoPod` after scaling to zero and back, a
//! taken local port, stop, and `live::http_get` for exercise checks.

#[path = "engine_live_common.rs"]
mod common;

use common::{Lab, object};
use gitops_lab::live::{HttpAnswer, ReadyPod, http_get, ready_pod};
use gitops_lab::protocol::{Command, Event, PortForwardState, PortForwardView, Reply};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// nginx serving a page that a sidecar writes: the pod's own name, so answers tell which pod served.
const WHOAMI: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: whoami
spec:
  replicas: 2
  selector:
    matchLabels: {app: whoami}
  template:
    metadata:
      labels: {app: whoami}
    spec:
      volumes: [{name: html, emptyDir: {}}]
      containers:
        - name: nginx
          image: nginx:1.27
          ports: [{containerPort: 80}]
          volumeMounts: [{name: html, mountPath: /usr/share/nginx/html}]
        - name: namer
          image: busybox
          command: [sh, -c, "echo $HOSTNAME > /html/index.html; sleep 3600"]
          volumeMounts: [{name: html, mountPath: /html}]
"#;

/// One `GET /` on a new connection to the local port; `None` when the connection is refused or closed.
async fn get(port: u16) -> Option<String> {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    socket.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await.ok()?.ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.trim().to_string())
}

/// Asks the forward until it answers with a pod name accepted by `wanted`.
async fn answer_from(port: u16, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        if let Some(body) = get(port).await.filter(|b| wanted(b)) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "the forward never answered as expected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pod_names(lab: &Lab) -> BTreeSet<String> {
    let out = lab.sandbox.kubectl_ok(&["get", "pods", "-l", "app=whoami", "-o", "jsonpath={.items[*].metadata.name}"]);
    out.split_whitespace().map(String::from).collect()
}

async fn start_forward(lab: &Lab, local_port: Option<u16>) -> PortForwardView {
    let command = Command::PortForwardStart { target: object("apps/v1", "Deployment", "whoami"), port: 80, local_port };
    let Reply::PortForward(view) = lab.ok(command).await else { panic!("a port-forward") };
    view
}

// One scenario told in order (longer than ~60 lines): each step builds on the state the last one left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_to_a_deployment_survives_a_rollout_and_waits_out_a_scale_to_zero() {
    let lab = Lab::start().await;
    lab.apply(WHOAMI);
    lab.sandbox.kubectl_ok(&["rollout", "status", "deployment/whoami", "--timeout=60s"]);
    let view = start_forward(&lab, None).await;
    assert_eq!(view.state, PortForwardState::Active);
    assert_eq!(view.url, format!("http://127.0.0.1:{}/", view.local_port));
    assert_eq!(
        view.kubectl,
        format!("kubectl port-forward --context gitops-lab-sandbox deployment/whoami {}:80", view.local_port)
    );
    let before = pod_names(&lab);
    let first = answer_from(view.local_port, |name| before.contains(name)).await;
    assert_eq!(Some(&first), view.pod.as_ref(), "connections go to the pod the view names");

    let mark = lab.recorder.mark();
    lab.sandbox.kubectl_ok(&["rollout", "restart", "deployment/whoami"]);
    lab.sandbox.kubectl_ok(&["rollout", "status", "deployment/whoami", "--timeout=60s"]);
    let served = answer_from(view.local_port, |name| !before.contains(name)).await;
    assert!(pod_names(&lab).contains(&served), "{served} is one of the new pods");
    let retargeted = lab
        .recorder
        .wait_for("the forward on a new pod", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::PortForward(v)
                    if v.state == PortForwardState::Active && v.pod.as_ref().is_some_and(|p| !before.contains(p)) =>
                {
                    Some(v.clone())
                }
                _ => None,
            })
        })
        .await;
    assert_eq!(retargeted.id, view.id);
    let saw_retargeting = lab.recorder.all()[mark..]
        .iter()
        .any(|e| matches!(e, Event::PortForward(v) if v.state == PortForwardState::Retargeting));
    assert!(saw_retargeting, "the old pod's end was announced before the new pod took over");

    let mark = lab.recorder.mark();
    lab.sandbox.kubectl_ok(&["scale", "deployment/whoami", "--replicas=0"]);
    let reason = lab
        .recorder
        .wait_for("NoPod after scaling to zero", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::PortForward(PortForwardView {
                    state: PortForwardState::NoPod { reason }, pod: None, ..
                }) => Some(reason.clone()),
                _ => None,
            })
        })
        .await;
    assert!(reason.en.contains("deployment/whoami") && reason.en.contains("kubectl scale"), "{}", reason.en);
    assert!(reason.zh.contains("deployment/whoami"), "{}", reason.zh);
    assert_eq!(get(view.local_port).await, None, "connections are refused while no pod is ready");

    lab.sandbox.kubectl_ok(&["scale", "deployment/whoami", "--replicas=1"]);
    lab.sandbox.kubectl_ok(&["rollout", "status", "deployment/whoami", "--timeout=60s"]);
    let back = answer_from(view.local_port, |name| name.starts_with("whoami-")).await;
    assert_eq!(pod_names(&lab), BTreeSet::from([back]), "the forward resumed on the one new pod");

    let Reply::PortForward(stopped) = lab.ok(Command::PortForwardStop { id: view.id }).await else { panic!() };
    assert_eq!(stopped.state, PortForwardState::Stopped);
    assert_eq!(lab.ok(Command::PortForwards).await, Reply::PortForwards(Vec::new()));
    std::net::TcpListener::bind(("127.0.0.1", view.local_port)).expect("the local port is free again");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_or_a_missing_target_is_refused_with_the_reason() {
    let lab = Lab::start().await;
    lab.apply(WHOAMI);
    lab.sandbox.kubectl_ok(&["rollout", "status", "deployment/whoami", "--timeout=60s"]);
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let command = Command::PortForwardStart {
        target: object("apps/v1", "Deployment", "whoami"),
        port: 80,
        local_port: Some(port),
    };
    let error = lab.send(command).await.unwrap_err();
    assert_eq!(error.code, "port-taken");
    assert!(error.message.en.contains(&port.to_string()) && error.message.zh.contains(&port.to_string()));
    assert!(error.hint.is_some());
    assert_eq!(lab.ok(Command::PortForwards).await, Reply::PortForwards(Vec::new()), "nothing half-started");

    let missing =
        Command::PortForwardStart { target: object("apps/v1", "Deployment", "nope"), port: 80, local_port: None };
    assert_eq!(lab.send(missing).await.unwrap_err().code, "not-found");
    let config_map = Command::PortForwardStart { target: object("v1", "ConfigMap", "x"), port: 80, local_port: None };
    assert_eq!(lab.send(config_map).await.unwrap_err().code, "no-pods");

    // A chosen free port is used as asked, and the engine's shutdown frees it.
    drop(taken);
    let view = start_forward(&lab, Some(port)).await;
    assert_eq!(view.local_port, port);
    lab.stop().await;
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("shutdown stops the forward");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_get_reaches_a_ready_pod_of_an_owner_for_checks() {
    let lab = Lab::start().await;
    lab.apply(WHOAMI);
    lab.sandbox.kubectl_ok(&["rollout", "status", "deployment/whoami", "--timeout=60s"]);
    let client = lab.client();
    let ReadyPod::Found(pod) = ready_pod(&client, "default", &object("apps/v1", "Deployment", "whoami")).await.unwrap()
    else {
        panic!("a ready pod")
    };
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    let answer = loop {
        let answer = http_get(&client, "default", &pod, 80, "/").await.unwrap();
        if answer.status == 200 || tokio::time::Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // the sidecar writes the page just after start
    };
    assert_eq!(answer, HttpAnswer { status: 200, body: format!("{pod}\n") });
    let missing = http_get(&client, "default", &pod, 80, "/nope.html").await.unwrap();
    assert_eq!(missing.status, 404);
    let closed = http_get(&client, "default", &pod, 81, "/").await.unwrap_err().view();
    assert_eq!(closed.code, "http-failed");
    assert!(closed.message.en.contains("81"), "{}", closed.message.en);
    lab.stop().await;
}

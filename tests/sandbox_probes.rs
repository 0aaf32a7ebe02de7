//! Probes with the real kubectl: a readiness probe keeps a pod out of Ready (and out of its
//! Service's endpoints) until it passes, a failing liveness probe restarts the container, a
//! startup probe holds the others back, each with upstream's `Unhealthy` and `Killing` events.

#![forbid(unsafe_code)]

use std::time::Duration;

use gitops_lab_e2e::{Sandbox, eventually_within, kubectl_available};

/// A sandbox whose restarts back off briefly (its kubelet reads this variable).
fn sandbox() -> Sandbox {
    Sandbox::start_with_env(&[("GITOPS_LAB_SANDBOX_BACKOFF_MS", "200")])
}

/// The messages of the pod's events with `reason`, joined by newlines.
fn events(sb: &Sandbox, pod: &str, reason: &str) -> String {
    let selector = format!("involvedObject.name={pod},reason={reason}");
    sb.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        &selector,
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ])
}

/// Waits (up to 20 s) until `check` holds for the output of `kubectl args`.
fn wait_for(sb: &Sandbox, what: &str, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    eventually_within(what, Duration::from_secs(20), || {
        let out = sb.kubectl_ok(args);
        check(&out).then_some(out)
    })
}

#[test]
fn a_readiness_probe_keeps_the_pod_unready_and_out_of_its_endpoints_until_it_passes() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    ports: [{name: http, containerPort: 80}]
    readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
"#;
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], pod);
    sb.kubectl_ok(&["expose", "pod", "web", "--port=80"]);
    let failed = wait_for(&sb, "a failed readiness probe", &["get", "events", "-o", "name"], |_| {
        events(&sb, "web", "Unhealthy").contains("Readiness probe failed: HTTP probe failed with statuscode: 404")
    });
    assert!(!failed.is_empty());
    let status =
        sb.kubectl_ok(&["get", "pod", "web", "-o", "jsonpath={.status.phase} {.status.containerStatuses[0].ready}"]);
    assert_eq!(status, "Running false", "running but not ready");
    let endpoints = sb.kubectl_ok(&["get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]);
    assert_eq!(endpoints, "", "an unready pod gets no traffic");

    sb.kubectl_ok(&["exec", "web", "--", "sh", "-c", "echo ok > /usr/share/nginx/html/healthz"]);
    wait_for(
        &sb,
        "the pod ready",
        &["get", "pod", "web", "-o", "jsonpath={.status.containerStatuses[0].ready}"],
        |r| r == "true",
    );
    let ip = sb.kubectl_ok(&["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]);
    wait_for(
        &sb,
        "the pod in the endpoints",
        &["get", "endpoints", "web", "-o", "jsonpath={.subsets[*].addresses[*].ip}"],
        |e| e == ip,
    );
    let table = sb.kubectl_ok(&["get", "pod", "web", "--no-headers"]);
    assert!(table.contains("1/1") && table.contains("Running"), "{table}");
}

#[test]
fn a_failing_liveness_probe_restarts_the_container_with_upstreams_events() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  containers:
  - name: app
    image: busybox
    args: [sh, -c, "touch /tmp/healthy; sleep 2; rm -f /tmp/healthy; sleep 600"]
    livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
"#;
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], pod);
    wait_for(
        &sb,
        "a restart",
        &["get", "pod", "live", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"],
        |n| n.parse::<u32>().unwrap_or(0) >= 1,
    );
    let unhealthy = events(&sb, "live", "Unhealthy");
    assert!(unhealthy.contains("Liveness probe failed: cat:") && unhealthy.contains("/tmp/healthy"), "{unhealthy}");
    let killing = events(&sb, "live", "Killing");
    assert!(killing.contains("Container app failed liveness probe, will be restarted"), "{killing}");
    let last = sb.kubectl_ok(&[
        "get",
        "pod",
        "live",
        "-o",
        "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}",
    ]);
    assert_eq!(last, "137", "a shell ignores SIGTERM: killed");
}

#[test]
fn a_startup_probe_holds_readiness_back_and_a_tcp_probe_reports_the_refusal() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  containers:
  - name: app
    image: busybox
    args: [sh, -c, "sleep 3; touch /tmp/started; sleep 600"]
    startupProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 30}
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
"#;
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], pod);
    wait_for(&sb, "the pod running", &["get", "pod", "slow", "-o", "jsonpath={.status.phase}"], |p| p == "Running");
    let started = sb.kubectl_ok(&["get", "pod", "slow", "-o", "jsonpath={.status.containerStatuses[0].started}"]);
    assert_eq!(started, "false", "not started before the startup probe passes");
    wait_for(
        &sb,
        "the startup probe passed",
        &["get", "pod", "slow", "-o", "jsonpath={.status.containerStatuses[0].started}"],
        |s| s == "true",
    );
    // Only now does readiness run: nothing listens on 8080 in a busybox container.
    let refused = eventually_within("a refused readiness probe", Duration::from_secs(20), || {
        let said = events(&sb, "slow", "Unhealthy");
        said.contains("Readiness probe failed: dial tcp").then_some(said)
    });
    assert!(refused.contains(":8080: connect: connection refused"), "{refused}");
    assert!(refused.contains("Startup probe failed: cat:"), "the startup probe failed first: {refused}");
    let ready = sb.kubectl_ok(&["get", "pod", "slow", "-o", "jsonpath={.status.containerStatuses[0].ready}"]);
    assert_eq!(ready, "false");
}

//! The simulated node with the real kubectl: the chapter's nginx pod runs (init container first),
//! describe and logs read like a real cluster's, deletion is graceful, Deployments become ready,
//! and an image the sandbox cannot run crash-loops with a log that says why.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::{Workdir, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

/// Starts a sandbox whose back-offs are short (its kubelet reads this variable).
fn sandbox() -> Sandbox {
    Sandbox::start_with_env(&[("GITOPS_LAB_SANDBOX_BACKOFF_MS", "200")])
}

/// Polls `check` over kubectl output until it holds, or fails with the last output.
fn wait_until(sb: &Sandbox, args: &[&str], what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = sb.kubectl(args);
        let stdout = text(&out.stdout);
        if check(&stdout) {
            return stdout;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last output of kubectl {args:?}:\n{stdout}{}",
            text(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn squashed(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn nginx_pod(sb: &Sandbox) -> Workdir {
    let work = Workdir::with_fixtures(&["nginx-pod.yaml"]);
    let out = sb.kubectl_in(Some(work.path()), &["create", "-f", "nginx-pod.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    work
}

#[test]
fn the_chapter_nginx_pod_runs_after_its_init_container() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let _work = nginx_pod(&sb);
    let table = wait_until(&sb, &["get", "pod", "nginx"], "1/1 Running", |o| {
        o.lines().any(|l| squashed(l).starts_with("nginx 1/1 Running 0"))
    });
    assert!(table.starts_with("NAME"), "{table}");
    let ip = sb.kubectl_ok(&["get", "pod", "nginx", "-o", "jsonpath={.status.podIP}"]);
    assert!(ip.starts_with("10.244."), "{ip}");
    let pod = get_json(&sb, &["get", "pod", "nginx"]);
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    assert!(
        pod["status"]["containerStatuses"][0]["containerID"].as_str().unwrap_or_default().starts_with("sandbox://")
    );
    let node = sb.kubectl_ok(&["get", "nodes"]);
    assert!(node.lines().any(|l| squashed(l).starts_with("sandbox Ready control-plane")), "{node}");
}

#[test]
fn describe_shows_the_completed_init_container_and_the_events_in_order() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let _work = nginx_pod(&sb);
    wait_until(&sb, &["get", "pod", "nginx"], "Running", |o| o.contains("Running"));
    let described = sb.kubectl_ok(&["describe", "pod", "nginx"]);
    for wanted in [
        "Node: sandbox/192.168.49.2",
        "State: Terminated",
        "Reason: Completed",
        "Exit Code: 0",
        "State: Running",
        "Ready: True",
    ] {
        assert!(described.lines().any(|l| squashed(l) == wanted), "missing {wanted:?} in:\n{described}");
    }
    let events: Vec<String> = described.lines().skip_while(|l| !l.starts_with("Events:")).map(squashed).collect();
    let reasons: Vec<&str> = events.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    let expected = ["Scheduled", "Pulling", "Pulled", "Created", "Started", "Pulling", "Pulled", "Created", "Started"];
    assert!(reasons.windows(expected.len()).any(|w| w == expected), "events: {events:#?}");
    assert!(events.iter().any(|l| l.ends_with("Successfully assigned default/nginx to sandbox")), "{events:#?}");
}

#[test]
fn logs_show_nginx_starting_and_a_deleted_pod_goes_away_gracefully() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let _work = nginx_pod(&sb);
    wait_until(&sb, &["get", "pod", "nginx"], "Running", |o| o.contains("Running"));
    let logs = sb.kubectl_ok(&["logs", "nginx"]);
    assert!(logs.contains("Configuration complete; ready for start up"), "{logs}");
    let out = sb.kubectl(&["delete", "pod", "nginx"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pod \"nginx\" deleted\n");
    let gone = sb.kubectl(&["get", "pod", "nginx"]);
    assert!(text(&gone.stderr).contains("not found"), "{}", text(&gone.stderr));
    let events = sb.kubectl_ok(&["get", "events", "--field-selector", "reason=Killing"]);
    assert!(events.contains("Stopping container nginx"), "{events}");
}

#[test]
fn an_image_the_sandbox_cannot_run_crash_loops_with_an_explaining_log() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    sb.kubectl_ok(&["run", "cache", "--image=redis:7"]);
    wait_until(&sb, &["get", "pod", "cache"], "CrashLoopBackOff", |o| o.contains("CrashLoopBackOff"));
    // A restart after the back-off starts a new run whose log is empty until its program has
    // written (as on a real cluster): poll rather than read once.
    let explained = |logs: &str| logs.contains("cannot run image \"redis:7\"") && logs.contains("minikube");
    let logs = wait_until(&sb, &["logs", "cache"], "the log explaining the crash", explained);
    assert!(explained(&logs), "{logs}");
    let pod = get_json(&sb, &["get", "pod", "cache"]);
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(status["lastState"]["terminated"]["reason"], "Error");
    assert!(status["restartCount"].as_i64().unwrap_or(0) >= 1, "{status}");
    let events = sb.kubectl_ok(&["get", "events", "--field-selector", "reason=BackOff"]);
    assert!(events.contains("Back-off restarting failed container cache in pod cache_default"), "{events}");
}

#[test]
fn a_container_script_with_a_syntax_error_fails_like_a_real_shell() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    sb.kubectl_ok(&["run", "broken", "--image=busybox", "--restart=Never", "--", "sh", "-c", "if true; then echo hi"]);
    wait_until(&sb, &["get", "pod", "broken"], "the pod to fail", |o| o.contains("Error"));
    let logs = sb.kubectl_ok(&["logs", "broken"]);
    assert!(logs.contains("sh: syntax error"), "{logs}");
    let pod = get_json(&sb, &["get", "pod", "broken"]);
    assert_eq!(pod["status"]["phase"], "Failed");
    assert_eq!(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 2);
}

#[test]
fn an_invalid_image_name_fails_to_pull_and_backs_off() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let manifest = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo"},
        "spec": {"containers": [{"name": "web", "image": "nginx::1"}]}}"#;
    let work = Workdir::with_fixtures(&[]);
    std::fs::write(work.file("typo.json"), manifest).expect("write the manifest");
    sb.kubectl_ok(&["create", "-f", &work.file("typo.json").to_string_lossy()]);
    wait_until(&sb, &["get", "pod", "typo"], "an image pull error", |o| {
        o.contains("ErrImagePull") || o.contains("ImagePullBackOff")
    });
}

#[test]
fn a_deployment_becomes_ready_and_its_rollout_finishes() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx:1.7.9", "--replicas=3"]);
    let out = sb.kubectl(&["rollout", "status", "deployment/web", "--timeout=20s"]);
    assert!(out.status.success(), "rollout status: {}{}", text(&out.stdout), text(&out.stderr));
    let table = sb.kubectl_ok(&["get", "deploy", "web"]);
    assert!(table.lines().any(|l| squashed(l).starts_with("web 3/3 3 3")), "{table}");
}

#[test]
fn killing_nginx_from_exec_restarts_the_container() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let _work = nginx_pod(&sb);
    wait_until(&sb, &["get", "pod", "nginx"], "Running", |o| o.contains("Running"));
    let ps = sb.kubectl_ok(&["exec", "nginx", "--", "ps", "-ef"]);
    assert!(ps.contains("nginx: master process nginx -g daemon off;"), "{ps}");
    let _ = sb.kubectl(&["exec", "nginx", "--", "kill", "1"]);
    wait_until(&sb, &["get", "pod", "nginx"], "RESTARTS 1", |o| {
        o.lines().any(|l| squashed(l).starts_with("nginx 1/1 Running 1"))
    });
    let page = sb.kubectl_ok(&["exec", "nginx", "--", "cat", "/usr/share/nginx/html/index.html"]);
    assert!(page.contains("Hello Kubernetes"), "the emptyDir survives the restart: {page}");
}

#[test]
fn kubectl_in_an_operator_pod_is_forbidden_until_its_service_account_is_bound() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    let run = |name: &str| {
        sb.kubectl_ok(&[
            "run",
            name,
            "--image=gitopsbook/example-operator:v1.0",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "kubectl get configmaps",
        ]);
        wait_until(&sb, &["get", "pod", name], "the pod to finish", |o| o.contains("Completed") || o.contains("Error"));
        text(&sb.kubectl(&["logs", name]).stdout)
    };
    let denied = run("before");
    assert!(
        denied.contains(
            "Error from server (Forbidden): configmaps is forbidden: User \
            \"system:serviceaccount:default:default\" cannot list resource \"configmaps\""
        ),
        "{denied}"
    );
    sb.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "operator",
        "--clusterrole=cluster-admin",
        "--serviceaccount=default:default",
    ]);
    let allowed = run("after");
    assert!(allowed.contains("kube-root-ca.crt"), "{allowed}");
}

#[test]
fn a_configmap_volume_follows_the_configmap() {
    if !kubectl_available() {
        return;
    }
    let sb = sandbox();
    sb.kubectl_ok(&["create", "configmap", "site", "--from-literal=index.html=first"]);
    let manifest = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"volumes": [{"name": "html", "configMap": {"name": "site"}}],
                 "containers": [{"name": "nginx", "image": "nginx",
                                 "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html"}]}]}}"#;
    let work = Workdir::with_fixtures(&[]);
    std::fs::write(work.file("web.json"), manifest).expect("write the manifest");
    sb.kubectl_ok(&["create", "-f", &work.file("web.json").to_string_lossy()]);
    wait_until(&sb, &["get", "pod", "web"], "Running", |o| o.contains("Running"));
    assert_eq!(sb.kubectl_ok(&["exec", "web", "--", "cat", "/usr/share/nginx/html/index.html"]), "first");
    sb.kubectl_ok(&["patch", "configmap", "site", "-p", r#"{"data": {"index.html": "second"}}"#]);
    wait_until(&sb, &["exec", "web", "--", "cat", "/usr/share/nginx/html/index.html"], "the new page", |o| {
        o == "second"
    });
}

//! In-cluster networking through the real kubectl: Service names and cluster IPs resolve inside
//! simulated containers and reach a ready endpoint's simulated HTTP server; busybox's `wget` and
//! `nslookup` and curlimages/curl's `curl` print what the real tools print, failures included.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::{Sandbox, eventually, kubectl_available, text};
use std::process::Output;

/// nginx behind the Service `web`, and a busybox pod `client` to run commands in.
fn web_and_client(sb: &Sandbox) -> String {
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx"]);
    sb.kubectl_ok(&["expose", "deployment", "web", "--port=80"]);
    sb.kubectl_ok(&["run", "client", "--image=busybox", "--", "sleep", "3600"]);
    sb.kubectl_ok(&["wait", "--for=condition=Ready", "pod/client", "--timeout=60s"]);
    eventually("a ready endpoint of web", || {
        let ep = get_json(sb, &["get", "endpoints", "web"]);
        ep["subsets"][0]["addresses"][0]["ip"].as_str().map(String::from)
    })
}

/// The container's stderr, without the line kubectl adds for a non-zero exit.
fn stderr(out: &Output) -> String {
    text(&out.stderr).lines().filter(|l| !l.starts_with("command terminated")).map(|l| format!("{l}\n")).collect()
}

fn exec(sb: &Sandbox, pod: &str, command: &[&str]) -> Output {
    let mut args = vec!["exec", pod, "--"];
    args.extend(command);
    sb.kubectl(&args)
}

const PAGE: &str = "<h1>Welcome to nginx!</h1>";

#[test]
fn the_tutorial_classic_fetches_nginx_through_the_service_name() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    web_and_client(&sb);
    let out = sb.kubectl_ok(&[
        "run",
        "tmp",
        "--rm",
        "-i",
        "--restart=Never",
        "--image=busybox",
        "--",
        "wget",
        "-qO-",
        "http://web",
    ]);
    assert!(out.contains(PAGE), "{out}");
    let out = sb.kubectl_ok(&[
        "run",
        "c",
        "--rm",
        "-i",
        "--restart=Never",
        "--image=curlimages/curl",
        "--",
        "-s",
        "http://web",
    ]);
    assert!(out.contains(PAGE), "{out}");
}

#[test]
fn every_cluster_dns_form_and_the_addresses_reach_the_pod() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let pod_ip = web_and_client(&sb);
    let svc = get_json(&sb, &["get", "svc", "web"]);
    let cluster_ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
    let urls = [
        "http://web".to_string(),
        "web.default".to_string(),
        "http://web.default.svc/".to_string(),
        "http://web.default.svc.cluster.local:80/index.html".to_string(),
        format!("http://{cluster_ip}"),
        format!("http://{pod_ip}"),
    ];
    for url in &urls {
        let out = exec(&sb, "client", &["wget", "-q", "-O", "-", url]);
        assert!(out.status.success() && text(&out.stdout).contains(PAGE), "{url}: {}", text(&out.stderr));
    }
    let out = exec(&sb, "client", &["nslookup", "web"]);
    let printed = text(&out.stdout);
    assert!(printed.starts_with("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n"), "{printed}");
    assert!(printed.contains(&format!("Name:\tweb.default.svc.cluster.local\nAddress: {cluster_ip}\n")), "{printed}");

    let out = exec(&sb, "client", &["sh", "-c", "wget -O page.html http://web && cat page.html"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains(PAGE), "{stdout}");
    assert!(
        stderr.contains(&format!("Connecting to web ({cluster_ip}:80)")) && stderr.contains("'page.html' saved"),
        "{stderr}"
    );
}

#[test]
fn names_without_endpoints_and_unknown_names_fail_as_on_a_real_cluster() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    web_and_client(&sb);
    sb.kubectl_ok(&["create", "service", "clusterip", "empty", "--tcp=80:80"]);
    let svc = get_json(&sb, &["get", "svc", "empty"]);
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default().to_string();
    let out = exec(&sb, "client", &["wget", "-qO-", "-T", "2", "http://empty"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), format!("wget: can't connect to remote host ({ip}): Connection refused\n"));
    let out = exec(&sb, "client", &["wget", "-qO-", "http://nope"]);
    assert_eq!(stderr(&out), "wget: bad address 'nope'\n");
    let out = exec(&sb, "client", &["wget", "-qO-", "http://web/missing"]);
    assert_eq!(stderr(&out), "wget: server returned error: HTTP/1.1 404 Not Found\n");
    let out = exec(&sb, "client", &["nslookup", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("** server can't find nope.default.svc.cluster.local: NXDOMAIN"),
        "{}",
        text(&out.stdout)
    );

    sb.kubectl_ok(&["run", "curl", "--image=curlimages/curl", "--", "sleep", "3600"]);
    sb.kubectl_ok(&["wait", "--for=condition=Ready", "pod/curl", "--timeout=60s"]);
    let out = exec(&sb, "curl", &["curl", "-sS", "http://nope"]);
    assert_eq!((out.status.code(), stderr(&out)), (Some(6), "curl: (6) Could not resolve host: nope\n".to_string()));
    let out = exec(&sb, "curl", &["curl", "-sSf", "http://web/missing"]);
    let want = "curl: (22) The requested URL returned error: 404\n".to_string();
    assert_eq!((out.status.code(), stderr(&out)), (Some(22), want));
    let out = exec(&sb, "curl", &["curl", "-s", "--max-time", "2", "http://empty"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = exec(&sb, "curl", &["curl", "-sI", "http://web"]);
    assert!(text(&out.stdout).starts_with("HTTP/1.1 200 OK\r\n"), "{}", text(&out.stdout));
    let out = exec(&sb, "curl", &["curl", "-sv", "-o", "/tmp/page", "http://web"]);
    assert!(text(&out.stderr).contains("> GET / HTTP/1.1\n> Host: web\n"), "{}", text(&out.stderr));
    let saved = exec(&sb, "curl", &["cat", "/tmp/page"]);
    assert!(text(&saved.stdout).contains(PAGE));
    let missing = exec(&sb, "client", &["curl", "http://web"]);
    assert!(!missing.status.success(), "busybox has no curl");
}

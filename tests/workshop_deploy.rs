//! The workshop's Kubernetes manifests (`deploy/workshop/`, a kustomize base) against a real
//! sandbox: the real kubectl renders them, the server's dry run accepts every object without
//! creating any, and the workshop's ServiceAccount may do exactly what the Kubernetes-backed
//! sandbox provider will need (Pods, PersistentVolumeClaims and Services in its own namespace) and
//! nothing more; the Deployment's probes ask a page the real workshop server answers.

mod workshop_common;

use gitops_lab_e2e::{Sandbox, kubectl_available, text};
use serde::Deserialize;
use std::io::{Read, Write};
use workshop_common::Workshop;

/// The namespace the base puts everything in.
const NAMESPACE: &str = "gitops-lab-workshop";

/// Every object the base holds, as kubectl names them in its output.
const OBJECTS: [&str; 8] = [
    "namespace/gitops-lab-workshop",
    "serviceaccount/workshop",
    "role.rbac.authorization.k8s.io/workshop-sandboxes",
    "rolebinding.rbac.authorization.k8s.io/workshop-sandboxes",
    "service/workshop",
    "persistentvolumeclaim/workshop-data",
    "deployment.apps/workshop",
    "ingress.networking.k8s.io/workshop",
];

fn base() -> String {
    gitops_lab_e2e::tests_dir().join("../deploy/workshop").to_str().expect("a UTF-8 path").to_string()
}

/// The rendered base, one JSON value per object.
fn rendered(sandbox: &Sandbox) -> Vec<serde_json::Value> {
    let yaml = sandbox.kubectl_ok(&["kustomize", &base()]);
    serde_norway::Deserializer::from_str(&yaml)
        .map(|doc| serde_json::Value::deserialize(doc).expect("kustomize prints valid YAML"))
        .collect()
}

#[test]
fn the_base_renders_every_object_in_its_namespace() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let objects = rendered(&sandbox);
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap_or("")).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Service",
        "PersistentVolumeClaim",
        "Deployment",
        "Ingress",
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "one {kind} in {kinds:?}");
    }
    for object in objects.iter().filter(|o| o["kind"] != "Namespace") {
        assert_eq!(object["metadata"]["namespace"], NAMESPACE, "namespaced: {object}");
    }
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "gitops-lab/gitops-lab:0.1.0", "the tag comes from the kustomization");
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    assert_eq!(&args[..3], ["workshop", "--listen=0.0.0.0:7420", "--data-dir=/data"]);
    let ingress = objects.iter().find(|o| o["kind"] == "Ingress").unwrap();
    let host = ingress["spec"]["rules"][0]["host"].as_str().expect("the Ingress names its host");
    assert_eq!(ingress["spec"]["tls"][0]["hosts"][0], host, "TLS ends at the Ingress for its host");
    let public_url = format!("--public-url=https://{host}");
    assert!(args.contains(&public_url.as_str()), "the server's links and Origin check follow the Ingress: {args:?}");
    assert!(args.contains(&"--sandboxes=kubernetes"), "each learner's sandbox runs in its own Pod: {args:?}");
    let sandbox_image = format!("--sandbox-image={}", container["image"].as_str().unwrap());
    assert!(args.contains(&sandbox_image.as_str()), "the sandboxes run the server's own image: {args:?}");
    assert_eq!(pod["serviceAccountName"], "workshop");
    assert_eq!(deployment["spec"]["replicas"], 1, "one server owns the class's state");
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/join", "{probe} asks the public join page");
    }
    let binding = objects.iter().find(|o| o["kind"] == "RoleBinding").unwrap();
    assert_eq!(binding["subjects"][0]["namespace"], NAMESPACE, "the binding names the real ServiceAccount");
}

#[test]
fn every_object_passes_the_servers_dry_run_and_none_is_created() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    // A dry run does not create the namespace, so (as on any cluster) the objects in it are only
    // checked once it exists.
    sandbox.kubectl_ok(&["create", "namespace", NAMESPACE]);
    let out = sandbox.kubectl(&["apply", "-k", &base(), "--dry-run=server"]);
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{printed}{}", text(&out.stderr));
    for object in OBJECTS {
        let verb = if object.starts_with("namespace/") { "configured" } else { "created" };
        assert!(printed.contains(&format!("{object} {verb} (server dry run)")), "{object} missing in:\n{printed}");
    }
    for object in OBJECTS.iter().filter(|o| !o.starts_with("namespace/")) {
        let out = sandbox.kubectl(&["get", object, "-n", NAMESPACE]);
        assert!(!out.status.success(), "the dry run created {object}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains("NotFound"), "{object}: {}", text(&out.stderr));
    }
}

/// `kubectl auth can-i` as the workshop's ServiceAccount; `resource` may carry a subresource
/// after a space (`pods exec`), since `pods/exec` would name a pod called "exec".
fn can_i(sandbox: &Sandbox, verb: &str, resource: &str, namespace: &str) -> bool {
    let who = format!("--as=system:serviceaccount:{NAMESPACE}:workshop");
    let (kind, sub) = resource.split_once(' ').unwrap_or((resource, ""));
    let sub = format!("--subresource={sub}");
    let mut args = vec!["auth", "can-i", verb, kind, "-n", namespace, &who];
    if sub.len() > "--subresource=".len() {
        args.push(&sub);
    }
    let out = sandbox.kubectl(&args);
    let answer = text(&out.stdout);
    match answer.trim() {
        "yes" => true,
        "no" => false,
        _ => panic!("can-i {verb} {resource} -n {namespace}: {answer}{}", text(&out.stderr)),
    }
}

#[test]
fn the_service_account_may_manage_sandboxes_in_its_namespace_and_nothing_else() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let out = sandbox.kubectl(&["apply", "-k", &base()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    sandbox.kubectl_ok(&["create", "namespace", "elsewhere"]);
    let needed = [
        ("create", "pods"),
        ("get", "pods"),
        ("list", "pods"),
        ("watch", "pods"),
        ("delete", "pods"),
        ("create", "persistentvolumeclaims"),
        ("get", "persistentvolumeclaims"),
        ("list", "persistentvolumeclaims"),
        ("delete", "persistentvolumeclaims"),
        ("create", "services"),
        ("get", "services"),
        ("list", "services"),
        ("delete", "services"),
        ("create", "secrets"),
        ("get", "secrets"),
        ("delete", "secrets"),
    ];
    for (verb, resource) in needed {
        assert!(can_i(&sandbox, verb, resource, NAMESPACE), "it may {verb} {resource}");
        assert!(!can_i(&sandbox, verb, resource, "elsewhere"), "it may not {verb} {resource} in another namespace");
    }
    let refused = [
        ("update", "pods"),
        ("patch", "pods"),
        ("create", "pods exec"),
        ("get", "pods log"),
        ("update", "persistentvolumeclaims"),
        ("patch", "services"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("update", "secrets"),
        ("list", "configmaps"),
        ("create", "deployments.apps"),
        ("create", "roles.rbac.authorization.k8s.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io"),
        ("delete", "namespaces"),
        ("list", "nodes"),
        ("create", "persistentvolumes"),
    ];
    for (verb, resource) in refused {
        assert!(!can_i(&sandbox, verb, resource, NAMESPACE), "it may not {verb} {resource}");
    }
}

/// The status line of a GET of `path` with the given Host header.
fn status_of(addr: &str, path: &str, host: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("the workshop accepts connections");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or("").to_string()
}

#[test]
fn the_probes_ask_a_page_the_real_server_answers() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let objects = rendered(&sandbox);
    drop(sandbox);
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &[]);
    let port = workshop.addr.rsplit_once(':').unwrap().1.to_string();
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        let path = get["path"].as_str().expect("an HTTP probe");
        let host = get["httpHeaders"][0]["value"].as_str().expect("a Host header");
        assert_eq!(get["httpHeaders"][0]["name"], "Host");
        // The manifest names the container's port 7420; this server listens on a free port.
        let host = host.replace(":7420", &format!(":{port}"));
        let status = status_of(&workshop.addr, path, &host);
        assert!(status.starts_with("HTTP/1.1 200"), "{probe} {path} with Host {host}: {status}");
    }
    // Without the header the kubelet would send the pod's address, which the server refuses.
    let status = status_of(&workshop.addr, "/join", &format!("10.1.2.3:{port}"));
    assert!(status.starts_with("HTTP/1.1 403"), "a pod address as Host: {status}");
    workshop.stop();
}

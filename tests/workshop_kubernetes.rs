//! The workshop's Kubernetes-backed sandboxes, end to end with real processes.
//!
//! First the sandbox side: `gitops-lab sandbox serve` with credentials made elsewhere (the CA,
//! serving certificate, key and token the workshop puts in a learner's Secret) serves with exactly
//! those, so the real kubectl with a kubeconfig written from them alone is let in; files that do
//! not fit stop it with a message naming the flag.
//!
//! Then the workshop side: `gitops-lab workshop --sandboxes kubernetes` against a real
//! `gitops-lab sandbox serve` standing in for the cluster. What it covers: the exact Secret,
//! PersistentVolumeClaim, Pod and Service a learner's first use creates (names, labels, image,
//! command and flags, resources, volumes, selector, port), the Pod deleted on idle stop with the
//! claim and Secret kept, and the learner-facing messages while their Pod is not ready, and when it
//! is (an image the sandbox simulates) but its API cannot be reached.
//! What it cannot cover: the sandbox does not run the Pod's real process (the workshop image is
//! not one it simulates) and the Service's DNS name does not resolve outside a cluster, so the
//! learner's engine never connects here; that path is the sandbox-side test above plus a real
//! cluster (docs/workshop.md says how to try it).

mod workshop_common;

use gitops_lab_e2e::{Sandbox, announced, eventually_within, kubectl_path, text};
use gitops_sandbox_core::pki::Certificates;
use serde_json::{Value, json};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use workshop_common::Workshop;

/// Writes a CA, a certificate for loopback and a token as the four files `sandbox serve` takes.
fn credentials(dir: &Path, certificates: &Certificates, token: &str) -> [PathBuf; 4] {
    std::fs::create_dir_all(dir).unwrap();
    let files = ["ca.crt", "tls.crt", "tls.key", "token"].map(|name| dir.join(name));
    let texts = [&certificates.ca_pem, &certificates.server_cert_pem, &certificates.server_key_pem, &token.to_string()];
    for (file, text) in files.iter().zip(texts) {
        std::fs::write(file, text).unwrap();
    }
    files
}

fn serve_with(data_dir: &Path, files: &[PathBuf; 4]) -> Command {
    let mut command = Command::new(gitops_lab_e2e::gitops_lab_bin());
    command
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--kubeconfig")
        .arg(data_dir.join("written-kubeconfig"));
    for (flag, file) in ["--ca-cert", "--tls-cert", "--tls-key", "--token-file"].iter().zip(files) {
        command.arg(flag).arg(file);
    }
    command.env("GITOPS_LAB_LANG", "en");
    command
}

fn loopback_certificates() -> Certificates {
    Certificates::generate_for(&["127.0.0.1".to_string(), "localhost".to_string()]).unwrap()
}

#[test]
fn the_sandbox_serves_with_given_credentials_and_the_real_kubectl_trusts_only_them() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    // A sandbox that ran before with its own CA and token: the given ones replace them.
    drop(Sandbox::start_in(&temp.path().join("data")));
    let given = loopback_certificates();
    let files = credentials(&temp.path().join("given"), &given, "given-token-0123456789\n");
    let mut child = serve_with(&temp.path().join("data"), &files)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("gitops-lab starts");
    let (server, _) = announced(&mut child, "server: ", "kubeconfig: ");
    // A kubeconfig made only from the given CA and token, as the workshop writes it.
    let kubeconfig = temp.path().join("from-given");
    std::fs::write(&kubeconfig, gitops_sandbox::kubeconfig::render(&server, &given.ca_pem, "given-token-0123456789"))
        .unwrap();
    let kubectl = |config: &Path, args: &[&str]| {
        Command::new(kubectl_path()).env("KUBECONFIG", config).env("HOME", temp.path()).args(args).output().unwrap()
    };
    let listed = kubectl(&kubeconfig, &["get", "namespaces", "-o", "name"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("namespace/default"), "{}", text(&listed.stdout));
    // The kubeconfig the sandbox wrote carries the same CA and token.
    let written = std::fs::read_to_string(temp.path().join("data/written-kubeconfig")).unwrap();
    assert_eq!(written, gitops_sandbox::kubeconfig::render(&server, &given.ca_pem, "given-token-0123456789"));
    // Another token is refused, and another CA is not trusted.
    std::fs::write(&kubeconfig, gitops_sandbox::kubeconfig::render(&server, &given.ca_pem, "not-the-token")).unwrap();
    let refused = kubectl(&kubeconfig, &["get", "namespaces"]);
    assert!(!refused.status.success() && text(&refused.stderr).contains("Unauthorized"), "{}", text(&refused.stderr));
    let other = loopback_certificates();
    std::fs::write(&kubeconfig, gitops_sandbox::kubeconfig::render(&server, &other.ca_pem, "given-token-0123456789"))
        .unwrap();
    let untrusted = kubectl(&kubeconfig, &["get", "namespaces"]);
    assert!(
        !untrusted.status.success() && text(&untrusted.stderr).contains("certificate"),
        "{}",
        text(&untrusted.stderr)
    );
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    assert!(child.wait().unwrap().success());
}

/// Runs `sandbox serve` with files that do not fit: it must exit 1 at once with `expected` on
/// standard error and write nothing.
fn refused(temp: &Path, files: &[PathBuf; 4], expected: &str) {
    let data = temp.join("refused-data");
    let out = serve_with(&data, files).stdin(Stdio::null()).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in: {stderr}");
    assert!(!data.join("written-kubeconfig").exists() && !data.join("admin-token").exists());
}

#[test]
fn credentials_that_do_not_fit_stop_the_sandbox_naming_the_flag() {
    let temp = tempfile::tempdir().unwrap();
    let given = loopback_certificates();
    let other = loopback_certificates();
    let mut files = credentials(&temp.path().join("a"), &given, "t0ken");
    files[3] = temp.path().join("missing-token");
    refused(temp.path(), &files, "cannot read --token-file");
    let mixed = Certificates { server_key_pem: other.server_key_pem.clone(), ..loopback_certificates() };
    let mixed = Certificates { ca_pem: given.ca_pem.clone(), ..mixed };
    refused(temp.path(), &credentials(&temp.path().join("b"), &mixed, "t0ken"), "does not belong to the --tls-cert");
    let foreign = Certificates { ca_pem: other.ca_pem.clone(), ..loopback_certificates() };
    refused(temp.path(), &credentials(&temp.path().join("c"), &foreign, "t0ken"), "not signed by the --ca-cert CA");
    let garbage = Certificates { ca_pem: "hello".into(), ..loopback_certificates() };
    refused(temp.path(), &credentials(&temp.path().join("d"), &garbage, "t0ken"), "--ca-cert");
    // The flags go together.
    let out = Command::new(gitops_lab_e2e::gitops_lab_bin())
        .args(["sandbox", "serve", "--tls-cert", "x"])
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--ca-cert"), "{}", text(&out.stderr));
}

/// The real workshop server with its sandboxes in `sandbox`'s namespace `class-a`, idle after 2 s.
fn kubernetes_workshop(sandbox: &Sandbox, data_dir: &Path, image: &str) -> Workshop {
    let args = ["--sandboxes", "kubernetes", "--namespace", "class-a", "--sandbox-image", image];
    let args = [&args[..], &["--sandbox-ready-timeout", "6", "--idle-stop", "2", "--max-objects", "250"]].concat();
    let workshop = Workshop::start_with(data_dir, &args, &[("KUBECONFIG", sandbox.kubeconfig.as_os_str())]);
    let sandboxes = workshop.printed("sandboxes: ");
    assert_eq!(sandboxes.as_deref(), Some("kubernetes, namespace class-a"), "{:?}", workshop.printed);
    workshop
}

/// The learner's object of `kind` in `class-a`, or `None` when it is gone (or going).
fn object(sandbox: &Sandbox, kind: &str) -> Option<Value> {
    let out = sandbox.kubectl(&["get", kind, "sandbox-learner-1", "-n", "class-a", "-o", "json"]);
    let found: Value = serde_json::from_slice(&out.stdout).ok()?;
    found["metadata"]["deletionTimestamp"].is_null().then_some(found)
}

fn check_labels(object: &Value) {
    let labels = &object["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "gitops-lab-workshop", "{object}");
    assert_eq!(labels["gitops-lab.dev/learner"], "learner-1", "{object}");
    assert_eq!(labels["app.kubernetes.io/instance"], "sandbox-learner-1", "{object}");
}

/// The Secret's files: the CA, a serving certificate for the Service's four names signed by it,
/// its key, and a token.
fn check_secret(secret: &Value) {
    use base64::Engine;
    let field = |key: &str| {
        let encoded = secret["data"][key].as_str().unwrap_or_else(|| panic!("the Secret has {key}: {secret}"));
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let files = ["ca.crt", "tls.crt", "tls.key", "token"].map(|key| {
        std::fs::write(dir.path().join(key), field(key)).unwrap();
        dir.path().join(key)
    });
    let given = gitops_sandbox::tls::Given {
        ca_cert: &files[0],
        tls_cert: &files[1],
        tls_key: &files[2],
        token_file: &files[3],
    };
    let (certificates, token) = given.check().unwrap_or_else(|e| panic!("the Secret's credentials fit: {e}"));
    assert!(token.len() >= 32, "{token}");
    let names = ["sandbox-learner-1", "sandbox-learner-1.class-a", "sandbox-learner-1.class-a.svc"];
    let fqdn = "sandbox-learner-1.class-a.svc.cluster.local";
    let body: String = certificates.server_cert_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    for name in names.iter().chain([&fqdn]) {
        // A DNS name sits in the certificate's subjectAltName as its bytes.
        assert!(der.windows(name.len()).any(|w| w == name.as_bytes()), "the certificate names {name}");
    }
}

fn check_pod(pod: &Value) {
    check_labels(pod);
    let spec = &pod["spec"];
    let container = &spec["containers"][0];
    assert_eq!(container["image"], "example.org/gitops-lab:7");
    let credentials = "/var/run/gitops-lab/credentials";
    let args = json!([
        "sandbox",
        "serve",
        "--listen=0.0.0.0:6443",
        "--data-dir=/data",
        format!("--ca-cert={credentials}/ca.crt"),
        format!("--tls-cert={credentials}/tls.crt"),
        format!("--tls-key={credentials}/tls.key"),
        format!("--token-file={credentials}/token"),
        // The workshop's --max-objects reaches the sandbox in its Pod too.
        "--max-objects=250".to_string(),
    ]);
    assert_eq!(container["args"], args);
    assert!(container["command"].is_null(), "the image's entrypoint (gitops-lab) runs: {container}");
    assert_eq!(container["ports"], json!([{"name": "https", "containerPort": 6443, "protocol": "TCP"}]));
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "50m", "memory": "48Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    let mounts = json!([
        {"name": "data", "mountPath": "/data"},
        {"name": "credentials", "mountPath": credentials, "readOnly": true},
    ]);
    assert_eq!(container["volumeMounts"], mounts);
    let volumes = json!([
        {"name": "data", "persistentVolumeClaim": {"claimName": "sandbox-learner-1"}},
        {"name": "credentials", "secret": {"secretName": "sandbox-learner-1", "defaultMode": 0o440}},
    ]);
    assert_eq!(spec["volumes"], volumes);
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
}

fn check_claim_and_service(claim: &Value, service: &Value) {
    check_labels(claim);
    assert_eq!(claim["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    check_labels(service);
    let selector = json!({"app.kubernetes.io/instance": "sandbox-learner-1", "gitops-lab.dev/learner": "learner-1"});
    assert_eq!(service["spec"]["selector"], selector);
    let port = &service["spec"]["ports"][0];
    assert_eq!((&port["name"], &port["port"], &port["targetPort"]), (&json!("https"), &json!(6443), &json!("https")));
}

/// A command of the learner's, answered 503 with the wait's learner-facing reason.
fn refused_command(workshop: &Workshop, token: &str) -> Value {
    let (status, answer) = workshop.json("POST", "/api/command", Some(token), Some(&json!({"type": "listExercises"})));
    assert_eq!(status, 503, "{answer}");
    answer["Err"]["message"].clone()
}

#[test]
fn a_learner_gets_a_secret_claim_pod_and_service_and_idle_stop_deletes_only_the_pod() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "class-a"]);
    let data = tempfile::tempdir().unwrap();
    let workshop = kubernetes_workshop(&sandbox, data.path(), "example.org/gitops-lab:7");
    let token = workshop.join("Ada");
    assert!(object(&sandbox, "pod").is_none(), "nothing is made before the learner's first use");

    // The sandbox cannot run the workshop image, so the Pod never becomes ready: the learner's
    // command is answered with why, in both languages, and nothing else is started.
    let message = refused_command(&workshop, &token);
    let en = message["en"].as_str().unwrap();
    assert!(en.starts_with("Your cluster (the Pod sandbox-learner-1) is not ready after 6 s: "), "{en}");
    eprintln!("the learner read: {en}");
    assert!(en.contains("try again in a minute"), "{en}");
    assert!(message["zh-CN"].as_str().unwrap().contains("仍未就绪"), "{message}");
    let secret = object(&sandbox, "secret").expect("a Secret");
    check_labels(&secret);
    check_secret(&secret);
    let first_pod = object(&sandbox, "pod").expect("a Pod");
    check_pod(&first_pod);
    let (claim, service) = (object(&sandbox, "pvc").expect("a claim"), object(&sandbox, "service").expect("a Service"));
    check_claim_and_service(&claim, &service);
    let all = sandbox.kubectl_ok(&["get", "secrets,pvc,pods,services", "-n", "class-a", "-o", "name"]);
    let mut all: Vec<&str> = all.lines().filter(|l| !l.contains("default-token")).collect();
    all.sort();
    let expected = [
        "persistentvolumeclaim/sandbox-learner-1",
        "pod/sandbox-learner-1",
        "secret/sandbox-learner-1",
        "service/sandbox-learner-1",
    ];
    assert_eq!(all, expected, "exactly the learner's four objects");
    // The engine's kubeconfig names the Service and trusts the Secret's CA.
    let kubeconfig = std::fs::read_to_string(data.path().join("learners/learner-1/cluster-kubeconfig")).unwrap();
    assert!(kubeconfig.contains("server: https://sandbox-learner-1.class-a.svc:6443"), "{kubeconfig}");
    assert!(kubeconfig.contains(secret["data"]["ca.crt"].as_str().unwrap()), "{kubeconfig}");

    // Idle: the Pod goes, the claim, Secret and Service stay.
    eventually_within("the idle learner's Pod deleted", Duration::from_secs(20), || {
        object(&sandbox, "pod").is_none().then_some(())
    });
    assert_eq!(object(&sandbox, "secret").unwrap()["metadata"]["uid"], secret["metadata"]["uid"]);
    assert_eq!(object(&sandbox, "pvc").unwrap()["metadata"]["uid"], claim["metadata"]["uid"]);
    assert!(object(&sandbox, "service").is_some());

    // The instructor's reset of the idle learner starts them as their own command would: the Pod
    // is made again, and the board reads why the reset cannot run yet.
    let reset = json!({"learner": "learner-1", "exercise": "2.1-nginx-pod"});
    let (status, answer) = workshop.json("POST", "/api/board/reset", Some(&workshop.instructor), Some(&reset));
    assert_eq!(status, 503, "{answer}");
    assert!(answer["message"]["en"].as_str().unwrap().contains("is not ready after 6 s"), "{answer}");

    // Back: the Pod is made again with the same Secret.
    let again = refused_command(&workshop, &token);
    eprintln!("back from idle, the learner read: {}", again["en"]);
    assert!(again["en"].as_str().unwrap().contains("is not ready after 6 s: Pod phase"), "{again}");
    let second_pod = object(&sandbox, "pod").expect("the Pod made again");
    check_pod(&second_pod);
    assert_ne!(second_pod["metadata"]["uid"], first_pod["metadata"]["uid"], "a new Pod");
    assert_eq!(object(&sandbox, "secret").unwrap()["data"], secret["data"]);
    // The workshop's end deletes the running Pod too, and keeps the rest.
    workshop.stop();
    assert!(object(&sandbox, "pod").is_none() && object(&sandbox, "pvc").is_some());
}

#[test]
fn a_cluster_the_workshop_cannot_reach_stops_its_start() {
    let data = tempfile::tempdir().unwrap();
    // A kubeconfig naming a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kubeconfig = data.path().join("kubeconfig");
    let ca = loopback_certificates().ca_pem;
    std::fs::write(&kubeconfig, gitops_sandbox::kubeconfig::render(&format!("https://{closed}"), &ca, "t")).unwrap();
    let out = Command::new(gitops_lab_e2e::gitops_lab_bin())
        .args(["workshop", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--sandboxes", "kubernetes", "--namespace", "no-such-class"])
        .env("KUBECONFIG", &kubeconfig)
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot list Pods in the namespace no-such-class"), "{stderr}");
}

#[test]
fn a_ready_pod_whose_api_cannot_be_reached_is_explained_to_the_learner() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    // nginx stands in for the lab's image (which the sandbox cannot run): it listens on port 80,
    // not on the sandbox's 6443, so its readiness probe would fail where the real one passes.
    let sandbox = Sandbox::start_with_env(&[("GITOPS_LAB_SANDBOX_PROBES", "off")]);
    sandbox.kubectl_ok(&["create", "namespace", "class-a"]);
    let data = tempfile::tempdir().unwrap();
    // nginx is an image the sandbox simulates, so the Pod becomes ready (probes off); the Service's
    // cluster DNS name does not resolve here, as when a cluster's DNS or a network policy is at fault.
    let workshop = kubernetes_workshop(&sandbox, data.path(), "nginx:1.27");
    let token = workshop.join("Grace");
    let message = refused_command(&workshop, &token);
    let en = message["en"].as_str().unwrap();
    eprintln!("the learner read: {en}");
    let expected = "Your cluster's Pod sandbox-learner-1 is running, but the workshop cannot reach its API at https://sandbox-learner-1.class-a.svc:6443: ";
    assert!(en.starts_with(expected), "{en}");
    assert!(
        message["zh-CN"].as_str().unwrap().contains("无法通过 https://sandbox-learner-1.class-a.svc:6443 访问"),
        "{message}"
    );
    workshop.stop();
}

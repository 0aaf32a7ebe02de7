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
//! claim and Secret kept, and the learner-facing message while their sandbox cannot be reached.
//! What it cannot cover: the sandbox does not run the Pod's real process (the workshop image is
//! not one it simulates) and the Service's DNS name does not resolve outside a cluster, so the
//! learner's engine never connects here; that path is the sandbox-side test above plus a real
//! cluster (docs/workshop.md says how to try it).

use gitops_lab_e2e::{Sandbox, announced, kubectl_path, text};
use gitops_sandbox_core::pki::Certificates;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

//! What a kubectl user finds in the system namespaces of a fresh sandbox, with the real kubectl:
//! minikube's ConfigMaps, ServiceAccounts and Leases, the node's renewed Lease, and `kube-root-ca.crt`
//! in a namespace created later.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::squashed_lines;
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

/// The first column of each row of a table kubectl printed.
fn names(table: &str) -> Vec<String> {
    squashed_lines(table).iter().skip(1).filter_map(|l| l.split(' ').next().map(str::to_string)).collect()
}

#[test]
fn kube_system_holds_minikubes_config_maps_service_accounts_and_leases() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let cms = names(&sb.kubectl_ok(&["get", "cm", "-n", "kube-system"]));
    for want in [
        "coredns",
        "extension-apiserver-authentication",
        "kube-proxy",
        "kube-root-ca.crt",
        "kubeadm-config",
        "kubelet-config",
    ] {
        assert!(cms.iter().any(|n| n == want), "{want} missing from {cms:?}");
    }
    let sas = names(&sb.kubectl_ok(&["get", "sa", "-n", "kube-system"]));
    for want in ["coredns", "default", "kube-proxy", "storage-provisioner"] {
        assert!(sas.iter().any(|n| n == want), "{want} missing from {sas:?}");
    }
    let leases = squashed_lines(&sb.kubectl_ok(&["get", "lease", "-n", "kube-system"]));
    assert_eq!(leases[0], "NAME HOLDER AGE");
    assert!(leases.iter().any(|l| l.starts_with("kube-scheduler sandbox_")), "{leases:?}");
    assert!(leases.iter().any(|l| l.starts_with("kube-controller-manager sandbox_")), "{leases:?}");
    // cluster-info carries this sandbox's CA, the one kube-root-ca.crt publishes.
    let info = sb.kubectl_ok(&["get", "cm", "cluster-info", "-n", "kube-public", "-o", "jsonpath={.data.kubeconfig}"]);
    let root = sb.kubectl_ok(&["get", "cm", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"]);
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, root.as_bytes());
    assert!(info.contains(&format!("certificate-authority-data: {encoded}")), "{info}");
    // Nothing of it shows in the learner's namespace.
    assert_eq!(names(&sb.kubectl_ok(&["get", "cm"])), ["kube-root-ca.crt"]);
}

#[test]
fn the_node_has_its_lease_and_a_new_namespace_gets_the_root_ca() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let deadline = Instant::now() + Duration::from_secs(20);
    let lease = loop {
        let out = sb.kubectl(&[
            "get",
            "lease",
            "sandbox",
            "-n",
            "kube-node-lease",
            "-o",
            "jsonpath={.spec.holderIdentity} {.spec.leaseDurationSeconds} {.metadata.ownerReferences[0].kind}",
        ]);
        if out.status.success() || Instant::now() > deadline {
            break text(&out.stdout);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(lease, "sandbox 40 Node");
    sb.kubectl_ok(&["create", "namespace", "team"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = sb.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "team"]);
        if out.status.success() {
            assert_eq!(names(&text(&out.stdout)), ["kube-root-ca.crt"]);
            break;
        }
        assert!(Instant::now() < deadline, "no kube-root-ca.crt in team: {}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(200));
    }
}

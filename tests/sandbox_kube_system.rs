//! What a kubectl user finds in the system namespaces of a fresh sandbox, with the real kubectl:
//! minikube's ConfigMaps, ServiceAccounts and Leases, the node's renewed Lease, `kube-root-ca.crt`
//! in a namespace created later, and minikube's kube-system pods (CoreDNS behind kube-dns, kube-proxy,
//! the storage provisioner, the control plane's static pods and their mirror pods).

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::squashed_lines;
use gitops_lab_e2e::{Sandbox, eventually_within, kubectl_available, text};

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
    // kube-root-ca.crt comes from the namespace controller, a moment after the start.
    let cms = eventually_within("kube-system's ConfigMaps", Duration::from_secs(20), || {
        let cms = names(&sb.kubectl_ok(&["get", "cm", "-n", "kube-system"]));
        cms.iter().any(|n| n == "kube-root-ca.crt").then_some(cms)
    });
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
    let default = eventually_within("default's root CA", Duration::from_secs(20), || {
        let cms = names(&sb.kubectl_ok(&["get", "cm"]));
        (!cms.is_empty()).then_some(cms)
    });
    assert_eq!(default, ["kube-root-ca.crt"]);
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

/// The kube-system pods a fresh minikube (Kubernetes 1.32) runs, with the sandbox's node name.
const SYSTEM_PODS: [&str; 7] = [
    "coredns-",
    "etcd-sandbox",
    "kube-apiserver-sandbox",
    "kube-controller-manager-sandbox",
    "kube-proxy-",
    "kube-scheduler-sandbox",
    "storage-provisioner",
];

#[test]
fn kube_system_runs_minikubes_pods_which_turn_ready_and_come_back() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // The static pods' startup probes wait 10 s, as kubeadm's manifests say: then all are 1/1.
    let rows = eventually_within("every kube-system pod Running and Ready", Duration::from_secs(60), || {
        let rows = squashed_lines(&sb.kubectl_ok(&["get", "pods", "-n", "kube-system"]));
        let ready = rows.len() == SYSTEM_PODS.len() + 1 && rows.iter().skip(1).all(|r| r.contains(" 1/1 Running 0 "));
        ready.then_some(rows)
    });
    for (row, want) in rows.iter().skip(1).zip(SYSTEM_PODS) {
        assert!(row.starts_with(want), "{row} is not {want}…");
    }
    // Their images were on the node already, as minikube's preload puts them there.
    let events =
        sb.kubectl_ok(&["get", "events", "-n", "kube-system", "--field-selector", "involvedObject.name=etcd-sandbox"]);
    assert!(
        events.contains("Container image \"registry.k8s.io/etcd:3.5.16-0\" already present on machine"),
        "{events}"
    );
    // The mirror pods share the node's address and carry their priority class's value.
    let api = sb.kubectl_ok(&[
        "get",
        "pod",
        "kube-apiserver-sandbox",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.status.podIP} {.spec.priority} {.metadata.ownerReferences[0].kind} {.metadata.annotations.kubernetes\\.io/config\\.source} [{.spec.serviceAccountName}]",
    ]);
    assert_eq!(api, "192.168.49.2 2000001000 Node file []");
    // kube-dns's endpoints are the CoreDNS pod's address, on its DNS and metrics ports.
    let coredns_ip = sb.kubectl_ok(&[
        "get",
        "pods",
        "-n",
        "kube-system",
        "-l",
        "k8s-app=kube-dns",
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ]);
    assert!(coredns_ip.starts_with("10.244."), "{coredns_ip}");
    let endpoints = squashed_lines(&sb.kubectl_ok(&["get", "endpoints", "kube-dns", "-n", "kube-system"]));
    assert!(
        endpoints[1].starts_with(&format!("kube-dns {coredns_ip}:53,{coredns_ip}:53,{coredns_ip}:9153 ")),
        "{endpoints:?}"
    );
    // Their logs are the programs' start-up logs.
    assert!(sb.kubectl_ok(&["logs", "-n", "kube-system", "deploy/coredns"]).contains("CoreDNS-1.11.3"));
    let etcd = sb.kubectl_ok(&["logs", "-n", "kube-system", "etcd-sandbox"]);
    assert!(etcd.contains("\"msg\":\"ready to serve client requests\""), "{etcd}");
    let scheduler = sb.kubectl_ok(&["logs", "-n", "kube-system", "kube-scheduler-sandbox"]);
    assert!(
        scheduler.lines().any(|l| l.starts_with('I') && l.contains("Serving securely on 127.0.0.1:10259")),
        "{scheduler}"
    );
    // Distroless images have no shell.
    let exec = sb.kubectl(&["exec", "-n", "kube-system", "etcd-sandbox", "--", "sh", "-c", "true"]);
    assert!(!exec.status.success());
    // etcd's health endpoint answers on the node's address, from a pod.
    let health = sb.kubectl_ok(&[
        "run",
        "probe",
        "--rm",
        "-i",
        "--restart=Never",
        "--image=busybox",
        "--",
        "wget",
        "-qO-",
        "http://192.168.49.2:2381/health",
    ]);
    assert!(health.contains("{\"health\":\"true\",\"reason\":\"\"}"), "{health}");
    // A deleted mirror pod is created again by the kubelet, as a new object.
    let uid = |sb: &Sandbox| {
        sb.kubectl(&["get", "pod", "etcd-sandbox", "-n", "kube-system", "-o", "jsonpath={.metadata.uid}"])
    };
    let before = text(&uid(&sb).stdout);
    sb.kubectl_ok(&["delete", "pod", "etcd-sandbox", "-n", "kube-system", "--wait=false"]);
    eventually_within("the mirror pod created again", Duration::from_secs(30), || {
        let out = uid(&sb);
        (out.status.success() && !text(&out.stdout).is_empty() && text(&out.stdout) != before).then_some(())
    });
    // A pod naming a PriorityClass that does not exist is refused, as upstream's admission does.
    let refused =
        sb.kubectl(&["run", "vip", "--image=nginx", "--overrides={\"spec\":{\"priorityClassName\":\"gold\"}}"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("no PriorityClass with name gold was found"), "{}", text(&refused.stderr));
}

#[test]
fn componentstatuses_are_healthy_deprecated_and_read_only() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let out = sb.kubectl(&["get", "componentstatuses"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Warning: v1 ComponentStatus is deprecated in v1.19+"), "{}", text(&out.stderr));
    let rows = squashed_lines(&text(&out.stdout));
    assert_eq!(
        rows,
        ["NAME STATUS MESSAGE ERROR", "controller-manager Healthy ok", "etcd-0 Healthy ok", "scheduler Healthy ok"]
    );
    let refused = sb.kubectl(&["delete", "cs", "scheduler"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("MethodNotAllowed"), "{}", text(&refused.stderr));
    assert_eq!(names(&sb.kubectl_ok(&["get", "cs"])).len(), 3, "still there");
}

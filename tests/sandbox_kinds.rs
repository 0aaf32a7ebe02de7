//! The kinds after chapter 2 through the real kubectl: discovered by their short names, stored
//! with defaults, printed with upstream's columns; `kubectl autoscale` works, the default
//! StorageClass provisions and binds claims, a fresh cluster's PriorityClasses are there, and an
//! Ingress, a claim or a probe with a value upstream refuses is refused with upstream's field path.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{assert_has_row, assert_table, get_json, row_matches};
use gitops_lab_e2e::{Sandbox, eventually, kubectl_available};

const MANIFESTS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: busybox, command: [sleep, "3600"]}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
  - host: web.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: small}
spec: {hard: {pods: "10", limits.cpu: "2"}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec: {limits: [{type: Container, default: {cpu: 500m}}]}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader}
spec: {holderIdentity: me}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: old}
spec:
  template:
    metadata: {labels: {app: old}}
    spec: {containers: [{name: nginx, image: nginx}]}
"#;

#[test]
fn every_new_kind_is_served_stored_and_printed() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("kinds.yaml");
    std::fs::write(&file, MANIFESTS).expect("manifest written");
    sb.kubectl_ok(&["apply", "-f", file.to_str().unwrap_or_default()]);
    let all = "hpa,sts,ds,pvc,pv,sc,ing,pdb,quota,limits,pc,rc,podtemplates,leases,crd,ep,endpointslices,netpol,ingressclasses";
    sb.kubectl_ok(&["get", all, "-A"]);
    // Their controllers run them (tests/sandbox_controllers2.rs): wait for the settled rows.
    settled_row(&sb, &["get", "sts"], "NAME READY AGE", "db 1/1 <age>");
    settled_row(
        &sb,
        &["get", "ds"],
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE",
        // busybox without a command ends at once and restarts, so its readiness comes and goes.
        "agent 1 1 <n> 1 <n> <none> <age>",
    );
    assert_table(
        &sb.kubectl_ok(&["get", "ing"]),
        "NAME CLASS HOSTS ADDRESS PORTS AGE",
        &["web <none> web.example 80 <age>"],
    );
    let pdb = sb.kubectl_ok(&["get", "pdb"]);
    assert_table(&pdb, "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE", &["web 1 N/A 0 <age>"]);
    assert_table(
        &sb.kubectl_ok(&["get", "quota"]),
        "NAME AGE REQUEST LIMIT",
        &["small <age> pods: 0/10 limits.cpu: 0/2"],
    );
    assert_table(&sb.kubectl_ok(&["get", "leases"]), "NAME HOLDER AGE", &["leader me <age>"]);
    let rc = get_json(&sb, &["get", "rc", "old"]);
    assert_eq!(rc["spec"]["selector"]["app"], "old", "the selector defaults to the template's labels");
    assert_eq!(rc["spec"]["replicas"], 1);
    let sts = get_json(&sb, &["get", "sts", "db"]);
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
    let pc = sb.kubectl_ok(&["get", "pc"]);
    assert_has_row(&pc, "system-node-critical 2000001000 false <age> PreemptLowerPriority");
}

#[test]
fn kubectl_autoscale_makes_an_autoscaler() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx"]);
    let out = sb.kubectl_ok(&["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50"]);
    assert_eq!(out, "horizontalpodautoscaler.autoscaling/web autoscaled\n");
    // Its first sync saw 1 replica (below the minimum, so it scales to 2 without measuring; nginx
    // has no CPU request to measure against anyway).
    settled_row(
        &sb,
        &["get", "hpa"],
        "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
        "web Deployment/web cpu: <unknown>/50% 2 5 1 <age>",
    );
}

/// Waits until `kubectl ARGS` prints `header` and one row matching `row`.
fn settled_row(sb: &Sandbox, args: &[&str], header: &str, row: &str) {
    let table = eventually(&format!("the row {row:?}"), || {
        let table = sb.kubectl_ok(args);
        table.lines().nth(1).is_some_and(|line| row_matches(line, row)).then_some(table)
    });
    assert_table(&table, header, &[row]);
}

#[test]
fn the_default_storage_class_provisions_and_binds_a_claim() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let sc = sb.kubectl_ok(&["get", "sc"]);
    assert_table(
        &sc,
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
        &["standard (default) k8s.io/minikube-hostpath Delete Immediate false <age>"],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("pvc.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n\
         spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n",
    )
    .expect("manifest written");
    sb.kubectl_ok(&["apply", "-f", file.to_str().unwrap_or_default()]);
    let volume = eventually("the claim to be bound", || {
        let pvc = get_json(&sb, &["get", "pvc", "data"]);
        (pvc["status"]["phase"] == "Bound").then(|| pvc["spec"]["volumeName"].as_str().unwrap_or_default().to_string())
    });
    assert!(volume.starts_with("pvc-"), "{volume}");
    let pvc = sb.kubectl_ok(&["get", "pvc"]);
    assert_table(
        &pvc,
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
        &[&format!("data Bound {volume} 1Gi RWO standard <unset> <age>")],
    );
    let pv = sb.kubectl_ok(&["get", "pv"]);
    assert_has_row(&pv, &format!("{volume} 1Gi RWO Delete Bound default/data standard <unset> <age>"));
    sb.kubectl_ok(&["delete", "pvc", "data"]);
    eventually("the volume to be deleted", || {
        let pvs = get_json(&sb, &["get", "pv"]);
        pvs["items"].as_array().is_some_and(Vec::is_empty).then_some(())
    });
}

#[test]
fn newer_kinds_with_upstreams_typos_are_refused_and_nothing_is_stored() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "ingress",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad}\nspec:\n  rules:\n  - http:\n      \
             paths: [{path: /, pathType: Bogus, backend: {service: {name: web, port: {number: 80}}}}]\n",
            "The Ingress \"bad\" is invalid: spec.rules[0].http.paths[0].pathType: Unsupported value: \"Bogus\": \
             supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
        ),
        (
            "pvc",
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: bad}\n\
             spec: {accessModes: [ReadWriteSometimes], resources: {requests: {storage: 1Gi}}}\n",
            "The PersistentVolumeClaim \"bad\" is invalid: spec.accessModes: Unsupported value: \"ReadWriteSometimes\": \
             supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
        ),
        (
            "pod",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: web\n    image: nginx\n    \
             livenessProbe: {httpGet: {path: /, port: 99999}}\n",
            "The Pod \"bad\" is invalid: spec.containers[0].livenessProbe.httpGet.port: Invalid value: 99999: \
             must be between 1 and 65535, inclusive",
        ),
    ];
    for (resource, manifest, message) in cases {
        let file = dir.path().join(format!("{resource}.yaml"));
        std::fs::write(&file, manifest).expect("manifest written");
        let out = sb.kubectl(&["apply", "-f", file.to_str().unwrap_or_default()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(message), "{resource}: {stderr}");
        let get = sb.kubectl(&["get", resource, "bad"]);
        assert!(!get.status.success(), "a refused {resource} is not stored");
    }
}

#[test]
fn cluster_dns_has_its_service_where_pods_resolv_conf_points() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let services = sb.kubectl_ok(&["get", "svc", "-n", "kube-system"]);
    assert_table(
        &services,
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
        &["kube-dns ClusterIP 10.96.0.10 <none> 53/UDP,53/TCP,9153/TCP <age>"],
    );
    // A learner's own Service never gets the DNS address.
    sb.kubectl_ok(&["create", "service", "clusterip", "web", "--tcp=80:80"]);
    let web = get_json(&sb, &["get", "svc", "web"]);
    assert_ne!(web["spec"]["clusterIP"], "10.96.0.10");
}

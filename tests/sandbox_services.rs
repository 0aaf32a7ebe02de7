//! Services that reach pods, through the real kubectl: the endpoints controller keeps each
//! Service's Endpoints and EndpointSlices in step with the ready pods it selects (what `kubectl
//! describe svc` shows), and `kubectl apply --prune`, whose default list names Endpoints, works.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{assert_table, get_json};
use gitops_lab_e2e::{Sandbox, eventually, kubectl_available, text};

/// The ready addresses of the Endpoints `name`, sorted.
fn ready_ips(sb: &Sandbox, name: &str) -> Vec<String> {
    let ep = get_json(sb, &["get", "endpoints", name]);
    let mut ips: Vec<String> = ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect();
    ips.sort();
    ips
}

fn pod_ips(sb: &Sandbox, selector: &str) -> Vec<String> {
    let pods = get_json(sb, &["get", "pods", "-l", selector]);
    let mut ips: Vec<String> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect();
    ips.sort();
    ips
}

#[test]
fn an_exposed_deployment_has_endpoints_and_slices_of_its_ready_pods() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    sb.kubectl_ok(&["expose", "deployment", "web", "--port=80"]);
    let ips = eventually("two ready endpoints", || {
        let ips = ready_ips(&sb, "web");
        (ips.len() == 2 && ips == pod_ips(&sb, "app=web")).then_some(ips)
    });
    let ep = get_json(&sb, &["get", "ep", "web"]);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 80);
    assert_eq!(ep["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
    assert_eq!(ep["subsets"][0]["addresses"][0]["nodeName"], "sandbox");
    assert_eq!(ep["metadata"]["labels"]["app"], "web");
    let table = sb.kubectl_ok(&["get", "endpoints", "web"]);
    let cell = format!("{}:80,{}:80", ips[0], ips[1]);
    assert_table(&table, "NAME ENDPOINTS AGE", &[&format!("web {cell} <age>")]);

    let slices = get_json(&sb, &["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
    let slice = &slices["items"][0];
    assert_eq!(slices["items"].as_array().map(Vec::len), Some(1), "{slices:#}");
    assert!(slice["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("web-")), "{slice:#}");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
    let table = sb.kubectl_ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
    let name = slice["metadata"]["name"].as_str().unwrap_or_default();
    assert_table(
        &table,
        "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
        &[&format!("{name} IPv4 80 {},{} <age>", ips[0], ips[1])],
    );

    let described = sb.kubectl_ok(&["describe", "svc", "web"]);
    let line = described.lines().find(|l| l.starts_with("Endpoints:")).unwrap_or_default();
    assert!(line.contains(&format!("{}:80", ips[0])) && line.contains(&format!("{}:80", ips[1])), "{described}");

    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=0"]);
    eventually("no endpoints", || ready_ips(&sb, "web").is_empty().then_some(()));
    let table = sb.kubectl_ok(&["get", "ep", "web"]);
    assert_table(&table, "NAME ENDPOINTS AGE", &["web <none> <age>"]);
    sb.kubectl_ok(&["delete", "svc", "web"]);
    eventually("the Endpoints and slices to go", || {
        let gone = !sb.kubectl(&["get", "ep", "web"]).status.success();
        let slices = get_json(&sb, &["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]);
        (gone && slices["items"].as_array().is_some_and(Vec::is_empty)).then_some(())
    });
}

#[test]
fn named_target_ports_resolve_per_pod_and_selectorless_services_are_left_alone() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: named, labels: {app: named}}\n\
         spec: {containers: [{name: nginx, image: nginx, ports: [{name: web, containerPort: 80}]}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: named}\n\
         spec: {selector: {app: named}, ports: [{name: http, port: 8080, targetPort: web}]}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: outside}\nspec: {ports: [{port: 80}]}\n",
    )
    .expect("manifest written");
    sb.kubectl_ok(&["apply", "-f", manifest.to_str().unwrap_or_default()]);
    let ep = eventually("the named port resolved", || {
        let ep = get_json(&sb, &["get", "endpoints", "named"]);
        ep["subsets"][0]["addresses"].is_array().then_some(ep)
    });
    assert_eq!(ep["subsets"][0]["ports"][0], serde_json::json!({"name": "http", "port": 80, "protocol": "TCP"}));
    let missing = sb.kubectl(&["get", "endpoints", "outside"]);
    assert!(!missing.status.success(), "a Service without a selector gets no Endpoints from the controller");
    assert!(text(&missing.stderr).contains("endpoints \"outside\" not found"), "{}", text(&missing.stderr));
    let kubernetes = get_json(&sb, &["get", "endpoints", "kubernetes"]);
    assert_eq!(kubernetes["subsets"][0]["ports"][0]["port"], 8443, "{kubernetes:#}");
}

/// Writes each `(file, manifest)` into a fresh directory.
fn manifests(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).expect("manifest written");
    }
    dir
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {{app: x}}}}\ndata: {{k: v}}\n")
}

#[test]
fn apply_prune_by_label_and_all_and_diff_prune_work() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = manifests(&[("a.yaml", &config_map("a")), ("b.yaml", &config_map("b"))]);
    let path = dir.path().to_str().unwrap_or_default().to_string();
    sb.kubectl_ok(&["apply", "--prune", "-l", "app=x", "-f", &path]);
    std::fs::remove_file(dir.path().join("b.yaml")).expect("file removed");
    let diff = sb.kubectl(&["diff", "--prune", "-l", "app=x", "-f", &path]);
    assert_eq!(diff.status.code(), Some(1), "diff --prune shows the deletion: {}", text(&diff.stderr));
    assert!(text(&diff.stdout).contains("-  name: b"), "{}", text(&diff.stdout));
    let out = sb.kubectl_ok(&["apply", "--prune", "-l", "app=x", "-f", &path]);
    assert!(out.contains("configmap/a unchanged") && out.contains("configmap/b pruned"), "{out}");
    let out = sb.kubectl_ok(&["apply", "--all", "--prune", "-f", &path]);
    assert!(out.contains("configmap/a unchanged"), "{out}");
    let left = get_json(&sb, &["get", "configmaps", "-l", "app=x"]);
    let names: Vec<&str> =
        left["items"].as_array().into_iter().flatten().filter_map(|c| c["metadata"]["name"].as_str()).collect();
    assert_eq!(names, ["a"]);
    let all_kinds = get_json(&sb, &["get", "ep,pvc,rc,ing,ds,sts,pv", "-A"]);
    assert!(all_kinds["items"].is_array(), "every kind of kubectl's default prune list is served");
}

//! Field management and server-side apply with the real kubectl and kube-rs: `managedFields` naming
//! each writer (shown with `--show-managed-fields`), `apply --server-side` creating, updating,
//! removing a dropped field, conflicting and forcing, the upgrade from client-side apply,
//! `diff --server-side`, and a custom resource's map list merged item by item by its schema's keys.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{failed_with, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};
use gitops_sandbox::server::InProcess;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::path::PathBuf;

/// A Deployment manifest with `replicas` and, when given, a `tier` label on the Deployment.
fn deployment(replicas: u32, tier: Option<&str>) -> String {
    let tier = tier.map(|t| format!("\n    tier: {t}")).unwrap_or_default();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web{tier}\nspec:\n  \
         replicas: {replicas}\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      \
         labels:\n        app: web\n    spec:\n      containers:\n      - name: nginx\n        image: nginx\n"
    )
}

/// Writes a manifest into a fresh temporary directory and returns its path (the directory lives
/// as long as the returned guard).
fn manifest(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("web.yaml");
    std::fs::write(&path, text).expect("the manifest is written");
    (dir, path)
}

/// The deployment as JSON, with its managedFields.
fn web(sb: &Sandbox) -> Value {
    get_json(sb, &["get", "deployment", "web", "--show-managed-fields"])
}

/// The entries of `managedFields` as (manager, operation, subresource).
fn managers(obj: &Value) -> Vec<(String, String, String)> {
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    entries.iter().map(|e| (text(e, "manager"), text(e, "operation"), text(e, "subresource"))).collect()
}

/// The FieldsV1 of one manager's entry.
fn fields_of(obj: &Value, manager: &str) -> Value {
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let entry = entries.iter().find(|e| e["manager"] == manager);
    entry.map(|e| e["fieldsV1"].clone()).unwrap_or_else(|| panic!("no entry of {manager} in {entries:#?}"))
}

fn has(managers: &[(String, String, String)], manager: &str, operation: &str, subresource: &str) -> bool {
    managers.iter().any(|(m, o, s)| m == manager && o == operation && s == subresource)
}

#[test]
fn show_managed_fields_names_each_writer() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx"]);
    let plain = sb.kubectl_ok(&["get", "deployment", "web", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"), "kubectl hides managedFields by default:\n{plain}");
    let created = web(&sb);
    assert!(has(&managers(&created), "kubectl-create", "Update", ""), "{:?}", managers(&created));
    let create_fields = fields_of(&created, "kubectl-create");
    assert_eq!(create_fields["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    assert_eq!(create_fields["f:spec"]["f:replicas"], json!({}));
    let containers = &create_fields["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert_eq!(containers["k:{\"name\":\"nginx\"}"]["f:image"], json!({}), "{containers}");

    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=3"]);
    sb.kubectl_ok(&["label", "deployment", "web", "tier=front"]);
    sb.kubectl_ok(&["annotate", "deployment", "web", "owner=team"]);
    sb.kubectl_ok(&["patch", "deployment", "web", "-p", r#"{"spec":{"minReadySeconds":5}}"#]);
    let changed = web(&sb);
    let all = managers(&changed);
    assert!(has(&all, "kubectl", "Update", "scale"), "kubectl scale writes through the scale subresource: {all:?}");
    assert_eq!(fields_of(&changed, "kubectl-label"), json!({"f:metadata": {"f:labels": {"f:tier": {}}}}));
    // The map itself belongs to the deployment controller, which wrote the revision annotation first.
    assert_eq!(fields_of(&changed, "kubectl-annotate"), json!({"f:metadata": {"f:annotations": {"f:owner": {}}}}));
    assert_eq!(fields_of(&changed, "kubectl-patch"), json!({"f:spec": {"f:minReadySeconds": {}}}));
    assert!(
        fields_of(&changed, "kubectl-create")["f:spec"].get("f:replicas").is_none(),
        "scaling took .spec.replicas from kubectl-create"
    );
    // The deployment controller reports through the status subresource under its own name.
    gitops_lab_e2e::eventually("the controller's status entry", || {
        has(&managers(&web(&sb)), "kube-controller-manager", "Update", "status").then_some(())
    });
}

#[test]
fn server_side_apply_creates_updates_removes_and_conflicts() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let (_dir, path) = manifest(&deployment(2, Some("front")));
    let file = path.to_str().expect("a UTF-8 path");
    let out = sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    assert_eq!(out, "deployment.apps/web serverside-applied\n");
    let created = web(&sb);
    assert_eq!(managers(&created)[0], ("kubectl".into(), "Apply".into(), String::new()));
    assert_eq!(fields_of(&created, "kubectl")["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}, "f:tier": {}}));

    // Dropping the label from the configuration removes it from the object.
    std::fs::write(&path, deployment(2, None)).expect("the manifest is rewritten");
    sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    let dropped = web(&sb);
    assert_eq!(dropped["metadata"]["labels"], json!({"app": "web"}));

    // Another manager changing a field kubectl owns conflicts and changes nothing.
    std::fs::write(&path, deployment(5, None)).expect("the manifest is rewritten");
    let before = web(&sb)["metadata"]["resourceVersion"].clone();
    let refused = sb.kubectl(&["apply", "--server-side", "--field-manager=other", "-f", file]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas\n"),
        "{stderr}"
    );
    let after = web(&sb);
    assert_eq!((after["spec"]["replicas"].clone(), after["metadata"]["resourceVersion"].clone()), (json!(2), before));

    // Forcing takes the field over.
    sb.kubectl_ok(&["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", file]);
    let forced = web(&sb);
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(fields_of(&forced, "kubectl")["f:spec"].get("f:replicas").is_none(), "kubectl lost .spec.replicas");
    assert_eq!(fields_of(&forced, "other")["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn another_manager_over_client_side_apply_conflicts_and_kubectl_takes_the_fields_over() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let (_dir, path) = manifest(&deployment(2, Some("front")));
    let file = path.to_str().expect("a UTF-8 path");
    sb.kubectl_ok(&["apply", "-f", file]);
    assert!(has(&managers(&web(&sb)), "kubectl-client-side-apply", "Update", ""));

    // A manager of its own opts out of kubectl's upgrade: client-side apply owns the label. (A label,
    // not .spec.replicas: scaling sets the controller writing the Deployment's status for a moment,
    // and kubectl's move of the fields below, guarded by resourceVersion, would lose that race on an
    // instant sandbox as it can on a real cluster.)
    std::fs::write(&path, deployment(2, Some("back"))).expect("the manifest is rewritten");
    let refused = sb.kubectl(&["apply", "--server-side", "--field-manager=other", "-f", file]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: \
             .metadata.labels.tier\n"
        ),
        "{stderr}"
    );
    assert_eq!(web(&sb)["metadata"]["labels"]["tier"], "front", "a refused apply changes nothing");

    // As upstream, the manager `kubectl` takes the fields still holding what the last-applied
    // annotation records without conflict (kubectl then moves the rest to that manager).
    sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    let taken = web(&sb);
    assert_eq!(taken["metadata"]["labels"]["tier"], "back");
    assert!(!managers(&taken).iter().any(|m| m.0 == "kubectl-client-side-apply"), "{:?}", managers(&taken));

    // From then on, another manager conflicts with kubectl's apply (an Apply owner prints no version).
    std::fs::write(&path, deployment(6, Some("back"))).expect("the manifest is rewritten");
    let refused = sb.kubectl(&["apply", "--server-side", "--field-manager=second", "-f", file]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas\n"),
        "{stderr}"
    );
    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=3"]);
    let refused = sb.kubectl(&["apply", "--server-side", "--field-manager=second", "-f", file]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: \
             .spec.replicas\n"
        ),
        "{stderr}"
    );
    assert_eq!(web(&sb)["spec"]["replicas"], 3, "a refused apply changes nothing");
}

#[test]
fn client_side_apply_upgrades_to_server_side_apply() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let (_dir, path) = manifest(&deployment(2, Some("front")));
    let file = path.to_str().expect("a UTF-8 path");
    sb.kubectl_ok(&["apply", "-f", file]);

    // kubectl applies (the server lets the first server-side apply take what the last-applied
    // annotation names), moves client-side apply's fields to its own manager, and applies again.
    // (The replicas stay: a scale would set the controller writing status while kubectl moves the
    // fields, a move guarded by resourceVersion that can lose that race.)
    std::fs::write(&path, deployment(2, None)).expect("the manifest is rewritten");
    sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    let upgraded = web(&sb);
    let all = managers(&upgraded);
    assert!(has(&all, "kubectl", "Apply", "") && !all.iter().any(|m| m.0 == "kubectl-client-side-apply"), "{all:?}");
    assert_eq!(upgraded["metadata"]["labels"], json!({"app": "web"}), "the dropped label is removed");
    let last = upgraded["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("the annotation is kept");
    let last: Value = serde_json::from_str(last).expect("the annotation is JSON");
    assert_eq!(last["metadata"]["labels"], json!({"app": "web"}), "the annotation follows the server-side apply");
}

#[test]
fn diff_server_side_shows_the_change_and_changes_nothing() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let (_dir, path) = manifest(&deployment(2, None));
    let file = path.to_str().expect("a UTF-8 path");
    sb.kubectl_ok(&["apply", "--server-side", "-f", file]);
    std::fs::write(&path, deployment(4, None)).expect("the manifest is rewritten");
    let diff = sb.kubectl(&["diff", "--server-side", "-f", file]);
    assert_eq!(diff.status.code(), Some(1), "a difference: {}", text(&diff.stderr));
    let out = text(&diff.stdout);
    assert!(out.contains("-  replicas: 2") && out.contains("+  replicas: 4"), "{out}");
    assert_eq!(web(&sb)["spec"]["replicas"], 2);
}

/// A definition whose `spec.ports` is a map list keyed by `name` (`x-kubernetes-list-type: map`).
const GATEWAYS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gateways.lab.example.com
spec:
  group: lab.example.com
  scope: Namespaced
  names: {kind: Gateway, plural: gateways, singular: gateway}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
"#;

/// A Gateway `gw` with these `(name, port)` items in `spec.ports`.
fn gateway(ports: &[(&str, u32)]) -> String {
    let items: String = ports.iter().map(|(n, p)| format!("\n  - name: {n}\n    port: {p}")).collect();
    let ports = if items.is_empty() { " []".to_string() } else { items };
    format!("apiVersion: lab.example.com/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n  ports:{ports}\n")
}

#[test]
fn managers_of_a_custom_map_list_own_their_own_items() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let (_crd_dir, crd) = manifest(GATEWAYS);
    sb.kubectl_ok(&["apply", "-f", crd.to_str().expect("a UTF-8 path")]);
    let (_a_dir, a) = manifest(&gateway(&[("http", 80)]));
    let (_b_dir, b) = manifest(&gateway(&[("https", 443)]));
    let (a, b) = (a.to_str().expect("a UTF-8 path"), b.to_str().expect("a UTF-8 path"));
    let gw = || get_json(&sb, &["get", "gateway", "gw", "--show-managed-fields"]);

    let out = sb.kubectl_ok(&["apply", "--server-side", "--field-manager=a", "-f", a]);
    assert_eq!(out, "gateway.lab.example.com/gw serverside-applied\n");
    sb.kubectl_ok(&["apply", "--server-side", "--field-manager=b", "-f", b]);
    let both = gw();
    assert_eq!(both["spec"]["ports"], json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]));
    let item = json!({".": {}, "f:name": {}, "f:port": {}});
    assert_eq!(fields_of(&both, "a"), json!({"f:spec": {"f:ports": {"k:{\"name\":\"http\"}": item}}}));
    assert_eq!(fields_of(&both, "b"), json!({"f:spec": {"f:ports": {"k:{\"name\":\"https\"}": item}}}));
    let yaml = sb.kubectl_ok(&["get", "gateway", "gw", "-o", "yaml", "--show-managed-fields"]);
    assert!(yaml.contains("k:{\"name\":\"https\"}:"), "{yaml}");

    // A changing b's item conflicts on that item's field, and nothing changes.
    let (_c_dir, c) = manifest(&gateway(&[("http", 80), ("https", 8443)]));
    let refused = sb.kubectl(&["apply", "--server-side", "--field-manager=a", "-f", c.to_str().expect("a UTF-8 path")]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.starts_with(
            "error: Apply failed with 1 conflict: conflict with \"b\": .spec.ports[name=\"https\"].port\n"
        ),
        "{stderr}"
    );
    assert_eq!(gw()["spec"]["ports"], both["spec"]["ports"], "a refused apply changes nothing");

    // A dropping its item removes that item only.
    std::fs::write(a, gateway(&[])).expect("the manifest is rewritten");
    sb.kubectl_ok(&["apply", "--server-side", "--field-manager=a", "-f", a]);
    let left = gw();
    assert_eq!(left["spec"]["ports"], json!([{"name": "https", "port": 443}]));
    assert_eq!(fields_of(&left, "b"), json!({"f:spec": {"f:ports": {"k:{\"name\":\"https\"}": item}}}));

    // As upstream, a custom resource takes no strategic merge patch (kubectl's default type).
    let refused = sb.kubectl(&["patch", "gateway", "gw", "-p", r#"{"spec":{"ports":[]}}"#]);
    let stderr = failed_with(&refused, 1);
    assert!(
        stderr.contains(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        ),
        "{stderr}"
    );
    assert_eq!(gw()["spec"]["ports"], left["spec"]["ports"], "a refused patch changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_patch_apply_creates_conflicts_and_forces() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    let server = InProcess::start(&dir.path().join("data"), &kubeconfig).await.expect("the sandbox serves");
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a configuration");
    let api: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).expect("a client"), "default");
    let config_map = |value: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": value}});

    let created = api.patch("settings", &PatchParams::apply("operator"), &Patch::Apply(config_map("a"))).await;
    let created = created.expect("apply creates the object");
    let entries = created.metadata.managed_fields.expect("managedFields are set");
    assert_eq!((entries[0].manager.as_deref(), entries[0].operation.as_deref()), (Some("operator"), Some("Apply")));

    let conflict = api.patch("settings", &PatchParams::apply("other"), &Patch::Apply(config_map("b"))).await;
    match conflict {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.message, "Apply failed with 1 conflict: conflict with \"operator\": .data.mode");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let forced = api.patch("settings", &PatchParams::apply("other").force(), &Patch::Apply(config_map("b"))).await;
    assert_eq!(forced.expect("forcing succeeds").data.expect("data")["mode"], "b");
    server.stop().await.expect("the server stops");
}

//! The engine's apply against kubectl's: on the same sandbox, the lab (kube-rs) and the real
//! `/usr/bin/kubectl` take turns applying the chapter's manifests, and must print the same
//! created / unchanged / configured sequence and leave byte-identical last-applied annotations.

use gitops_lab::kubectl::{ApplyOptions, Kubectl, parse};
use gitops_lab_e2e::chapter::{Workdir, fixtures_dir};
use gitops_lab_e2e::{Sandbox, kubectl_available};
use serde_json::Value;

async fn lab(sandbox: &Sandbox, namespace: &str) -> Kubectl {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a config");
    Kubectl::from_client(kube::Client::try_from(config).expect("a client"), namespace.to_string())
}

/// The lab's `apply -f` of a file: stdout and stderr as kubectl would print them.
async fn lab_apply(kubectl: &Kubectl, path: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(path).expect("the manifest");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let manifests = parse(&name, &text).expect("the manifest parses");
    let (_, output) = kubectl.apply_all(&manifests, &ApplyOptions::default()).await;
    (output.stdout, output.stderr)
}

fn kubectl_apply(sandbox: &Sandbox, work: &Workdir, file: &str, namespace: &str) -> String {
    sandbox.kubectl_ok(&["apply", "-n", namespace, "-f", work.file(file).to_str().unwrap()])
}

fn live(sandbox: &Sandbox, kind: &str, name: &str, namespace: &str) -> Value {
    serde_json::from_str(&sandbox.kubectl_ok(&["get", kind, name, "-n", namespace, "-o", "json"])).unwrap()
}

fn last_applied(object: &Value) -> String {
    object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("the object carries a last-applied annotation")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lab_and_kubectl_take_turns_on_the_chapters_deployment_with_the_same_verdicts() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = Workdir::with_fixtures(&["declarative-deployment.yaml"]);
    let file = work.file("declarative-deployment.yaml");
    let lab = lab(&sandbox, "default").await;

    assert_eq!(lab_apply(&lab, &file).await.0, "deployment.apps/nginx-declarative created\n");
    assert_eq!(
        kubectl_apply(&sandbox, &work, "declarative-deployment.yaml", "default"),
        "deployment.apps/nginx-declarative unchanged\n"
    );

    work.edit("declarative-deployment.yaml", "organization: sales", "organization: marketing");
    assert_eq!(
        kubectl_apply(&sandbox, &work, "declarative-deployment.yaml", "default"),
        "deployment.apps/nginx-declarative configured\n"
    );
    assert_eq!(lab_apply(&lab, &file).await.0, "deployment.apps/nginx-declarative unchanged\n");

    // Removing replicas from the file: both sides agree that apply deletes it (the server defaults it to 1).
    work.edit("declarative-deployment.yaml", "  replicas: 3\n", "");
    assert_eq!(lab_apply(&lab, &file).await.0, "deployment.apps/nginx-declarative configured\n");
    assert_eq!(
        kubectl_apply(&sandbox, &work, "declarative-deployment.yaml", "default"),
        "deployment.apps/nginx-declarative unchanged\n"
    );
    assert_eq!(live(&sandbox, "deployment", "nginx-declarative", "default")["spec"]["replicas"], 1);

    // Scaled imperatively, never in the file: apply keeps it.
    sandbox.kubectl_ok(&["scale", "deployment/nginx-declarative", "--replicas=4"]);
    assert_eq!(lab_apply(&lab, &file).await.0, "deployment.apps/nginx-declarative unchanged\n");
    assert_eq!(live(&sandbox, "deployment", "nginx-declarative", "default")["spec"]["replicas"], 4);
}

/// The spec without what the server fills in differently for each object (generated volume names).
fn comparable_spec(object: &Value) -> String {
    let spec = serde_json::to_string(&object["spec"]).unwrap();
    let mut out = String::new();
    let mut rest = spec.as_str();
    while let Some(at) = rest.find("kube-api-access-") {
        out.push_str(&rest[..at + "kube-api-access-".len()]);
        rest = &rest[at + "kube-api-access-".len() + 5..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_annotation_the_object_and_every_verdict_match_whoever_applies_the_chapter_manifests() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "by-lab"]);
    sandbox.kubectl_ok(&["create", "namespace", "by-kctl"]);
    let work = Workdir::with_fixtures(&["nginx-pod.yaml", "declarative-deployment.yaml"]);
    let lab = lab(&sandbox, "by-lab").await;
    for (file, kind, name) in
        [("nginx-pod.yaml", "pod", "nginx"), ("declarative-deployment.yaml", "deployment", "nginx-declarative")]
    {
        // Three rounds each: the first creates, the next ones show what each side makes of its own object.
        for round in 0..3 {
            let (by_lab, _) = lab_apply(&lab, &work.file(file)).await;
            let by_kctl = kubectl_apply(&sandbox, &work, file, "by-kctl");
            assert_eq!(by_lab, by_kctl, "{file}, round {round}: the verdicts differ");
        }
        let by_lab = live(&sandbox, kind, name, "by-lab");
        let by_kctl = live(&sandbox, kind, name, "by-kctl");
        assert_eq!(
            last_applied(&by_lab).replace("\"namespace\":\"by-lab\"", "\"namespace\":\"by-kctl\""),
            last_applied(&by_kctl),
            "{file}: the annotations differ"
        );
        assert_eq!(comparable_spec(&by_lab), comparable_spec(&by_kctl), "{file}: the specs differ");
        // Crossing over: each side applies to the other's object, and agrees with the other's verdict.
        let (lab_on_kctl, _) = lab_apply(&lab_in(&lab, "by-kctl"), &work.file(file)).await;
        let kctl_on_lab = kubectl_apply(&sandbox, &work, file, "by-lab");
        assert_eq!(lab_on_kctl, kctl_on_lab, "{file}: crossing over");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn applying_over_an_object_made_with_create_warns_like_kubectl_and_adds_the_annotation() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = Workdir::with_fixtures(&["nginx-pod.yaml"]);
    sandbox.kubectl_ok(&["create", "-f", work.file("nginx-pod.yaml").to_str().unwrap()]);
    let lab = lab(&sandbox, "default").await;
    let (stdout, stderr) = lab_apply(&lab, &work.file("nginx-pod.yaml")).await;
    assert_eq!(stdout, "pod/nginx configured\n");
    assert!(
        stderr.starts_with(
            "Warning: resource pods/nginx is missing the kubectl.kubernetes.io/last-applied-configuration annotation"
        ),
        "{stderr}"
    );
    // From here on the lab and kubectl agree, whatever the pod's injected volumes make them say.
    let (by_lab, _) = lab_apply(&lab, &work.file("nginx-pod.yaml")).await;
    assert_eq!(kubectl_apply(&sandbox, &work, "nginx-pod.yaml", "default"), by_lab);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_document_file_applies_in_order_and_a_bad_object_does_not_stop_the_rest() {
    let sandbox = Sandbox::start();
    let lab = lab(&sandbox, "default").await;
    let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: team\nspec:\n  replicas: -1\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x, image: nginx}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata: {a: b}\n";
    let manifests = parse("team.yaml", text).unwrap();
    let (applied, output) = lab.apply_all(&manifests, &ApplyOptions::default()).await;
    assert_eq!(output.stdout, "namespace/team created\nconfigmap/settings created\n");
    assert!(
        output.stderr.starts_with("Error from server (Invalid): error when creating \"team.yaml\": "),
        "{}",
        output.stderr
    );
    assert!(output.stderr.contains("spec.replicas"), "{}", output.stderr);
    assert_eq!(applied.len(), 2);
    let error = output.error.expect("the failure is explained");
    assert_eq!(error.code, "invalid");
    assert!(fixtures_dir().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_kind_is_refused_with_kubectls_no_matches_message() {
    let sandbox = Sandbox::start();
    let lab = lab(&sandbox, "default").await;
    let manifests = parse("crd.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n").unwrap();
    let (applied, output) = lab.apply_all(&manifests, &ApplyOptions::default()).await;
    assert!(applied.is_empty());
    assert!(
        output.stderr.contains("no matches for kind \"Widget\" in version \"example.com/v1\""),
        "{}",
        output.stderr
    );
    assert_eq!(output.error.unwrap().code, "unknown-kind");
}

fn lab_in(lab: &Kubectl, namespace: &str) -> Kubectl {
    Kubectl::from_client(lab.client().clone(), namespace.to_string())
}

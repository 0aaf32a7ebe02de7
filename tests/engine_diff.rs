//! The engine's diff on the chapter's cases against a sandbox: the file-vs-live diff shows what
//! `kubectl diff` shows, and the three-way view names the right outcome and reason per field.

use gitops_lab::diff::diff_manifests;
use gitops_lab::kubectl::{Kubectl, parse};
use gitops_lab::protocol::{DiffView, FieldOutcome, ObjectDiffState};
use gitops_lab_e2e::chapter::Workdir;
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

async fn lab(sandbox: &Sandbox) -> Kubectl {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a config");
    Kubectl::from_client(kube::Client::try_from(config).expect("a client"), "default".into())
}

async fn diff(lab: &Kubectl, work: &Workdir, file: &str) -> DiffView {
    let text = std::fs::read_to_string(work.file(file)).unwrap();
    let view = diff_manifests(lab, file, &parse(file, &text).unwrap()).await;
    // None of these cases should fail; when one does, say why rather than which field is missing.
    for object in &view.objects {
        assert!(object.error.is_none(), "the diff of {file} failed: {:#?}", object.error);
    }
    view
}

fn field<'a>(view: &'a DiffView, path: &str) -> &'a gitops_lab::protocol::FieldExplanation {
    view.objects[0]
        .fields
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} in {:#?}", view.objects[0].fields))
}

/// The changed lines of a unified diff, without the ones the lab hides (server metadata).
fn changes(unified: &str) -> Vec<String> {
    unified
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
        // The annotation's value (a JSON line under `last-applied-configuration: |`) is compared elsewhere.
        .filter(|l| {
            !l.contains("generation:")
                && !l.contains("last-applied-configuration")
                && !l[1..].trim_start().starts_with('{')
        })
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_annotation_shows_as_kubectl_diff_shows_it_and_is_overwritten() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = Workdir::with_fixtures(&["declarative-deployment.yaml"]);
    let lab = lab(&sandbox).await;
    let new = diff(&lab, &work, "declarative-deployment.yaml").await;
    assert_eq!(new.objects[0].state, ObjectDiffState::New);
    assert_eq!(field(&new, "spec.replicas").outcome, FieldOutcome::Add);

    sandbox.kubectl_ok(&["apply", "-f", work.file("declarative-deployment.yaml").to_str().unwrap()]);
    assert_eq!(diff(&lab, &work, "declarative-deployment.yaml").await.objects[0].state, ObjectDiffState::Unchanged);

    work.edit("declarative-deployment.yaml", "organization: sales", "organization: marketing");
    let view = diff(&lab, &work, "declarative-deployment.yaml").await;
    let object = &view.objects[0];
    assert_eq!(object.state, ObjectDiffState::Changed);
    let annotation = field(&view, "metadata.annotations.organization");
    assert_eq!(annotation.outcome, FieldOutcome::Overwrite);
    assert_eq!((annotation.live.as_deref(), annotation.file.as_deref()), (Some("sales"), Some("marketing")));
    assert_eq!(field(&view, "spec.replicas").outcome, FieldOutcome::Unchanged);
    let kubectl = sandbox.kubectl(&["diff", "-f", work.file("declarative-deployment.yaml").to_str().unwrap()]);
    assert_eq!(kubectl.status.code(), Some(1), "kubectl diff finds a difference");
    assert_eq!(changes(&object.unified), changes(&text(&kubectl.stdout)));
    assert!(object.patch.as_deref().unwrap().contains("marketing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_replicas_cases_of_the_chapter_are_explained() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = Workdir::with_fixtures(&["declarative-deployment.yaml"]);
    let lab = lab(&sandbox).await;
    sandbox.kubectl_ok(&["apply", "-f", work.file("declarative-deployment.yaml").to_str().unwrap()]);

    // Removed from the file but in last-applied: apply deletes it (and the server defaults it to 1).
    work.edit("declarative-deployment.yaml", "  replicas: 3\n", "");
    let view = diff(&lab, &work, "declarative-deployment.yaml").await;
    let replicas = field(&view, "spec.replicas");
    assert_eq!(replicas.outcome, FieldOutcome::Delete);
    assert_eq!(
        (replicas.last_applied.as_deref(), replicas.live.as_deref(), replicas.file.as_deref()),
        (Some("3"), Some("3"), None)
    );
    assert!(
        replicas.reason.en.contains("removed from the file") || replicas.reason.en.contains("Removed from the file")
    );
    assert!(view.objects[0].merged_yaml.contains("replicas: 1"), "{}", view.objects[0].merged_yaml);

    // Once applied, a later kubectl scale is never in the file: apply keeps it.
    sandbox.kubectl_ok(&["apply", "-f", work.file("declarative-deployment.yaml").to_str().unwrap()]);
    sandbox.kubectl_ok(&["scale", "deployment/nginx-declarative", "--replicas=5"]);
    let view = diff(&lab, &work, "declarative-deployment.yaml").await;
    assert_eq!(view.objects[0].state, ObjectDiffState::Unchanged);
    let replicas = field(&view, "spec.replicas");
    assert_eq!(replicas.outcome, FieldOutcome::Keep);
    assert!(replicas.reason.en.contains("kubectl scale") && replicas.reason.zh.contains("kubectl scale"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_made_with_create_has_no_annotation_and_apply_cannot_delete_its_fields() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = Workdir::with_fixtures(&["declarative-deployment.yaml"]);
    let lab = lab(&sandbox).await;
    sandbox.kubectl_ok(&["create", "-f", work.file("declarative-deployment.yaml").to_str().unwrap()]);
    work.edit("declarative-deployment.yaml", "  replicas: 3\n", "");
    let view = diff(&lab, &work, "declarative-deployment.yaml").await;
    let object = &view.objects[0];
    assert!(object.note.as_ref().unwrap().en.contains("no last-applied configuration"));
    assert!(object.last_applied_yaml.is_none());
    assert_eq!(field(&view, "spec.replicas").outcome, FieldOutcome::Keep);
}

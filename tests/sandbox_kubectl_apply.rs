//! Chapter 2.2 with the real kubectl against a running sandbox: the imperative script run twice, the
//! declarative Deployment applied, diffed and reconfigured, and apply's three-way merge.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{Workdir, assert_table, failed_with, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

const DEPLOY_HEADER: &str = "NAME READY UP-TO-DATE AVAILABLE AGE";
const FILE: &str = "declarative-deployment.yaml";

#[test]
fn the_imperative_script_succeeds_once_and_then_fails_on_what_already_exists() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["imperative-deployment.sh", "imperative-deployment-new.sh"]);

    let first = work.run_script(&sb, "imperative-deployment.sh");
    assert_eq!(text(&first.stderr), "", "the first run has no errors");
    assert_eq!(
        text(&first.stdout),
        "deployment.apps/nginx-imperative created\n\
         deployment.apps/nginx-imperative scaled\n\
         deployment.apps/nginx-imperative annotated\n\
         deployment.apps/nginx-imperative annotated\n"
    );

    let second = work.run_script(&sb, "imperative-deployment-new.sh");
    // `create deployment` wraps the server's AlreadyExists message in its own "failed to create" error, so
    // against any cluster kubectl 1.32 prints this line rather than the book's `Error from server (...)`.
    // kubectl 1.32 only refuses to overwrite an annotation whose value differs, so the unchanged
    // `environment=prod` is "annotated" again; only `organization` fails (the book's older kubectl failed both).
    assert_eq!(
        text(&second.stderr),
        "error: failed to create deployment: deployments.apps \"nginx-imperative\" already exists\n\
         error: --overwrite is false but found the following declared annotation(s): 'organization' already has a \
         value (sales)\n"
    );
    assert_eq!(
        text(&second.stdout),
        "deployment.apps/nginx-imperative scaled\n\
         deployment.apps/nginx-imperative annotated\n"
    );
    assert_eq!(second.status.code(), Some(1), "sh exits with the last command's status");

    let deploy = get_json(&sb, &["get", "deployment", "nginx-imperative"]);
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(deploy["metadata"]["annotations"]["environment"], "prod");
    assert_eq!(deploy["metadata"]["annotations"]["organization"], "sales", "the failed annotate changed nothing");
}

#[test]
fn get_deployments_shows_the_standard_and_wide_columns() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["imperative-deployment.sh"]);
    assert!(work.run_script(&sb, "imperative-deployment.sh").status.success());
    // Three replicas are wanted; how many are up yet is the controllers' business.
    assert_table(&sb.kubectl_ok(&["get", "deployments"]), DEPLOY_HEADER, &["nginx-imperative <n>/3 <n> <n> <age>"]);
    assert_table(
        &sb.kubectl_ok(&["get", "deployments", "-o", "wide"]),
        "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR",
        &["nginx-imperative <n>/3 <n> <n> <age> nginx nginx:latest app=nginx-imperative"],
    );
}

#[test]
fn overwrite_lets_the_rerun_change_the_annotation_and_both_deployments_list_by_name() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["imperative-deployment.sh", FILE]);
    assert!(work.run_script(&sb, "imperative-deployment.sh").status.success());
    let out = sb.kubectl_ok(&["annotate", "--overwrite", "deployment/nginx-imperative", "organization=marketing"]);
    assert_eq!(out, "deployment.apps/nginx-imperative annotated\n");
    let deploy = get_json(&sb, &["get", "deployment", "nginx-imperative"]);
    assert_eq!(deploy["metadata"]["annotations"]["organization"], "marketing");
    assert_eq!(deploy["metadata"]["labels"]["app"], "nginx-imperative", "create deployment labels it app=<name>");

    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative created\n");
    assert_table(
        &sb.kubectl_ok(&["get", "deployments"]),
        DEPLOY_HEADER,
        &["nginx-declarative <n>/3 <n> <n> <age>", "nginx-imperative <n>/3 <n> <n> <age>"],
    );
}

/// A sandbox with the declarative Deployment applied once (asserting `created`), and its folder.
fn sandbox_with_declarative_deployment() -> (Sandbox, Workdir) {
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&[FILE]);
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative created\n");
    (sb, work)
}

/// `kubectl apply -f declarative-deployment.yaml` in the work folder; must succeed; returns stdout.
fn apply(sb: &Sandbox, work: &Workdir) -> String {
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", FILE]);
    assert!(out.status.success(), "apply failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "apply warns about nothing");
    text(&out.stdout)
}

#[test]
fn applying_the_same_file_again_reports_unchanged_and_changes_nothing() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_declarative_deployment();
    let before = get_json(&sb, &["get", "deployment", "nginx-declarative"]);
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative unchanged\n");
    let after = get_json(&sb, &["get", "deployment", "nginx-declarative"]);
    // Controllers may update the status meanwhile; the spec and the recorded configuration stay as they were.
    assert_eq!(after["metadata"]["generation"], 1);
    assert_eq!(after["spec"], before["spec"]);
    let recorded = |o: &serde_json::Value| {
        o["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].clone()
    };
    assert_eq!(recorded(&after), recorded(&before));
    assert_table(&sb.kubectl_ok(&["get", "deployments"]), DEPLOY_HEADER, &["nginx-declarative <n>/3 <n> <n> <age>"]);
}

#[test]
fn the_live_deployment_carries_the_defaults_the_file_left_out() {
    if !kubectl_available() {
        return;
    }
    // Chapter 2.2.1: the live object holds far more than the file, which is why apply merges instead of
    // replacing.
    let (sb, _work) = sandbox_with_declarative_deployment();
    let yaml = sb.kubectl_ok(&["get", "deployment", "nginx-declarative", "-o=yaml"]);
    let lines: Vec<&str> = yaml.lines().map(str::trim).collect();
    for expected in [
        "kubectl.kubernetes.io/last-applied-configuration: |",
        "generation: 1",
        "progressDeadlineSeconds: 600",
        "revisionHistoryLimit: 10",
        "maxSurge: 25%",
        "maxUnavailable: 25%",
        "type: RollingUpdate",
        "imagePullPolicy: Always",
        "dnsPolicy: ClusterFirst",
        "restartPolicy: Always",
        "terminationGracePeriodSeconds: 30",
    ] {
        assert!(lines.contains(&expected), "expected {expected:?} in:\n{yaml}");
    }
    let live = get_json(&sb, &["get", "deployment", "nginx-declarative"]);
    let recorded = live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str();
    let recorded: serde_json::Value = serde_json::from_str(recorded.unwrap_or_default()).unwrap_or_default();
    assert_eq!(recorded["metadata"]["annotations"]["organization"], "sales");
    assert!(recorded["spec"].get("revisionHistoryLimit").is_none(), "only the file is recorded: {recorded}");
}

#[test]
fn diff_shows_the_edited_annotation_and_the_next_generation_before_apply_configures_it() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_declarative_deployment();
    work.edit(FILE, "organization: sales", "organization: marketing");

    let diff = sb.kubectl_in(Some(work.path()), &["diff", "-f", FILE]);
    assert_eq!(diff.status.code(), Some(1), "diff exits 1 when there are differences: {}", text(&diff.stderr));
    let out = text(&diff.stdout);
    let lines: Vec<&str> = out.lines().collect();
    for expected in ["-    organization: sales", "+    organization: marketing", "-  generation: 1", "+  generation: 2"]
    {
        assert!(lines.contains(&expected), "expected {expected:?} in:\n{out}");
    }
    // Besides these, only status lines a controller changed between kubectl's two reads could differ.
    let changed: Vec<&&str> =
        lines.iter().filter(|l| l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++")).collect();
    for line in &changed {
        assert!(
            !line.contains("last-applied-configuration") && !line.contains("image:"),
            "unexpected {line:?} in:\n{out}"
        );
    }
    let live = get_json(&sb, &["get", "deployment", "nginx-declarative"]);
    assert_eq!(live["metadata"]["annotations"]["organization"], "sales", "diff is a dry run");

    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative configured\n");
    let shown = sb.kubectl_ok(&[
        "get",
        "deployment",
        "nginx-declarative",
        "-o",
        "jsonpath={.metadata.annotations.organization} {.metadata.generation}",
    ]);
    assert_eq!(shown, "marketing 2");
    let after = sb.kubectl_in(Some(work.path()), &["diff", "-f", FILE]);
    assert_eq!(after.status.code(), Some(0), "no differences after apply:\n{}", text(&after.stdout));
}

#[test]
fn removing_replicas_from_the_file_resets_them_to_the_default_of_one() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_declarative_deployment();
    // Dropped from the file but present in last-applied-configuration: apply deletes the field.
    work.edit(FILE, "  replicas: 3\n", "");
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative configured\n");
    assert_eq!(replicas(&sb), "1");
    let live = get_json(&sb, &["get", "deployment", "nginx-declarative"]);
    let last_applied = live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    let recorded: serde_json::Value = serde_json::from_str(last_applied).unwrap_or_default();
    assert_eq!(recorded["spec"]["selector"]["matchLabels"]["app"], "nginx", "{last_applied}");
    assert!(recorded["spec"].get("replicas").is_none(), "the new file is recorded: {last_applied}");
}

#[test]
fn replicas_set_imperatively_survive_applying_a_file_that_never_declared_them() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_declarative_deployment();
    work.edit(FILE, "  replicas: 3\n", "");
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative configured\n");
    assert_eq!(
        sb.kubectl_ok(&["scale", "deployment/nginx-declarative", "--replicas", "4"]),
        "deployment.apps/nginx-declarative scaled\n"
    );
    assert_eq!(replicas(&sb), "4");
    // Neither the file nor last-applied-configuration mentions replicas, so the three-way merge leaves them.
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative unchanged\n");
    assert_eq!(replicas(&sb), "4");
}

#[test]
fn replicas_still_in_the_last_applied_configuration_are_reset_by_the_next_apply() {
    if !kubectl_available() {
        return;
    }
    // The chapter's warning: scaling by hand while the file still declares replicas is undone by apply.
    let (sb, work) = sandbox_with_declarative_deployment();
    sb.kubectl_ok(&["scale", "deployment/nginx-declarative", "--replicas", "5"]);
    assert_eq!(apply(&sb, &work), "deployment.apps/nginx-declarative configured\n");
    assert_eq!(replicas(&sb), "3");
}

fn replicas(sb: &Sandbox) -> String {
    sb.kubectl_ok(&["get", "deployment", "nginx-declarative", "-o", "jsonpath={.spec.replicas}"])
}

#[test]
fn create_deployment_against_an_existing_name_exits_1() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_declarative_deployment();
    let out = sb.kubectl(&["create", "deployment", "nginx-declarative", "--image=nginx:latest"]);
    assert_eq!(
        failed_with(&out, 1),
        "error: failed to create deployment: deployments.apps \"nginx-declarative\" already exists\n"
    );
}

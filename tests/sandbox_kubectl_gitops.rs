//! The chapter's basic GitOps operator (2.5.1) applied with the real kubectl as one multi-document file:
//! Namespace, ServiceAccount, ClusterRoleBinding and CronJob, listed, re-applied and deleted.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{Workdir, assert_has_line, assert_has_row, assert_table, failed_with, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

const FILE: &str = "gitops-operator.yaml";
const CRONJOB_HEADER: &str = "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE";

/// A sandbox with the operator file applied, after checking the four `created` lines in file order.
fn sandbox_with_operator() -> (Sandbox, Workdir) {
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&[FILE]);
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", FILE]);
    assert!(out.status.success(), "apply failed: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "namespace/gitops created\n\
         serviceaccount/gitops-serviceaccount created\n\
         clusterrolebinding.rbac.authorization.k8s.io/gitops-operator created\n\
         cronjob.batch/gitops-cron created\n"
    );
    (sb, work)
}

#[test]
fn applying_the_operator_file_again_reports_every_object_unchanged() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_operator();
    assert_eq!(
        text(&sb.kubectl_in(Some(work.path()), &["apply", "-f", FILE]).stdout),
        "namespace/gitops unchanged\n\
         serviceaccount/gitops-serviceaccount unchanged\n\
         clusterrolebinding.rbac.authorization.k8s.io/gitops-operator unchanged\n\
         cronjob.batch/gitops-cron unchanged\n"
    );
}

#[test]
fn the_cron_job_is_listed_with_its_five_minute_schedule() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_operator();
    // ACTIVE and LAST SCHEDULE change if a test happens to cross a five-minute mark.
    let row = "gitops-cron */5 * * * * <none> False <n> <any> <age>";
    assert_table(&sb.kubectl_ok(&["get", "cj", "-n", "gitops"]), CRONJOB_HEADER, &[row]);
    assert_table(&sb.kubectl_ok(&["get", "cronjobs", "--namespace", "gitops"]), CRONJOB_HEADER, &[row]);
    // `get all` names each row with its resource, as it does for several kinds at once.
    let all = sb.kubectl_ok(&["get", "all", "-n", "gitops"]);
    assert_has_line(&all, CRONJOB_HEADER);
    assert_has_row(&all, "cronjob.batch/gitops-cron */5 * * * * <none> False <n> <any> <age>");
    let cron = get_json(&sb, &["get", "cronjob", "gitops-cron", "-n", "gitops"]);
    assert_eq!(cron["spec"]["schedule"], "*/5 * * * *");
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(cron["spec"]["suspend"], false);
    assert_eq!(cron["spec"]["successfulJobsHistoryLimit"], 3);
    assert_eq!(cron["spec"]["failedJobsHistoryLimit"], 1);
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "gitops-serviceaccount");
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["containers"][0]["command"], serde_json::json!(["sh", "-e", "-c"]));
}

#[test]
fn the_service_account_and_its_cluster_admin_binding_are_listed_together() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_operator();
    let out = sb.kubectl_ok(&["get", "sa,clusterrolebinding", "-n", "gitops"]);
    assert_has_row(&out, "serviceaccount/gitops-serviceaccount 0 <age>");
    assert_has_row(
        &out,
        "clusterrolebinding.rbac.authorization.k8s.io/gitops-operator ClusterRole/cluster-admin <age>",
    );
    let wide = sb.kubectl_ok(&["get", "clusterrolebinding", "gitops-operator", "-o", "wide"]);
    assert_table(
        &wide,
        "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS",
        &["gitops-operator ClusterRole/cluster-admin <age> gitops/gitops-serviceaccount"],
    );
}

#[test]
fn deleting_the_namespace_removes_its_objects_but_not_the_cluster_scoped_binding() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_operator();
    assert_eq!(sb.kubectl_ok(&["delete", "namespace", "gitops"]), "namespace \"gitops\" deleted\n");
    let gone = sb.kubectl(&["get", "namespace", "gitops"]);
    assert_eq!(failed_with(&gone, 1), "Error from server (NotFound): namespaces \"gitops\" not found\n");
    let cj = sb.kubectl(&["get", "cronjobs", "-n", "gitops"]);
    assert!(cj.status.success());
    assert_eq!(text(&cj.stderr), "No resources found in gitops namespace.\n");
    let sa = sb.kubectl(&["get", "serviceaccount", "gitops-serviceaccount", "-n", "gitops"]);
    assert!(failed_with(&sa, 1).starts_with("Error from server (NotFound): "), "the ServiceAccount went too");
    sb.kubectl_ok(&["get", "clusterrolebinding", "gitops-operator"]);
}

#[test]
fn a_namespaced_object_whose_namespace_is_missing_is_not_created() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&[]);
    let manifest = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: lonely\n  namespace: nowhere\n";
    std::fs::write(work.file("lonely.yaml"), manifest).expect("a scratch manifest");
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", "lonely.yaml"]);
    assert_eq!(
        failed_with(&out, 1),
        "Error from server (NotFound): error when creating \"lonely.yaml\": namespaces \"nowhere\" not found\n"
    );
}

#[test]
fn getting_an_object_in_a_missing_namespace_says_the_namespace_is_missing() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // kubectl 1.32 answers a 404 by checking the namespace itself, as it does on a real cluster.
    let out = sb.kubectl(&["get", "pod", "web", "-n", "nowhere"]);
    assert_eq!(failed_with(&out, 1), "Error from server (NotFound): namespaces \"nowhere\" not found\n");
}

#[test]
fn deleting_the_operator_file_deletes_every_object_in_file_order() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_operator();
    let out = sb.kubectl_in(Some(work.path()), &["delete", "-f", FILE]);
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        text(&out.stdout),
        "namespace \"gitops\" deleted\n\
         serviceaccount \"gitops-serviceaccount\" deleted\n\
         clusterrolebinding.rbac.authorization.k8s.io \"gitops-operator\" deleted\n\
         cronjob.batch \"gitops-cron\" deleted\n"
    );
    assert!(out.status.success());
    // kubectl waited for every object to be gone, the namespace included.
    assert!(!sb.kubectl(&["get", "namespace", "gitops"]).status.success());
}

#[test]
fn the_same_operator_can_be_built_with_kubectls_create_generators() {
    if !kubectl_available() {
        return;
    }
    // These generators send protobuf bodies, unlike `apply -f`, which sends JSON.
    let sb = Sandbox::start();
    let steps: [(&[&str], &str); 4] = [
        (&["create", "namespace", "gitops"], "namespace/gitops created\n"),
        (
            &["create", "serviceaccount", "gitops-serviceaccount", "-n", "gitops"],
            "serviceaccount/gitops-serviceaccount created\n",
        ),
        (
            &[
                "create",
                "clusterrolebinding",
                "gitops-operator",
                "--clusterrole=cluster-admin",
                "--serviceaccount=gitops:gitops-serviceaccount",
            ],
            "clusterrolebinding.rbac.authorization.k8s.io/gitops-operator created\n",
        ),
        (
            &[
                "create",
                "cronjob",
                "gitops-cron",
                "-n",
                "gitops",
                "--image=alpine:3.20",
                "--schedule=*/5 * * * *",
                "--",
                "sh",
                "-c",
                "date",
            ],
            "cronjob.batch/gitops-cron created\n",
        ),
    ];
    for (args, printed) in steps {
        assert_eq!(sb.kubectl_ok(args), printed, "kubectl {args:?}");
    }
    assert_table(
        &sb.kubectl_ok(&["get", "cj", "-n", "gitops"]),
        CRONJOB_HEADER,
        &["gitops-cron */5 * * * * <none> False <n> <any> <age>"],
    );
    assert_table(
        &sb.kubectl_ok(&["get", "clusterrolebinding", "gitops-operator", "-o", "wide"]),
        "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS",
        &["gitops-operator ClusterRole/cluster-admin <age> gitops/gitops-serviceaccount"],
    );
    let cron = get_json(&sb, &["get", "cronjob", "gitops-cron", "-n", "gitops"]);
    let container = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["sh", "-c", "date"]));
    assert_eq!(container["image"], "alpine:3.20");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
}

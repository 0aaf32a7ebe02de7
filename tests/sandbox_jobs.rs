//! Jobs and CronJobs through the real kubectl: a CronJob from a file, `kubectl create job
//! --from=cronjob/…`, the sandbox's run-now annotation, suspension, schedules refused or never
//! firing, and (with the kubelet and the garbage collector) completion and cascading deletion.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::{Sandbox, eventually_within, kubectl_available, text};
use std::path::Path;
use std::time::Duration;

const CRONJOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "SCHEDULE"
  suspend: SUSPEND
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: hello
            image: busybox
            command: ["sh", "-c", "echo Hello from the CronJob"]
"#;

/// Writes the CronJob manifest with a schedule and suspension into `dir` and returns its path.
fn manifest(dir: &Path, schedule: &str, suspend: bool) -> String {
    let path = dir.join("cronjob.yaml");
    let body = CRONJOB.replace("SCHEDULE", schedule).replace("SUSPEND", if suspend { "true" } else { "false" });
    std::fs::write(&path, body).expect("the manifest is written");
    path.display().to_string()
}

fn job_names(sb: &Sandbox) -> Vec<String> {
    let list = get_json(sb, &["get", "jobs"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| j["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

fn start_with_cronjob(schedule: &str, suspend: bool) -> (Sandbox, tempfile::TempDir) {
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let out = sb.kubectl_ok(&["create", "-f", &manifest(dir.path(), schedule, suspend)]);
    assert_eq!(out, "cronjob.batch/hello created\n");
    (sb, dir)
}

#[test]
fn a_manual_job_from_a_cronjob_is_owned_by_it_and_runs_pods() {
    if !kubectl_available() {
        return;
    }
    let (sb, _dir) = start_with_cronjob("0 3 * * *", false);
    assert_eq!(sb.kubectl_ok(&["create", "job", "--from=cronjob/hello", "manual-1"]), "job.batch/manual-1 created\n");
    let job = get_json(&sb, &["get", "job", "manual-1"]);
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "hello");
    assert_eq!(job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    let pod = eventually_within("the Job's pod", Duration::from_secs(10), || {
        let names = sb.kubectl_ok(&["get", "pods", "-l", "job-name=manual-1", "-o", "name"]);
        names.lines().next().map(str::to_string)
    });
    assert!(pod.starts_with("pod/manual-1-"), "{pod}");
    let pod = get_json(&sb, &["get", &pod]);
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Job");
    assert_eq!(pod["metadata"]["labels"]["batch.kubernetes.io/job-name"], "manual-1");
    let described = sb.kubectl_ok(&["describe", "job", "manual-1"]);
    assert!(described.contains("SuccessfulCreate") && described.contains("Created pod: manual-1-"), "{described}");
    // A manual run is not one of the schedule's: no active entry, no last schedule time.
    let cronjob = get_json(&sb, &["get", "cronjob", "hello"]);
    assert!(cronjob["status"].get("active").is_none(), "{}", cronjob["status"]);
    assert!(cronjob["status"].get("lastScheduleTime").is_none(), "{}", cronjob["status"]);
}

#[test]
fn the_run_now_annotation_starts_one_job_per_value() {
    if !kubectl_available() {
        return;
    }
    let (sb, _dir) = start_with_cronjob("0 3 * * *", false);
    sb.kubectl_ok(&["annotate", "cronjob", "hello", "gitops-lab.dev/run-now=first"]);
    let name = eventually_within("a run-now Job", Duration::from_secs(10), || {
        job_names(&sb).into_iter().find(|n| n.starts_with("hello-now-"))
    });
    let handled = eventually_within("the handled mark", Duration::from_secs(5), || {
        let cronjob = get_json(&sb, &["get", "cronjob", "hello"]);
        cronjob["metadata"]["annotations"]["gitops-lab.dev/run-now-handled"].as_str().map(str::to_string)
    });
    assert_eq!(handled, "first");
    // Owned by the CronJob like a kubectl-made run (it may already have finished and left `status.active`).
    let job = get_json(&sb, &["get", "job", &name]);
    assert_eq!(job["metadata"]["ownerReferences"][0]["name"], "hello");
    assert_eq!(job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(job_names(&sb).len(), 1, "the same value starts no second Job");
    sb.kubectl_ok(&["annotate", "--overwrite", "cronjob", "hello", "gitops-lab.dev/run-now=second"]);
    eventually_within("a second run-now Job", Duration::from_secs(10), || (job_names(&sb).len() == 2).then_some(()));
}

#[test]
fn a_suspended_cronjob_schedules_nothing_until_resumed() {
    if !kubectl_available() {
        return;
    }
    let (sb, _dir) = start_with_cronjob("@every 2s", true);
    std::thread::sleep(Duration::from_secs(4));
    assert!(job_names(&sb).is_empty(), "a suspended CronJob started {:?}", job_names(&sb));
    sb.kubectl_ok(&["patch", "cronjob", "hello", "-p", r#"{"spec":{"suspend":false}}"#]);
    let name = eventually_within("a scheduled Job", Duration::from_secs(8), || job_names(&sb).into_iter().next());
    assert!(name.starts_with("hello-"), "{name}");
    let job = get_json(&sb, &["get", "job", &name]);
    assert!(job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].is_string());
    let table = sb.kubectl_ok(&["get", "cronjob", "hello"]);
    assert!(table.lines().nth(1).is_some_and(|row| row.contains(" False ")), "{table}");
}

#[test]
fn bad_schedules_are_refused_or_reported() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let out = sb.kubectl(&["create", "-f", &manifest(dir.path(), "61 * * * *", false)]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("spec.schedule: Invalid value: \"61 * * * *\""), "{err}");
    // 30 February parses but never comes: the controller says so in an event.
    sb.kubectl_ok(&["create", "-f", &manifest(dir.path(), "0 0 30 2 *", false)]);
    let events = eventually_within("an InvalidSchedule event", Duration::from_secs(10), || {
        let out = sb.kubectl_ok(&["get", "events", "--field-selector", "reason=InvalidSchedule"]);
        out.contains("invalid schedule: 0 0 30 2 *").then_some(out)
    });
    assert!(events.contains("Warning"), "{events}");
}

#[test]
fn a_manual_job_completes() {
    if !kubectl_available() {
        return;
    }
    let (sb, _dir) = start_with_cronjob("0 3 * * *", false);
    sb.kubectl_ok(&["create", "job", "--from=cronjob/hello", "manual-1"]);
    sb.kubectl_ok(&["wait", "--for=condition=complete", "job/manual-1", "--timeout=30s"]);
    let table = sb.kubectl_ok(&["get", "job", "manual-1"]);
    assert!(table.contains("Complete") && table.contains("1/1"), "{table}");
    let logs = sb.kubectl_ok(&["logs", "job/manual-1"]);
    assert_eq!(logs, "Hello from the CronJob\n");
}

#[test]
fn deleting_the_cronjob_deletes_its_jobs() {
    if !kubectl_available() {
        return;
    }
    let (sb, _dir) = start_with_cronjob("0 3 * * *", false);
    sb.kubectl_ok(&["create", "job", "--from=cronjob/hello", "manual-1"]);
    sb.kubectl_ok(&["delete", "cronjob", "hello"]);
    eventually_within("the Jobs to go", Duration::from_secs(10), || job_names(&sb).is_empty().then_some(()));
    eventually_within("the pods to go", Duration::from_secs(10), || {
        sb.kubectl_ok(&["get", "pods", "-l", "job-name=manual-1", "-o", "name"]).trim().is_empty().then_some(())
    });
}

//! Durability seen through the real kubectl: objects written before the sandbox stops (cleanly or by
//! SIGKILL) are served again after a restart on the same data directory, and resourceVersions keep growing.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{Workdir, assert_has_line, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available};

/// Writes a Pod (from the chapter's file), a Deployment and a ConfigMap; returns the Pod's and the ConfigMap's
/// uids and the ConfigMap's resourceVersion.
fn write_objects(sb: &Sandbox, work: &Workdir) -> (Uids, u64) {
    let created = sb.kubectl_in(Some(work.path()), &["create", "-f", "nginx-pod.yaml"]);
    assert!(created.status.success());
    let applied = sb.kubectl_in(Some(work.path()), &["apply", "-f", "declarative-deployment.yaml"]);
    assert!(applied.status.success());
    sb.kubectl_ok(&["create", "configmap", "settings", "--from-literal=colour=blue"]);
    let cm = get_json(sb, &["get", "configmap", "settings"]);
    let pod = get_json(sb, &["get", "pod", "nginx"]);
    (Uids { pod: text_of(&pod["metadata"]["uid"]), config_map: text_of(&cm["metadata"]["uid"]) }, resource_version(&cm))
}

/// The identities of objects written before a restart.
struct Uids {
    pod: String,
    config_map: String,
}

/// Checks that the objects from [`write_objects`] are back as the same objects (same uids).
fn assert_objects_back(sb: &Sandbox, uids: &Uids) {
    assert_has_line(&sb.kubectl_ok(&["get", "pods"]), "NAME READY STATUS RESTARTS AGE");
    let pod = get_json(sb, &["get", "pod", "nginx"]);
    assert_eq!(text_of(&pod["metadata"]["uid"]), uids.pod, "the same pod, not a new one");
    assert_eq!(pod["spec"]["initContainers"][0]["image"], "docker/whalesay");
    let deploy = get_json(sb, &["get", "deployment", "nginx-declarative"]);
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(deploy["metadata"]["annotations"]["organization"], "sales");
    let cm = get_json(sb, &["get", "configmap", "settings"]);
    assert_eq!(cm["data"]["colour"], "blue");
    assert_eq!(text_of(&cm["metadata"]["uid"]), uids.config_map, "the same config map, not a new one");
}

/// After the restart, one more write must get a resourceVersion above every one handed out before.
fn assert_versions_keep_growing(sb: &Sandbox, before: u64) {
    sb.kubectl_ok(&["patch", "configmap", "settings", "-p", r#"{"data":{"colour":"green"}}"#]);
    let after = resource_version(&get_json(sb, &["get", "configmap", "settings"]));
    assert!(after > before, "resourceVersion {after} after the restart is not above {before}");
}

#[test]
fn objects_survive_a_clean_stop_and_restart() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a data directory");
    let data = dir.path().join("data");
    let work = Workdir::with_fixtures(&["nginx-pod.yaml", "declarative-deployment.yaml"]);
    let sb = Sandbox::start_in(&data);
    let (uids, before) = write_objects(&sb, &work);
    assert!(sb.stop().success(), "the sandbox exits 0 on SIGTERM");

    let sb = Sandbox::start_in(&data);
    assert_objects_back(&sb, &uids);
    let again = sb.kubectl_in(Some(work.path()), &["apply", "-f", "declarative-deployment.yaml"]);
    assert_eq!(gitops_lab_e2e::text(&again.stdout), "deployment.apps/nginx-declarative unchanged\n");
    assert_versions_keep_growing(&sb, before);
}

#[test]
fn acknowledged_writes_survive_a_hard_kill() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a data directory");
    let data = dir.path().join("data");
    let work = Workdir::with_fixtures(&["nginx-pod.yaml", "declarative-deployment.yaml"]);
    let sb = Sandbox::start_in(&data);
    let (uids, before) = write_objects(&sb, &work);
    sb.kill_hard();

    let sb = Sandbox::start_in(&data);
    assert_objects_back(&sb, &uids);
    assert_versions_keep_growing(&sb, before);
}

#[test]
fn a_deleted_object_stays_deleted_after_a_restart() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a data directory");
    let data = dir.path().join("data");
    let work = Workdir::with_fixtures(&["nginx-pod.yaml", "declarative-deployment.yaml"]);
    let sb = Sandbox::start_in(&data);
    write_objects(&sb, &work);
    sb.kubectl_ok(&["delete", "configmap", "settings"]);
    sb.kill_hard();

    let sb = Sandbox::start_in(&data);
    assert!(!sb.kubectl(&["get", "configmap", "settings"]).status.success(), "the delete was kept");
    sb.kubectl_ok(&["get", "pod", "nginx"]);
}

fn text_of(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn resource_version(object: &serde_json::Value) -> u64 {
    let rv = text_of(&object["metadata"]["resourceVersion"]);
    rv.parse().unwrap_or_else(|_| panic!("resourceVersion {rv:?} is not a number"))
}

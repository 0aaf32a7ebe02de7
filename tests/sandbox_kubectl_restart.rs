//! Durability seen through the real kubectl: objects written before the sandbox stops (cleanly or by
//! SIGKILL) are served again after a restart on the same data directory, and resourceVersions keep growing.

use gitops_lab_e2e::chapter::{Workdir, assert_table, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available};

/// Writes a Pod (from the chapter's file), a Deployment and a ConfigMap; returns the ConfigMap's uid and
/// resourceVersion.
fn write_objects(sb: &Sandbox, work: &Workdir) -> (String, u64) {
    let created = sb.kubectl_in(Some(work.path()), &["create", "-f", "nginx-pod.yaml"]);
    assert!(created.status.success());
    let applied = sb.kubectl_in(Some(work.path()), &["apply", "-f", "declarative-deployment.yaml"]);
    assert!(applied.status.success());
    sb.kubectl_ok(&["create", "configmap", "settings", "--from-literal=colour=blue"]);
    let cm = get_json(sb, &["get", "configmap", "settings"]);
    (text_of(&cm["metadata"]["uid"]), resource_version(&cm))
}

/// Checks that the objects from [`write_objects`] are back, with the same ConfigMap uid.
fn assert_objects_back(sb: &Sandbox, uid: &str) {
    assert_table(&sb.kubectl_ok(&["get", "pods"]), "NAME READY STATUS RESTARTS AGE", &["nginx 0/1 Pending 0 <age>"]);
    let deploy = get_json(sb, &["get", "deployment", "nginx-declarative"]);
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(deploy["metadata"]["annotations"]["organization"], "sales");
    let cm = get_json(sb, &["get", "configmap", "settings"]);
    assert_eq!(cm["data"]["colour"], "blue");
    assert_eq!(text_of(&cm["metadata"]["uid"]), uid, "the same object, not a new one");
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
    let (uid, before) = write_objects(&sb, &work);
    assert!(sb.stop().success(), "the sandbox exits 0 on SIGTERM");

    let sb = Sandbox::start_in(&data);
    assert_objects_back(&sb, &uid);
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
    let (uid, before) = write_objects(&sb, &work);
    sb.kill_hard();

    let sb = Sandbox::start_in(&data);
    assert_objects_back(&sb, &uid);
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

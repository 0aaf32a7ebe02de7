//! `kubectl get --watch --output-watch-events` against a running sandbox: a ConfigMap's life seen as
//! ADDED, MODIFIED and DELETED lines while another kubectl changes it.

#![forbid(unsafe_code)]

use std::time::Duration;

use gitops_lab_e2e::chapter::{Watcher, row_matches, squash};
use gitops_lab_e2e::{Sandbox, kubectl_available};

const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn watching_config_maps_shows_added_modified_and_deleted_events() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let mut watch = Watcher::spawn(&sb, &["get", "configmaps", "--watch", "--output-watch-events"]);

    assert_eq!(
        sb.kubectl_ok(&["create", "configmap", "greeting", "--from-literal=text=hello"]),
        "configmap/greeting created\n"
    );
    // Whether it arrives in the initial list or as an event, the object shows up as ADDED; after that the
    // watch is open from the list's resourceVersion, so no later change can slip past it.
    let added = watch.wait_for("ADDED greeting", PATIENCE, |l| squash(l).starts_with("ADDED greeting "));
    assert!(row_matches(&added, "ADDED greeting 1 <age>"), "{added}");
    assert_eq!(squash(&watch.seen[0]), "EVENT NAME DATA AGE", "the header comes first");

    sb.kubectl_ok(&["annotate", "configmap", "greeting", "lab.example/step=annotated"]);
    let annotated = watch.wait_for("MODIFIED greeting", PATIENCE, |l| squash(l).starts_with("MODIFIED greeting "));
    assert!(row_matches(&annotated, "MODIFIED greeting 1 <age>"), "{annotated}");

    sb.kubectl_ok(&["patch", "configmap", "greeting", "-p", r#"{"data":{"farewell":"bye"}}"#]);
    let patched =
        watch.wait_for("MODIFIED greeting with 2 keys", PATIENCE, |l| row_matches(l, "MODIFIED greeting 2 <age>"));
    assert!(row_matches(&patched, "MODIFIED greeting 2 <age>"));

    assert_eq!(sb.kubectl_ok(&["delete", "configmap", "greeting"]), "configmap \"greeting\" deleted\n");
    let deleted = watch.wait_for("DELETED greeting", PATIENCE, |l| squash(l).starts_with("DELETED greeting "));
    assert!(row_matches(&deleted, "DELETED greeting 2 <age>"), "{deleted}");

    let stderr = watch.stop();
    let events: Vec<String> = watch.seen.iter().map(|l| squash(l)).filter(|l| l.contains(" greeting ")).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"], "events seen: {events:?}\nstderr: {stderr}");
}

#[test]
fn a_watch_lists_existing_objects_as_added_and_ignores_other_namespaces() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "configmap", "before", "--from-literal=a=1"]);
    sb.kubectl_ok(&["create", "namespace", "elsewhere"]);
    let mut watch = Watcher::spawn(&sb, &["get", "configmaps", "--watch", "--output-watch-events"]);
    watch.wait_for("ADDED before", PATIENCE, |l| row_matches(l, "ADDED before 1 <age>"));

    // A change in another namespace must not appear; a marker in this one proves the watch kept going.
    sb.kubectl_ok(&["create", "configmap", "hidden", "-n", "elsewhere", "--from-literal=a=1"]);
    sb.kubectl_ok(&["create", "configmap", "marker", "--from-literal=a=1"]);
    watch.wait_for("ADDED marker", PATIENCE, |l| row_matches(l, "ADDED marker 1 <age>"));
    watch.stop();
    assert!(!watch.seen.iter().any(|l| l.contains("hidden")), "{:?}", watch.seen);
}

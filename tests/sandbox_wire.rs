//! Smaller wire details through the real kubectl, answered as a 1.32 API server answers them:
//! wrongly typed fields in a strategic merge patch, a body that is not JSON, an unconditional
//! update with `resourceVersion: "0"`, no `null` fields in what is stored, and kubectl's
//! client-side validation over `/openapi/v2` in protobuf for kinds the server does not serve.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::{Sandbox, kubectl_available, text};
use serde_json::Value;

fn write(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("file written");
    path.to_str().unwrap_or_default().to_string()
}

#[test]
fn a_wrongly_typed_patch_field_is_reported_in_the_converters_words() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "configmap", "settings", "--from-literal=a=b"]);
    let out = sb.kubectl(&["patch", "configmap", "settings", "-p", r#"{"metadata":{"labels":"x"}}"#]);
    assert!(!out.status.success());
    let want =
        "The request is invalid: patch: Invalid value: \"map[metadata:map[labels:x]]\": cannot restore map from string";
    assert!(text(&out.stderr).contains(want), "{}", text(&out.stderr));
    let out = sb.kubectl(&["patch", "configmap", "settings", "--type=merge", "-p", r#"{"metadata":{"labels":"x"}}"#]);
    assert!(text(&out.stderr).contains("json: cannot unmarshal string into Go struct field"), "{}", text(&out.stderr));
}

#[test]
fn a_yaml_body_sent_raw_is_an_unrecognized_object() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let pod = write(dir.path(), "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n");
    let out = sb.kubectl(&["create", "--raw", "/api/v1/namespaces", "-f", &pod]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    let want = "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; \
                json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a";
    assert!(stderr.contains(want), "{stderr}");
}

#[test]
fn resource_version_zero_updates_unconditionally_and_nothing_stored_is_null() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "configmap", "settings", "--from-literal=a=b"]);
    let mut cm = get_json(&sb, &["get", "configmap", "settings"]);
    cm["metadata"]["resourceVersion"] = "0".into();
    cm["data"]["a"] = "c".into();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "cm.json", &cm.to_string());
    sb.kubectl_ok(&["replace", "-f", &file]);
    assert_eq!(get_json(&sb, &["get", "configmap", "settings"])["data"]["a"], "c");
    cm["metadata"]["resourceVersion"] = "1".into();
    let file = write(dir.path(), "stale.json", &cm.to_string());
    let stale = sb.kubectl(&["replace", "-f", &file]);
    assert!(text(&stale.stderr).contains("the object has been modified"), "{}", text(&stale.stderr));

    let pod = write(
        dir.path(),
        "pod.json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"initContainers":null,"containers":[{"name":"c","image":"nginx","args":null}]}}"#,
    );
    sb.kubectl_ok(&["create", "-f", &pod]);
    let yaml = sb.kubectl_ok(&["get", "pod", "p", "-o", "yaml"]);
    // Upstream prints a zero time as null (`lastProbeTime: null`), nothing else.
    let nulls: Vec<&str> = yaml.lines().filter(|l| l.ends_with(": null") && !l.contains("lastProbeTime")).collect();
    assert!(nulls.is_empty(), "{nulls:?} in:\n{yaml}");
}

fn nulls(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            if v.is_null() && k != "creationTimestamp" && k != "lastProbeTime" {
                out.push(format!("{path}.{k}"));
            }
            nulls(v, &format!("{path}.{k}"), out);
        }),
        Value::Array(items) => items.iter().for_each(|v| nulls(v, path, out)),
        _ => {}
    }
}

#[test]
fn manifests_of_unserved_kinds_get_no_matches_for_kind() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let core = write(dir.path(), "foo.yaml", "apiVersion: v1\nkind: Foo\nmetadata:\n  name: x\n");
    let out = sb.kubectl(&["apply", "-f", &core]);
    assert!(text(&out.stderr).contains("no matches for kind \"Foo\" in version \"v1\""), "{}", text(&out.stderr));
    let custom = write(dir.path(), "widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n");
    let out = sb.kubectl(&["create", "-f", &custom]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no matches for kind \"Widget\" in version \"example.com/v1\""), "{stderr}");
    let mut found = Vec::new();
    sb.kubectl_ok(&["run", "p", "--image=nginx"]);
    nulls(&get_json(&sb, &["get", "pod", "p"]), "", &mut found);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn kubectl_discovers_everything_in_two_requests_through_aggregated_discovery() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // A cold cache (this sandbox's own HOME): kubectl asks /api and /apis for the aggregated form
    // first; answered in that form, it reads no per-group-version list.
    let out = sb.kubectl(&["get", "deployments,cronjobs,roles", "-A", "-v=6"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stderr);
    let discovery: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\"GET\"") || line.contains(" GET "))
        .filter(|line| line.contains("/api"))
        .filter(|line| !line.contains("namespaces") && !line.contains("/deployments") && !line.contains("/cronjobs"))
        .filter(|line| !line.contains("/roles"))
        .collect();
    assert!(discovery.iter().any(|line| line.contains("/apis")), "{log}");
    let per_group_version = discovery.iter().filter(|line| line.contains("/apis/") || line.contains("/api/v1")).count();
    assert_eq!(per_group_version, 0, "no per-group-version list read: {discovery:#?}");
    // What kubectl learnt is the whole served set, short names and categories included.
    let resources = sb.kubectl_ok(&["api-resources", "--api-group=apps"]);
    assert!(resources.contains("deployments") && resources.contains("deploy"), "{resources}");
    assert!(sb.kubectl_ok(&["api-resources", "--namespaced=false"]).contains("namespaces"));
    assert!(sb.kubectl_ok(&["get", "all"]).contains("service/kubernetes"));
    // A plain client still gets the plain lists.
    let plain = sb.kubectl_ok(&["get", "--raw", "/apis"]);
    let plain: Value = serde_json::from_str(&plain).expect("JSON");
    assert_eq!(plain["kind"], "APIGroupList");
}

//! Smaller wire details through the real kubectl, answered as a 1.32 API server answers them:
//! wrongly typed fields in a strategic merge patch, a body that is not JSON, an unconditional
//! update with `resourceVersion: "0"`, no `null` fields in what is stored, and kubectl's
//! client-side validation over `/openapi/v2` in protobuf for kinds the server does not serve,
//! and a write's JSON answer being exactly the bytes a GET answers next.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::raw_https::{Answer, RawClient};
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

/// One request over the plain client, as the admin.
fn send(client: &mut RawClient, admin: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {admin}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    client.send(request.as_bytes()).expect("an answer")
}

/// The server answers a write with the JSON it stored (not a second encoding of it): whatever
/// the kind of write, the answer is byte for byte what a GET answers right after. Answers that
/// are not the stored object (a dry run, a Table, a patch that changes nothing) keep their shape.
#[test]
fn a_writes_json_answer_is_byte_for_byte_what_a_get_answers_next() {
    let sb = Sandbox::start();
    let (mut client, admin) = RawClient::admin(&sb);
    let collection = "/api/v1/namespaces/default/configmaps";
    let item = format!("{collection}/settings");
    let apply = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  e: f\n";
    let replace = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"g":"h"}}"#;
    let writes = [
        (
            "POST",
            collection.to_string(),
            "application/json",
            r#"{"metadata":{"name":"settings"},"data":{"a":"b"}}"#,
            201,
        ),
        ("PATCH", item.clone(), "application/merge-patch+json", r#"{"data":{"c":"d"}}"#, 200),
        ("PATCH", item.clone(), "application/strategic-merge-patch+json", r#"{"metadata":{"labels":{"x":"y"}}}"#, 200),
        ("PATCH", item.clone(), "application/json-patch+json", r#"[{"op":"add","path":"/data/i","value":"j"}]"#, 200),
        ("PATCH", format!("{item}?fieldManager=wire-test"), "application/apply-patch+yaml", apply, 200),
        ("PUT", item.clone(), "application/json", replace, 200),
        // Changes nothing: answered with the current object, encoded as before.
        ("PATCH", item.clone(), "application/merge-patch+json", r#"{"data":{"g":"h"}}"#, 200),
    ];
    for (method, path, content_type, body, status) in writes {
        let headers = [("Content-Type", content_type), ("Accept", "application/json")];
        let written = send(&mut client, &admin, method, &path, &headers, body);
        assert_eq!(written.status, status, "{method} {content_type}: {}", text(&written.body));
        assert!(written.header("content-type").is_some_and(|t| t.starts_with("application/json")));
        let read = send(&mut client, &admin, "GET", &item, &[("Accept", "application/json")], "");
        assert_eq!(text(&written.body), text(&read.body), "{method} {content_type}: the answer is the stored object");
        let object: Value = serde_json::from_slice(&written.body).expect("JSON");
        assert!(object["metadata"]["managedFields"].is_array(), "managedFields are sent, as upstream sends them");
    }

    // A dry run answers what would be stored, with no resourceVersion, and stores nothing.
    let dry = send(
        &mut client,
        &admin,
        "POST",
        &format!("{collection}?dryRun=All"),
        &[("Content-Type", "application/json")],
        r#"{"metadata":{"name":"dry"},"data":{"a":"b"}}"#,
    );
    assert_eq!(dry.status, 201, "{}", text(&dry.body));
    let object: Value = serde_json::from_slice(&dry.body).expect("JSON");
    assert_eq!((object["metadata"]["name"].as_str(), object["metadata"].get("resourceVersion")), (Some("dry"), None));
    let missing = send(&mut client, &admin, "GET", &format!("{collection}/dry"), &[], "");
    assert_eq!(missing.status, 404);

    // A write asked for as a Table is answered as one.
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let headers = [("Content-Type", "application/merge-patch+json"), ("Accept", table)];
    let answer = send(&mut client, &admin, "PATCH", &item, &headers, r#"{"data":{"k":"l"}}"#);
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
    let object: Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(object["kind"], "Table");
}

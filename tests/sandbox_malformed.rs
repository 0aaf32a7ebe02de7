//! Malformed requests against the real `gitops-lab sandbox serve`, tried as a new user (or a broken
//! client) would send them: hand-written cases from `fixtures/malformed/requests.yaml` plus
//! generated families — truncated bodies, a value of the wrong type at every field of real
//! manifests, invalid UTF-8, deep nesting, an oversized body. Each must get a 4xx answer with a
//! Kubernetes `Status` body that has a message; none may get a 5xx or a dropped connection; and the
//! server must still answer afterwards.

#![forbid(unsafe_code)]

use gitops_lab_e2e::Sandbox;
use gitops_lab_e2e::raw_https::{Answer, RawClient};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One hand-written case, as the fixture file spells it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Written {
    name: String,
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    status: Option<u16>,
}

/// What a case must get back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A 4xx `Status` (this exact code, if given).
    Rejected(Option<u16>),
    /// Anything but a 5xx or a broken connection; a 4xx must still carry a `Status`. For generated
    /// variations of which some are legal (a truncated YAML that is still a valid document).
    NoServerError,
}

struct Case {
    name: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    expect: Expect,
}

impl Case {
    /// A case sent as the admin.
    fn new(
        name: impl Into<String>,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        expect: Expect,
    ) -> Self {
        let headers = vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("Authorization".to_string(), "ADMIN".to_string()),
        ];
        Self { name: name.into(), method: method.into(), path: path.into(), headers, body, expect }
    }
}

const NS: &str = "malformed";

fn collection(group_version: &str, plural: &str) -> String {
    let base = if group_version == "v1" { "/api/v1".to_string() } else { format!("/apis/{group_version}") };
    format!("{base}/namespaces/{NS}/{plural}")
}

/// The hand-written cases.
fn written() -> Vec<Case> {
    let file = gitops_lab_e2e::tests_dir().join("fixtures/malformed/requests.yaml");
    let text = std::fs::read_to_string(&file).expect("the corpus file reads");
    let specs: Vec<Written> = serde_norway::from_str(&text).expect("the corpus file parses");
    specs.into_iter().map(to_case).collect()
}

fn to_case(w: Written) -> Case {
    let path = w.path.replace("LONGNAME", &"n".repeat(10_000));
    let mut headers = Vec::new();
    match w.content_type.as_deref() {
        Some("none") => {}
        Some(other) => headers.push(("Content-Type".into(), other.into())),
        None => headers.push(("Content-Type".into(), "application/json".into())),
    }
    match w.auth.as_deref() {
        None | Some("admin") => headers.push(("Authorization".into(), "ADMIN".into())),
        Some("none") => {}
        Some(other) => headers.push(("Authorization".into(), other.replace("HUGETOKEN", &"t".repeat(16_000)))),
    }
    headers.extend(w.headers);
    let method = w.method.unwrap_or_else(|| "POST".into());
    let body = w.body.unwrap_or_default().into_bytes();
    Case { name: w.name, method, path, headers, body, expect: Expect::Rejected(w.status) }
}

/// Valid manifests whose variations make the generated families.
fn manifests() -> Vec<(&'static str, &'static str, Value)> {
    let pod_spec = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["sh",
        "-c", "echo hi"],
        "ports": [{"containerPort": 80, "name": "http"}], "env": [{"name": "A", "value": "1"}],
        "volumeMounts": [{"name": "v", "mountPath": "/data"}]}], "volumes": [{"name": "v", "emptyDir": {}}]});
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec});
    let mut always = template.clone();
    always["spec"]["restartPolicy"] = json!("Always");
    vec![
        (
            "v1",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "labels": {"a": "b"}},
                "data": {"k": "v"}}),
        ),
        ("v1", "pods", json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec})),
        (
            "apps/v1",
            "deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "annotations": {"x": "y"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": always,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}),
        ),
        (
            "batch/v1",
            "cronjobs",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false, "jobTemplate": {"spec": {"backoffLimit": 2,
                "template": template}}}}),
        ),
        (
            "v1",
            "services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080,
                "nodePort": 30080}]}}),
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": NS}]}),
        ),
    ]
}

/// Every path to a value inside `value` (object keys and list indexes), the root excluded.
fn paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        at.push(key);
        out.push(at.clone());
        paths(child, at, out);
        at.pop();
    }
}

fn replaced(value: &Value, path: &[String], with: Value) -> Value {
    let mut copy = value.clone();
    let pointer = format!("/{}", path.join("/"));
    if let Some(slot) = copy.pointer_mut(&pointer) {
        *slot = with;
    }
    copy
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Fields that take an integer or a string (a port number or name, a count or a percentage).
const INT_OR_STRING: [&str; 3] = ["targetPort", "maxSurge", "maxUnavailable"];

/// A value of another JSON type at every field of each manifest (dry runs: nothing is stored).
/// Each must be refused, except a string where an integer-or-string field allows one.
fn wrong_types() -> Vec<Case> {
    let others = [json!(7), json!("seven"), json!([7]), json!({"seven": 7}), json!(true)];
    let mut cases = Vec::new();
    for (group_version, plural, manifest) in manifests() {
        let mut all = Vec::new();
        paths(&manifest, &mut Vec::new(), &mut all);
        for path in all {
            let current = manifest.pointer(&format!("/{}", path.join("/"))).cloned().unwrap_or(Value::Null);
            for other in others.iter().filter(|o| !same_type(o, &current)) {
                let body = serde_json::to_vec(&replaced(&manifest, &path, other.clone())).unwrap();
                let name = format!("{plural}: {} = {other}", path.join("."));
                let url = format!("{}?dryRun=All", collection(group_version, plural));
                let legal = other.is_string() && path.last().is_some_and(|key| INT_OR_STRING.contains(&key.as_str()));
                let expect = if legal { Expect::NoServerError } else { Expect::Rejected(None) };
                cases.push(Case::new(name, "POST", &url, "application/json", body, expect));
            }
        }
    }
    cases
}

/// Every prefix of two JSON manifests (never valid JSON), and YAML cut at every line and mid-line.
fn truncations() -> Vec<Case> {
    let mut cases = Vec::new();
    for (group_version, plural, manifest) in
        manifests().into_iter().filter(|(_, p, _)| ["configmaps", "deployments"].contains(p))
    {
        let url = format!("{}?dryRun=All", collection(group_version, plural));
        let text = serde_json::to_string(&manifest).unwrap();
        let step = if plural == "configmaps" { 1 } else { 6 };
        for end in (1..text.len()).step_by(step) {
            let body = text.as_bytes()[..end].to_vec();
            cases.push(Case::new(
                format!("{plural} JSON cut at {end}"),
                "POST",
                &url,
                "application/json",
                body,
                Expect::Rejected(Some(400)),
            ));
        }
        let yaml = serde_norway::to_string(&manifest).unwrap();
        for (end, _) in yaml.char_indices().filter(|(i, c)| *c == '\n' || i % 17 == 0).skip(1) {
            let body = yaml.as_bytes()[..end].to_vec();
            cases.push(Case::new(
                format!("{plural} YAML cut at {end}"),
                "POST",
                &url,
                "application/yaml",
                body,
                Expect::NoServerError,
            ));
        }
    }
    cases
}

/// Bytes that are not UTF-8 in JSON and YAML bodies, deep nesting, an oversized body.
fn hostile_bodies() -> Vec<Case> {
    let url = collection("v1", "configmaps");
    let rejected = |name: &str, content_type: &str, body: Vec<u8>, code: u16| {
        Case::new(name, "POST", &url, content_type, body, Expect::Rejected(Some(code)))
    };
    let mut cases = Vec::new();
    for (what, body) in [
        ("a name", b"{\"metadata\": {\"name\": \"\xff\xfe\"}}".to_vec()),
        ("a data value", b"{\"metadata\": {\"name\": \"u\"}, \"data\": {\"k\": \"caf\xe9\"}}".to_vec()),
        ("a key", b"{\"metadata\": {\"name\": \"u\"}, \"data\": {\"\xc3\x28\": \"v\"}}".to_vec()),
        ("a cut sequence", b"{\"metadata\": {\"name\": \"\xe2\x82\"}}".to_vec()),
    ] {
        cases.push(rejected(&format!("invalid UTF-8 in {what} (JSON)"), "application/json", body, 400));
    }
    for (what, body) in [
        ("a name", b"metadata:\n  name: \xff\n".to_vec()),
        ("a key", b"metadata:\n  name: u\ndata:\n  \xc3\x28: v\n".to_vec()),
    ] {
        cases.push(rejected(&format!("invalid UTF-8 in {what} (YAML)"), "application/yaml", body, 400));
    }
    let deep = |open: &str, depth: usize| open.repeat(depth).into_bytes();
    cases.push(rejected("JSON lists nested 100,000 deep", "application/json", deep("[", 100_000), 400));
    cases.push(rejected("JSON objects nested 50,000 deep", "application/json", deep("{\"a\":", 50_000), 400));
    cases.push(rejected("YAML flow lists nested 100,000 deep", "application/yaml", deep("[", 100_000), 400));
    cases.push(rejected("YAML flow maps nested 50,000 deep", "application/yaml", deep("{a: ", 50_000), 400));
    let block: String = (0..3_000).map(|i| format!("{}- \n", "  ".repeat(i))).collect();
    cases.push(Case::new(
        "YAML block lists nested 3,000 deep",
        "POST",
        &url,
        "application/yaml",
        block.into_bytes(),
        Expect::Rejected(None),
    ));
    let protobuf_deep: Vec<u8> =
        b"k8s\0".iter().copied().chain(std::iter::repeat_n([0x0a, 0x80, 0x80, 0x01], 20_000).flatten()).collect();
    cases.push(Case::new(
        "protobuf nested 20,000 deep",
        "POST",
        &url,
        "application/vnd.kubernetes.protobuf",
        protobuf_deep,
        Expect::Rejected(None),
    ));
    let big =
        format!("{{\"metadata\": {{\"name\": \"big\"}}, \"data\": {{\"k\": \"{}\"}}}}", "x".repeat(4 * 1024 * 1024));
    cases.push(rejected("a body over 3 MiB", "application/json", big.into_bytes(), 413));
    cases
}

fn render(case: &Case, admin: &str) -> Vec<u8> {
    let mut head = format!("{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", case.method, case.path);
    if !case.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("accept")) {
        head.push_str("Accept: application/json\r\n");
    }
    for (name, value) in &case.headers {
        let value = if value == "ADMIN" { format!("Bearer {admin}") } else { value.clone() };
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", case.body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&case.body);
    bytes
}

/// What is wrong with an answer, if anything.
fn judge(case: &Case, answer: &Answer) -> Option<String> {
    if answer.status >= 500 {
        return Some(format!("a server error {}: {}", answer.status, String::from_utf8_lossy(&answer.body)));
    }
    let rejected = (400..500).contains(&answer.status);
    match case.expect {
        Expect::Rejected(_) if !rejected => return Some(format!("accepted with {}", answer.status)),
        Expect::Rejected(Some(code)) if code != answer.status => {
            return Some(format!("{} instead of {code}: {}", answer.status, String::from_utf8_lossy(&answer.body)));
        }
        _ => {}
    }
    if !rejected {
        return None;
    }
    let status: Value = match serde_json::from_slice(&answer.body) {
        Ok(status) => status,
        Err(_) => {
            return Some(format!(
                "{} without a Status body: {:?}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ));
        }
    };
    let message = status["message"].as_str().unwrap_or_default();
    let well_formed = status["kind"] == "Status"
        && status["status"] == "Failure"
        && status["code"] == answer.status
        && !message.is_empty();
    let json = answer.header("content-type").is_some_and(|t| t.starts_with("application/json"));
    (!well_formed || !json).then(|| format!("{} with a malformed Status: {status}", answer.status))
}

/// Makes the namespace and the objects the corpus patches, deletes and reads.
fn prepare(client: &mut RawClient, admin: &str) {
    let objects = [
        ("/api/v1/namespaces", json!({"metadata": {"name": NS}})),
        (&collection("v1", "configmaps")[..], json!({"metadata": {"name": "existing"}, "data": {"a": "b"}})),
        (&collection("apps/v1", "deployments")[..], manifests()[2].2.clone()),
        (
            &collection("v1", "pods")[..],
            json!({"metadata": {"name": "pod"}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
        ),
    ];
    for (path, mut object) in objects {
        if object["kind"] == "Deployment" {
            object["metadata"]["name"] = json!("web");
        }
        let case = Case::new(
            "prepare",
            "POST",
            path,
            "application/json",
            serde_json::to_vec(&object).unwrap(),
            Expect::NoServerError,
        );
        let answer = client.send(&render(&case, admin)).expect("the set-up request is answered");
        assert_eq!(answer.status, 201, "set-up {path}: {}", String::from_utf8_lossy(&answer.body));
    }
}

#[test]
fn malformed_requests_get_a_status_and_never_a_server_error() {
    let sandbox = Sandbox::start();
    let (mut client, admin) = RawClient::admin(&sandbox);
    prepare(&mut client, &admin);
    let cases: Vec<Case> = [written(), wrong_types(), truncations(), hostile_bodies()].into_iter().flatten().collect();
    assert!(cases.len() >= 500, "several hundred cases ({})", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        match client.send(&render(case, &admin)) {
            Ok(answer) if std::env::var_os("MALFORMED_SHOW_ACCEPTED").is_some() && answer.status < 300 => {
                eprintln!("accepted: {}", case.name)
            }
            Ok(answer) => failures.extend(
                judge(case, &answer).map(|why| format!("{} ({} {}): {why}", case.name, case.method, short(&case.path))),
            ),
            Err(why) => {
                failures.push(format!("{} ({} {}): no answer: {why}", case.name, case.method, short(&case.path)))
            }
        }
    }
    let version = RawClient::admin(&sandbox)
        .0
        .send(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("the server still answers");
    assert_eq!(version.status, 200, "the server still answers");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn short(path: &str) -> String {
    if path.len() > 100 { format!("{}…", &path[..100]) } else { path.to_string() }
}

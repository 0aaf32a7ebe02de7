//! Fuzzing by property at the HTTP edge: any request — a method, a served path or a made-up one,
//! query options with good and bad values, a content type, and a body that is random bytes or a
//! real manifest with a part replaced, cut short or re-encoded — gets an answer below 500, and a
//! refusal carries a `Status` with a message. Requests go through the whole router in process
//! (authentication, decoders for JSON, YAML and protobuf, the handlers, admission, strategic
//! merge), with the fake node; a panic anywhere fails the property.

use crate::testing::{FakePods, add_running_pod};
use axum::body::Body;
use axum::http::Request;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::cluster::WriteOptions;
use gitops_sandbox_core::object;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

/// One sandbox for every case (opening one per case would dominate the run).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sandbox = Arc::new(Sandbox::open(dir.path()).expect("the sandbox opens"));
        add_running_pod(&sandbox);
        for (collection, manifest) in targets() {
            let plural = collection.rsplit('/').next().unwrap_or_default();
            let group =
                if collection.starts_with("/apis/") { collection.split('/').nth(2).unwrap_or_default() } else { "" };
            let rt = sandbox
                .registry()
                .types()
                .iter()
                .find(|t| t.plural == plural && t.group == group)
                .expect("a served type");
            sandbox.create(rt, Some("default"), manifest, WriteOptions::default()).expect("the fixture is stored");
        }
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let token = sandbox.admin_token().to_string();
        let router = super::router(sandbox, Arc::new(FakePods));
        Fixture { runtime, router, token, _dir: dir }
    })
}

const PATHS: [&str; 22] = [
    "/api/v1/namespaces/default/configmaps",
    "/api/v1/namespaces/default/configmaps/cm",
    "/api/v1/namespaces/default/pods",
    "/api/v1/namespaces/default/pods/web",
    "/api/v1/namespaces/default/pods/web/status",
    "/api/v1/namespaces/default/pods/web/log",
    "/api/v1/namespaces/default/pods/web/exec",
    "/api/v1/namespaces/default/pods/web/portforward",
    "/api/v1/namespaces/default/services",
    "/api/v1/namespaces/default/serviceaccounts/default/token",
    "/api/v1/namespaces",
    "/api/v1/nodes/sandbox",
    "/apis/apps/v1/namespaces/default/deployments",
    "/apis/apps/v1/namespaces/default/deployments/web",
    "/apis/apps/v1/namespaces/default/deployments/web/scale",
    "/apis/batch/v1/namespaces/default/cronjobs",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    "/apis",
    "/version",
    "/openapi/v3/apis/apps/v1",
];

const QUERY_KEYS: [&str; 13] = [
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "dryRun",
    "fieldValidation",
    "propagationPolicy",
    "includeObject",
    "timeoutSeconds",
    "tailLines",
    "container",
    "ports",
];

const QUERY_VALUES: [&str; 12] =
    ["", "All", "true", "-1", "0", "x", "a%20in%20(", "Strict", "1", "app%3Dweb", "%ff", "99999999999999999999"];

const CONTENT_TYPES: [&str; 9] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "",
];

/// Objects the cases write, with their collection paths; each exists in the fixture, so updates
/// and patches reach the object instead of stopping at "not found".
fn targets() -> Vec<(&'static str, Value)> {
    let containers = json!([{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}], "env": [{"name": "A",
        "value": "1"}]}]);
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}});
    let mut job_template = template.clone();
    job_template["spec"]["restartPolicy"] = json!("Never");
    vec![
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm", "labels": {"a": "b"}}, "data": {"k": "v"}}),
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": containers}}),
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "fuzz"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": template}}),
        ),
        (
            "/apis/batch/v1/namespaces/default/cronjobs",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": job_template}}}}),
        ),
        (
            "/api/v1/namespaces/default/services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
        ),
    ]
}

/// Every JSON pointer inside `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// A small value of any JSON type to put somewhere it may not belong.
fn stranger() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9 %$/.-]{0,6}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "x", null])),
        Just(json!({"name": 5, "$patch": "delete"})),
    ]
}

/// A manifest with one part replaced, as JSON or YAML, maybe cut short.
fn mutated(manifest: Value) -> impl Strategy<Value = Vec<u8>> {
    (any::<prop::sample::Index>(), stranger(), any::<bool>(), proptest::option::of(any::<prop::sample::Index>()))
        .prop_map(move |(at, with, yaml, cut)| {
            let mut all = Vec::new();
            pointers(&manifest, String::new(), &mut all);
            let mut changed = manifest.clone();
            if let Some(slot) = changed.pointer_mut(at.get(&all).as_str()) {
                *slot = with;
            }
            let mut bytes = match yaml {
                true => serde_norway::to_string(&changed).unwrap_or_default().into_bytes(),
                false => serde_json::to_vec(&changed).unwrap_or_default(),
            };
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

/// Random bytes, maybe after protobuf's magic.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64))
        .prop_map(|(magic, tail)| if magic { [b"k8s\0".to_vec(), tail].concat() } else { tail })
}

fn build(method: &str, uri: String, content_type: &str, body: Vec<u8>) -> Request<Body> {
    let mut request =
        Request::builder().method(method).uri(uri).header("Authorization", format!("Bearer {}", fixture().token));
    if !content_type.is_empty() {
        request = request.header("Content-Type", content_type);
    }
    request.body(Body::from(body)).expect("a well-formed request")
}

/// A write that makes sense but for its body: a create, an update or a patch of a real object,
/// a dry run so that the fixture stays as it is.
fn coherent() -> impl Strategy<Value = Request<Body>> {
    select(targets()).prop_flat_map(|(collection, manifest)| {
        let name = object::name(&manifest).to_string();
        let verb = select(vec![
            ("POST", "application/json"),
            ("POST", "application/yaml"),
            ("PUT", "application/json"),
            ("PATCH", "application/merge-patch+json"),
            ("PATCH", "application/strategic-merge-patch+json"),
            ("PATCH", "application/apply-patch+yaml"),
            ("PATCH", "application/json-patch+json"),
        ]);
        (verb, mutated(manifest)).prop_map(move |((method, content_type), body)| {
            let path = if method == "POST" { collection.to_string() } else { format!("{collection}/{name}") };
            build(method, format!("{path}?dryRun=All&fieldManager=fuzz"), content_type, body)
        })
    })
}

/// Anything: a method, a served or made-up path, odd query options, any content type and body.
fn scattered() -> impl Strategy<Value = Request<Body>> {
    let method = select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]);
    let query = proptest::collection::vec((select(QUERY_KEYS.to_vec()), select(QUERY_VALUES.to_vec())), 0..3);
    let body = prop_oneof![noise(), select(targets()).prop_flat_map(|(_, manifest)| mutated(manifest))];
    (method, select(PATHS.to_vec()), "(/[a-z]{1,4}){0,1}", query, select(CONTENT_TYPES.to_vec()), body).prop_map(
        |(method, path, extra, query, content_type, body)| {
            let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            build(method, format!("{path}{extra}?{}", query.join("&")), content_type, body)
        },
    )
}

fn request() -> impl Strategy<Value = Request<Body>> {
    prop_oneof![3 => coherent(), 2 => scattered()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_an_answer_below_500_and_refusals_carry_a_status(request in request()) {
        let fixture = fixture();
        let shown = format!("{} {}", request.method(), request.uri());
        let (status, body) = fixture.runtime.block_on(async {
            let response = fixture.router.clone().oneshot(request).await.expect("the router always answers");
            let status = response.status();
            // Successful answers may stream (watches, logs): only refusals are read.
            let body = match status.is_client_error() || status.is_server_error() {
                true => axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap_or_default().to_vec(),
                false => Vec::new(),
            };
            (status, body)
        });
        prop_assert!(!status.is_server_error(), "{shown}: {status} {}", String::from_utf8_lossy(&body));
        if status.is_client_error() {
            let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
            prop_assert!(answer["kind"] == "Status" && answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{shown}: {status} without a Status: {}", String::from_utf8_lossy(&body));
        }
    }
}

//! The streaming subresources of pods: `log`, `exec`, `attach` and `portforward`, served from the
//! simulated node through the [`PodStreams`] contract.
//!
//! These handlers sit on their own routes (ahead of the generic resource handler) because they need
//! the raw request for WebSocket upgrades and answer with streams rather than objects.

mod channels;
mod exec;
mod exec_spdy;
mod logs;
mod portforward;
mod spdy;
#[cfg(test)]
mod tests;

use crate::Sandbox;
use crate::api::status::IntoStatus;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::any;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::ResourceType;
use gitops_sandbox_core::registry::builtin_type;
pub use gitops_sandbox_node::PodStreams;
use serde_json::Value;
use std::sync::Arc;

/// What every streaming handler shares.
#[derive(Clone)]
struct Streams {
    sandbox: Arc<Sandbox>,
    pods: Arc<dyn PodStreams>,
}

/// The routes of the four subresources, for any router state (they carry their own).
pub fn routes<S: Clone + Send + Sync + 'static>(sandbox: Arc<Sandbox>, pods: Arc<dyn PodStreams>) -> Router<S> {
    const POD: &str = "/api/v1/namespaces/{namespace}/pods/{name}";
    Router::new()
        .route(&format!("{POD}/log"), any(logs_route))
        .route(&format!("{POD}/exec"), any(exec_route))
        .route(&format!("{POD}/attach"), any(attach_route))
        .route(&format!("{POD}/portforward"), any(portforward_route))
        .with_state(Streams { sandbox, pods })
}

type Pairs = Query<Vec<(String, String)>>;

async fn logs_route(
    State(s): State<Streams>,
    method: Method,
    Path((ns, name)): Path<(String, String)>,
    Query(pairs): Pairs,
) -> Response {
    if method != Method::GET {
        return ApiError::method_not_allowed(method.as_str(), pods()).into_status();
    }
    logs::handle(&s, &ns, &name, &pairs).unwrap_or_else(IntoStatus::into_status)
}

async fn exec_route(
    State(s): State<Streams>,
    Path((ns, name)): Path<(String, String)>,
    Query(pairs): Pairs,
    request: Request,
) -> Response {
    exec::handle(s, exec::Kind::Exec, ns, name, pairs, request).await
}

async fn attach_route(
    State(s): State<Streams>,
    Path((ns, name)): Path<(String, String)>,
    Query(pairs): Pairs,
    request: Request,
) -> Response {
    exec::handle(s, exec::Kind::Attach, ns, name, pairs, request).await
}

async fn portforward_route(
    State(s): State<Streams>,
    Path((ns, name)): Path<(String, String)>,
    Query(pairs): Pairs,
    request: Request,
) -> Response {
    portforward::handle(s, ns, name, pairs, request).await
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

/// The pod a streaming request names, or upstream's NotFound.
fn find_pod(sandbox: &Sandbox, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
    let rt = pods();
    sandbox.get(rt, Some(namespace), name).ok_or_else(|| ApiError::not_found(rt, name))
}

/// The names of a pod's containers in upstream's visiting order: init, app, ephemeral.
fn container_names(pod: &Value) -> Vec<&str> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|list| pod["spec"][list].as_array())
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

/// The container a request means: the named one if the pod has it, else the only app container.
fn pick_container(pod: &Value, requested: &str) -> Result<String, ApiError> {
    let name = object::name(pod);
    let names = container_names(pod);
    if !requested.is_empty() {
        return match names.contains(&requested) {
            true => Ok(requested.to_string()),
            false => Err(ApiError::bad_request(format!("container {requested} is not valid for pod {name}"))),
        };
    }
    let app: Vec<&str> =
        pod["spec"]["containers"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    match app.as_slice() {
        [only] => Ok(only.to_string()),
        [] => Err(ApiError::bad_request(format!("a container name must be specified for pod {name}"))),
        _ => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

/// Exec, attach and port-forward need a pod the scheduler has placed.
fn require_node(pod: &Value) -> Result<(), ApiError> {
    match pod["spec"]["nodeName"].as_str() {
        Some(node) if !node.is_empty() => Ok(()),
        _ => Err(ApiError::bad_request(format!("pod {} does not have a host assigned", object::name(pod)))),
    }
}

/// Whether a stored pod is still the running incarnation `uid` (not deleted, replaced or finished).
fn still_running(pod: Option<&Value>, uid: &str) -> bool {
    pod.is_some_and(|pod| {
        pod["metadata"]["uid"] == uid
            && pod["metadata"]["deletionTimestamp"].is_null()
            && !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
    })
}

/// Completes when the pod stops being the running incarnation `uid`: its network is gone, so
/// port-forward sessions to it end, as a real kubelet ends them.
async fn pod_gone(sandbox: Arc<Sandbox>, namespace: String, name: String, uid: String) {
    let rt = pods();
    let Ok(subscription) = sandbox.store().subscribe(sandbox.store().resource_version()) else {
        return std::future::pending().await;
    };
    let mut events = subscription.receiver;
    let current = || sandbox.get(rt, Some(&namespace), &name);
    if !still_running(current().as_deref(), &uid) {
        return;
    }
    let id = rt.id();
    loop {
        match events.recv().await {
            Ok(event) => {
                let meta = &event.object["metadata"];
                if event.resource != id || meta["namespace"] != namespace.as_str() || meta["name"] != name.as_str() {
                    continue;
                }
                let gone = matches!(event.kind, gitops_sandbox_core::watch::EventType::Deleted)
                    || !still_running(Some(&event.object), &uid);
                if gone {
                    return;
                }
            }
            // Missed events: look at the pod itself.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                if !still_running(current().as_deref(), &uid) {
                    return;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// A query flag as upstream reads it (`true`, `1`).
fn flag(pairs: &[(String, String)], key: &str) -> bool {
    pairs.iter().any(|(k, v)| k == key && matches!(v.as_str(), "true" | "1" | "True" | "TRUE"))
}

/// The last value of a query parameter, or "".
fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use gitops_sandbox_core::errors::Reason;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let list = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"metadata": {"name": "web", "uid": "u1"}, "spec": {"containers": list(containers),
            "initContainers": list(init)}})
    }

    #[test]
    fn the_only_app_container_is_picked_when_none_is_named() {
        assert_eq!(pick_container(&pod(&["app"], &["setup"]), "").unwrap(), "app");
        assert_eq!(pick_container(&pod(&["app"], &["setup"]), "setup").unwrap(), "setup");
    }

    #[test]
    fn container_errors_use_upstreams_words_and_list_init_containers_first() {
        let err = pick_container(&pod(&["a", "b"], &["init"]), "").unwrap_err();
        assert_eq!(
            (err.reason, err.message.as_str()),
            (Reason::BadRequest, "a container name must be specified for pod web, choose one of: [init a b]")
        );
        let err = pick_container(&pod(&["a"], &[]), "x").unwrap_err();
        assert_eq!(err.message, "container x is not valid for pod web");
    }

    #[test]
    fn pods_without_a_node_cannot_stream() {
        assert!(require_node(&pod(&["a"], &[])).unwrap_err().message.contains("pod web does not have a host assigned"));
    }

    #[test]
    fn a_pod_stops_running_when_deleted_replaced_terminating_or_finished() {
        let running = pod(&["a"], &[]);
        assert!(still_running(Some(&running), "u1"));
        assert!(!still_running(None, "u1"));
        assert!(!still_running(Some(&running), "u2"));
        let mut terminating = running.clone();
        terminating["metadata"]["deletionTimestamp"] = json!("2026-11-26T09:00:00Z");
        assert!(!still_running(Some(&terminating), "u1"));
        let mut done = running;
        done["status"] = json!({"phase": "Succeeded"});
        assert!(!still_running(Some(&done), "u1"));
    }
}

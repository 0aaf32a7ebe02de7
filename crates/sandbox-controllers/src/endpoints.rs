//! The endpoints controller: each Service with a selector gets an `Endpoints` object and
//! `EndpointSlice`s listing the pods it selects, so `kubectl describe svc` shows where traffic goes
//! and the node can route a cluster IP to a pod. Upstream runs two controllers (endpoints and
//! endpointslice) over the same inputs; one reconcile writes both here.
//!
//! As upstream: a pod needs an IP and must not be finished; ready pods are `addresses`, the others
//! `notReadyAddresses` (all of them `addresses` with `publishNotReadyAddresses`); pods being
//! deleted are left out of Endpoints and kept in slices as `terminating`. A target port given by
//! name is looked up among each pod's container ports; a pod without it lacks that port.

use super::endpoint_slices;
use super::owners::is_ready;
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType, builtin_type};
use gitops_sandbox_core::selectors::LabelSelector;
use gitops_sandbox_core::watch::WatchEvent;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Keeps every selector Service's Endpoints and EndpointSlices in step with its pods.
pub struct EndpointsController;

fn services() -> &'static ResourceType {
    builtin_type("", "services")
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

pub(crate) fn endpoints() -> &'static ResourceType {
    builtin_type("", "endpoints")
}

/// One pod behind a Service, with the ports it serves (resolved from the Service's target ports).
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    /// The pod's IP.
    pub ip: String,
    /// The pod (for the target reference and the node name).
    pub pod: Arc<Value>,
    /// Ready and not terminating.
    pub ready: bool,
    /// Being deleted.
    pub terminating: bool,
    /// `{name, port, protocol}` per Service port the pod serves, in the Service's order.
    pub ports: Vec<Value>,
}

impl Controller for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn primary(&self) -> ResourceId {
        services().id()
    }

    /// `triggers` is pure and cheap here: the same answer, asked before waking the task.
    fn wants(&self, event: &WatchEvent) -> bool {
        !self.triggers(event).is_empty()
    }

    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        let primary = self.primary();
        let namespace = object::namespace(&event.object).to_string();
        let service =
            |name: &str| ObjectRef { resource: primary.clone(), namespace: namespace.clone(), name: name.into() };
        if event.resource == primary {
            return vec![ObjectRef::of(&primary, &event.object)];
        }
        // Not Endpoints events: as upstream, an Endpoints object without a Service may be the
        // user's own, and a missing Service must not delete it.
        if event.resource == endpoint_slices::slices().id() {
            let owner = event.object["metadata"]["labels"][endpoint_slices::SERVICE_NAME_LABEL].as_str();
            return owner.map(service).into_iter().collect();
        }
        if event.resource != pods().id() {
            return Vec::new();
        }
        // A pod may concern any Service of its namespace: the unnamed reference stands for all of
        // them, and the queue folds a burst of pod changes into one pass.
        vec![service("")]
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        if target.name.is_empty() {
            let (list, _) = sb.store().list(&services().id(), Some(&target.namespace), None, 0, |_| true);
            for svc in &list.items {
                reconcile_service(sb, &target.namespace, object::name(svc))?;
            }
            return Ok(Action::Done);
        }
        reconcile_service(sb, &target.namespace, &target.name)?;
        Ok(Action::Done)
    }
}

fn reconcile_service(sb: &Sandbox, namespace: &str, name: &str) -> Result<(), ApiError> {
    let Some(svc) = sb.get(services(), Some(namespace), name) else {
        return remove_all(sb, namespace, name);
    };
    let Some(selector) = service_selector(&svc) else {
        // A Service without a selector (or an ExternalName one): its Endpoints are the user's.
        return Ok(());
    };
    let backends = backends(sb, &svc, &selector);
    write_endpoints(sb, &svc, &backends)?;
    endpoint_slices::sync(sb, &svc, &backends)
}

/// The Service's selector, unless it has none (or is an ExternalName Service).
fn service_selector(svc: &Value) -> Option<LabelSelector> {
    let labels = svc["spec"]["selector"].as_object().filter(|m| !m.is_empty())?;
    if svc["spec"]["type"] == "ExternalName" {
        return None;
    }
    LabelSelector::from_object(&json!({"matchLabels": labels})).ok()
}

/// The pods the Service selects that have an IP and have not finished, sorted by IP.
fn backends(sb: &Sandbox, svc: &Value, selector: &LabelSelector) -> Vec<Backend> {
    let (list, _) = sb.store().list(&pods().id(), Some(object::namespace(svc)), None, 0, |pod| {
        selector.matches(pod["metadata"].get("labels"))
    });
    let publish_all = svc["spec"]["publishNotReadyAddresses"] == true;
    let mut out: Vec<Backend> = list
        .items
        .into_iter()
        .filter(|pod| !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
        .filter_map(|pod| {
            let ip = pod["status"]["podIP"].as_str().filter(|ip| !ip.is_empty())?.to_string();
            let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
            let ready = (publish_all || is_ready(&pod)) && !terminating;
            let ports = resolve_ports(svc, &pod);
            Some(Backend { ip, pod, ready, terminating, ports })
        })
        .collect();
    out.sort_by_key(|b| ip_key(&b.ip));
    out
}

/// Sorts dotted addresses by number, so 10.244.0.10 comes after 10.244.0.9.
fn ip_key(ip: &str) -> Vec<u32> {
    ip.split('.').map(|part| part.parse().unwrap_or(0)).collect()
}

/// The Service's ports this pod serves: a numeric target port as is, a named one from the pod's
/// container ports (left out when no container declares it).
fn resolve_ports(svc: &Value, pod: &Value) -> Vec<Value> {
    let declared: Vec<&Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .collect();
    let mut out = Vec::new();
    for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
        let protocol = port["protocol"].as_str().unwrap_or("TCP");
        let number = match &port["targetPort"] {
            Value::Number(n) => n.as_i64(),
            Value::String(name) => declared
                .iter()
                .find(|p| p["name"] == name.as_str() && p["protocol"].as_str().unwrap_or("TCP") == protocol)
                .and_then(|p| p["containerPort"].as_i64()),
            _ => port["port"].as_i64(),
        };
        let Some(number) = number else { continue };
        let mut entry = Map::new();
        if let Some(name) = port["name"].as_str().filter(|n| !n.is_empty()) {
            entry.insert("name".into(), json!(name));
        }
        entry.insert("port".into(), json!(number));
        entry.insert("protocol".into(), json!(protocol));
        out.push(Value::Object(entry));
    }
    out
}

/// `{ip, nodeName, targetRef}` for an Endpoints address.
pub(crate) fn address(backend: &Backend) -> Value {
    let pod = &backend.pod;
    let mut entry = json!({"ip": backend.ip, "targetRef": target_ref(pod)});
    if let Some(node) = pod["spec"]["nodeName"].as_str() {
        entry["nodeName"] = json!(node);
    }
    entry
}

pub(crate) fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": object::namespace(pod), "name": object::name(pod), "uid": object::uid(pod)})
}

/// The subsets: backends grouped by the ports they serve (most pods share one set), each with its
/// ready and not-ready addresses. Terminating pods are left out, as upstream's Endpoints do.
fn subsets(backends: &[Backend]) -> Vec<Value> {
    let mut groups: BTreeMap<String, (Value, Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for b in backends.iter().filter(|b| !b.terminating) {
        let ports = Value::Array(b.ports.clone());
        let group = groups.entry(ports.to_string()).or_insert_with(|| (ports, Vec::new(), Vec::new()));
        if b.ready { group.1.push(address(b)) } else { group.2.push(address(b)) }
    }
    groups
        .into_values()
        .map(|(ports, ready, not_ready)| {
            let mut subset = Map::new();
            if !ready.is_empty() {
                subset.insert("addresses".into(), Value::Array(ready));
            }
            if !not_ready.is_empty() {
                subset.insert("notReadyAddresses".into(), Value::Array(not_ready));
            }
            if ports.as_array().is_some_and(|p| !p.is_empty()) {
                subset.insert("ports".into(), ports);
            }
            Value::Object(subset)
        })
        .collect()
}

/// The labels upstream copies from the Service, plus its headless mark.
pub(crate) fn service_labels(svc: &Value) -> Map<String, Value> {
    let mut labels = svc["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    if svc["spec"]["clusterIP"] == "None" {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    labels
}

fn write_endpoints(sb: &Sandbox, svc: &Value, backends: &[Backend]) -> Result<(), ApiError> {
    let (namespace, name) = (object::namespace(svc), object::name(svc));
    let subsets = subsets(backends);
    let labels = Value::Object(service_labels(svc));
    let wanted_subsets = if subsets.is_empty() { Value::Null } else { Value::Array(subsets) };
    match sb.get(endpoints(), Some(namespace), name) {
        None => {
            let mut obj = json!({"apiVersion": "v1", "kind": "Endpoints",
                                 "metadata": {"name": name, "namespace": namespace, "labels": labels}});
            if !wanted_subsets.is_null() {
                obj["subsets"] = wanted_subsets;
            }
            settled(sb.create(endpoints(), Some(namespace), obj, WriteOptions::default()).map(|_| ()))
        }
        Some(current) if current["subsets"] == wanted_subsets && current["metadata"]["labels"] == labels => Ok(()),
        Some(_) => {
            let result =
                sb.modify(endpoints(), Some(namespace), name, UpdateScope::Main, WriteOptions::default(), |cur| {
                    let mut next = cur.clone();
                    next["metadata"]["labels"] = labels.clone();
                    match next.as_object_mut() {
                        Some(map) if wanted_subsets.is_null() => drop(map.remove("subsets")),
                        _ => next["subsets"] = wanted_subsets.clone(),
                    }
                    Ok(next)
                });
            settled(result.map(|_| ()))
        }
    }
}

/// The Service is gone: its Endpoints and slices go too (slices also by garbage collection).
fn remove_all(sb: &Sandbox, namespace: &str, name: &str) -> Result<(), ApiError> {
    if sb.get(endpoints(), Some(namespace), name).is_some() {
        let opts = gitops_sandbox_core::cluster::DeleteOptions::default();
        settled(sb.delete(endpoints(), Some(namespace), name, &opts).map(|_| ()))?;
    }
    endpoint_slices::remove(sb, namespace, name)
}

/// Another writer got there first, or the object is already gone: the next event brings us back.
pub(crate) fn settled(result: Result<(), ApiError>) -> Result<(), ApiError> {
    match result {
        Err(error) if error.is_conflict() || matches!(error.reason, Reason::NotFound | Reason::AlreadyExists) => Ok(()),
        other => other,
    }
}

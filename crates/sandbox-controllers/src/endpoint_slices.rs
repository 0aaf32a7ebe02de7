//! The EndpointSlices of a Service, written by the endpoints controller ([`super::endpoints`]):
//! one slice per set of ports the Service's pods serve (one slice when they all agree), named
//! `<service>-<5 chars>`, labelled and owned as upstream's endpointslice controller does. A
//! Service with no pods keeps one empty slice, as upstream.

use super::endpoints::{Backend, service_labels, settled, target_ref};
use super::owners::owner_reference;
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceType, builtin_type};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label saying which controller manages a slice.
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Upstream's endpointslice controller's name in that label.
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

/// The EndpointSlice type.
pub fn slices() -> &'static ResourceType {
    builtin_type("discovery.k8s.io", "endpointslices")
}

/// This controller's slices of the Service, oldest name first.
fn ours(sb: &Sandbox, namespace: &str, service: &str) -> Vec<Arc<Value>> {
    let (list, _) = sb.store().list(&slices().id(), Some(namespace), None, 0, |s| {
        let labels = &s["metadata"]["labels"];
        labels[SERVICE_NAME_LABEL] == service && labels[MANAGED_BY_LABEL] == MANAGED_BY
    });
    list.items
}

/// `{addresses, conditions, nodeName, targetRef}` for one backend.
fn endpoint(b: &Backend) -> Value {
    let serving = b.ready || (b.terminating && super::owners::is_ready(&b.pod));
    let mut entry = json!({
        "addresses": [b.ip],
        "conditions": {"ready": b.ready, "serving": serving, "terminating": b.terminating},
        "targetRef": target_ref(&b.pod),
    });
    if let Some(node) = b.pod["spec"]["nodeName"].as_str() {
        entry["nodeName"] = json!(node);
    }
    entry
}

/// The slices' wanted contents: (ports, endpoints) per port set; one empty pair without pods.
fn wanted(backends: &[Backend]) -> Vec<(Value, Value)> {
    let mut groups: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for b in backends {
        let ports = Value::Array(b.ports.iter().map(slice_port).collect());
        groups.entry(ports.to_string()).or_insert_with(|| (ports, Vec::new())).1.push(endpoint(b));
    }
    if groups.is_empty() {
        return vec![(Value::Null, Value::Null)];
    }
    groups.into_values().map(|(ports, eps)| (ports, Value::Array(eps))).collect()
}

/// A slice port always has a name, empty for an unnamed Service port.
fn slice_port(port: &Value) -> Value {
    json!({"name": port["name"].as_str().unwrap_or(""), "port": port["port"], "protocol": port["protocol"]})
}

/// Brings the Service's slices to the wanted contents, reusing existing slices first.
pub fn sync(sb: &Sandbox, svc: &Value, backends: &[Backend]) -> Result<(), ApiError> {
    let (namespace, name) = (object::namespace(svc), object::name(svc));
    let mut labels = service_labels(svc);
    labels.insert(SERVICE_NAME_LABEL.into(), json!(name));
    labels.insert(MANAGED_BY_LABEL.into(), json!(MANAGED_BY));
    let labels = Value::Object(labels);
    let mut existing = ours(sb, namespace, name);
    let mut wanted = wanted(backends);
    // Slices already right stay as they are.
    existing.retain(|slice| {
        let same = |(ports, eps): &(Value, Value)| {
            slice["ports"] == *ports && slice["endpoints"] == *eps && slice["metadata"]["labels"] == labels
        };
        match wanted.iter().position(same) {
            Some(i) => {
                wanted.remove(i);
                false
            }
            None => true,
        }
    });
    for (ports, eps) in wanted {
        match existing.pop() {
            Some(slice) => rewrite(sb, &slice, &labels, ports, eps)?,
            None => create(sb, svc, &labels, ports, eps)?,
        }
    }
    for slice in existing {
        delete(sb, &slice)?;
    }
    Ok(())
}

fn set_or_remove(obj: &mut Value, field: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        if value.is_null() {
            map.remove(field);
        } else {
            map.insert(field.into(), value);
        }
    }
}

fn create(sb: &Sandbox, svc: &Value, labels: &Value, ports: Value, eps: Value) -> Result<(), ApiError> {
    let namespace = object::namespace(svc);
    let mut owner = owner_reference(svc);
    owner["apiVersion"] = json!("v1");
    owner["kind"] = json!("Service");
    let mut slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": format!("{}-", object::name(svc)), "namespace": namespace,
                     "labels": labels, "ownerReferences": [owner]},
        "addressType": "IPv4",
    });
    set_or_remove(&mut slice, "endpoints", eps);
    set_or_remove(&mut slice, "ports", ports);
    settled(sb.create(slices(), Some(namespace), slice, WriteOptions::default()).map(|_| ()))
}

fn rewrite(sb: &Sandbox, slice: &Value, labels: &Value, ports: Value, eps: Value) -> Result<(), ApiError> {
    let (namespace, name) = (object::namespace(slice), object::name(slice));
    let result = sb.modify(slices(), Some(namespace), name, UpdateScope::Main, WriteOptions::default(), |current| {
        let mut next = current.clone();
        next["metadata"]["labels"] = labels.clone();
        set_or_remove(&mut next, "endpoints", eps.clone());
        set_or_remove(&mut next, "ports", ports.clone());
        Ok(next)
    });
    settled(result.map(|_| ()))
}

fn delete(sb: &Sandbox, slice: &Value) -> Result<(), ApiError> {
    let (namespace, name) = (object::namespace(slice), object::name(slice));
    settled(sb.delete(slices(), Some(namespace), name, &DeleteOptions::default()).map(|_| ()))
}

/// Deletes the slices of a Service that is gone.
pub fn remove(sb: &Sandbox, namespace: &str, service: &str) -> Result<(), ApiError> {
    ours(sb, namespace, service).iter().try_for_each(|slice| delete(sb, slice))
}

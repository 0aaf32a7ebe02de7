//! Cells that need more than a path: job status, service addresses, node roles, event columns, ….
//! Each follows the matching rule of upstream's printers; `columns.yaml` names them.

use super::duration::{age, human_duration, timestamp};
use super::expr::{CellFn, Ctx, first, int, strings, text};
use super::pod;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The named cell functions `columns.yaml` may call.
pub const FUNCTIONS: &[(&str, CellFn)] = &[
    ("podReady", pod::ready),
    ("podStatus", pod::status),
    ("podRestarts", pod::restarts),
    ("podReadinessGates", pod::readiness_gates),
    ("podConditions", pod::conditions),
    ("jobStatus", job_status),
    ("jobCompletions", job_completions),
    ("jobDuration", job_duration),
    ("serviceExternalIP", service_external_ip),
    ("servicePorts", service_ports),
    ("nodeStatus", node_status),
    ("nodeRoles", node_roles),
    ("nodeAddress", node_address),
    ("eventLastSeen", event_last_seen),
    ("eventFirstSeen", event_first_seen),
    ("eventCount", event_count),
    ("eventObject", event_object),
    ("eventSource", event_source),
    ("roleRef", role_ref),
    ("controllerOf", controller_of),
    ("subjects", subjects),
];

fn list<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    first(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// Whether the first condition of this type is true (upstream looks no further).
fn job_condition(job: &Value, kind: &str) -> bool {
    list(job, ".status.conditions").iter().find(|c| c["type"] == kind).is_some_and(|c| c["status"] == "True")
}

fn job_status(c: &Ctx, _: &[String]) -> Option<Value> {
    let job = c.obj;
    let status = if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if !job["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    Some(json!(status))
}

/// `1/3`; without `completions`, `1/1`, or `1/1 of 4` when several pods run in parallel.
fn job_completions(c: &Ctx, _: &[String]) -> Option<Value> {
    let succeeded = int(c.obj, ".status.succeeded");
    let parallelism = int(c.obj, ".spec.parallelism");
    Some(json!(match first(c.obj, ".spec.completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        None => format!("{succeeded}/1"),
    }))
}

/// From start to completion, or to now while running; empty before the job starts.
fn job_duration(c: &Ctx, _: &[String]) -> Option<Value> {
    let start = timestamp(first(c.obj, ".status.startTime"))?;
    let end = timestamp(first(c.obj, ".status.completionTime")).unwrap_or(c.now);
    Some(json!(human_duration(end.duration_since(start))))
}

fn service_external_ip(c: &Ctx, _: &[String]) -> Option<Value> {
    let external = strings(c.obj, ".spec.externalIPs[*]");
    let ip = match text(c.obj, ".spec.type") {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            // Ingress points are a sorted set; the server prints them unclipped (wide).
            let ingress: BTreeSet<&str> = list(c.obj, ".status.loadBalancer.ingress")
                .iter()
                .filter_map(|i| i["ip"].as_str().filter(|s| !s.is_empty()).or(i["hostname"].as_str()))
                .filter(|s| !s.is_empty())
                .collect();
            let all: Vec<&str> = ingress.into_iter().chain(external).collect();
            if all.is_empty() { "<pending>".to_string() } else { all.join(",") }
        }
        "ExternalName" => text(c.obj, ".spec.externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    Some(json!(ip))
}

/// `80/TCP`, `80:30080/TCP` with a node port; `<none>` without ports.
fn service_ports(c: &Ctx, _: &[String]) -> Option<Value> {
    let ports: Vec<String> = list(c.obj, ".spec.ports")
        .iter()
        .map(|p| {
            let (port, protocol) = (int(p, ".port"), text(p, ".protocol"));
            match int(p, ".nodePort") {
                0 => format!("{port}/{protocol}"),
                node_port => format!("{port}:{node_port}/{protocol}"),
            }
        })
        .collect();
    Some(json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }))
}

/// `Ready`, `NotReady` or `Unknown`, then `SchedulingDisabled` when cordoned.
fn node_status(c: &Ctx, _: &[String]) -> Option<Value> {
    let ready = list(c.obj, ".status.conditions").iter().rev().find(|c| c["type"] == "Ready");
    let mut status = vec![match ready {
        Some(r) if r["status"] == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if first(c.obj, ".spec.unschedulable") == Some(&json!(true)) {
        status.push("SchedulingDisabled");
    }
    Some(json!(status.join(",")))
}

/// Roles from `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` value.
fn node_roles(c: &Ctx, _: &[String]) -> Option<Value> {
    let labels = first(c.obj, ".metadata.labels").and_then(Value::as_object);
    let roles: BTreeSet<&str> = labels
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) => Some(role),
            None if k == "kubernetes.io/role" => v.as_str(),
            None => None,
        })
        .filter(|r| !r.is_empty())
        .collect();
    Some(json!(if roles.is_empty() { "<none>".to_string() } else { roles.into_iter().collect::<Vec<_>>().join(",") }))
}

/// The first address of the given type (`InternalIP`, `ExternalIP`), `<none>` if there is none.
fn node_address(c: &Ctx, args: &[String]) -> Option<Value> {
    let kind = args.first().map(String::as_str).unwrap_or("InternalIP");
    let found = list(c.obj, ".status.addresses").iter().find(|a| a["type"] == kind);
    Some(found.map_or(json!("<none>"), |a| a["address"].clone()))
}

fn event_first_seen(c: &Ctx, _: &[String]) -> Option<Value> {
    age(first(c.obj, ".firstTimestamp"), c.now).or_else(|| age(first(c.obj, ".eventTime"), c.now)).map(Value::from)
}

/// The series' last observation, else `lastTimestamp`, else the first sighting.
fn event_last_seen(c: &Ctx, args: &[String]) -> Option<Value> {
    if c.obj.get("series").is_some_and(|s| !s.is_null()) {
        return age(first(c.obj, ".series.lastObservedTime"), c.now).map(Value::from);
    }
    age(first(c.obj, ".lastTimestamp"), c.now).map(Value::from).or_else(|| event_first_seen(c, args))
}

/// The series count, else `count`, where 0 (a singleton from the newer API) reads as 1.
fn event_count(c: &Ctx, _: &[String]) -> Option<Value> {
    if c.obj.get("series").is_some_and(|s| !s.is_null()) {
        return Some(json!(int(c.obj, ".series.count")));
    }
    Some(json!(int(c.obj, ".count").max(1)))
}

/// `pod/web-1`: the involved object's kind in lower case, then its name if any.
fn event_object(c: &Ctx, _: &[String]) -> Option<Value> {
    let kind = text(c.obj, ".involvedObject.kind").to_lowercase();
    let name = text(c.obj, ".involvedObject.name");
    Some(json!(if name.is_empty() { kind } else { format!("{kind}/{name}") }))
}

/// `component, host`, each falling back to the reporting controller and instance.
fn event_source(c: &Ctx, _: &[String]) -> Option<Value> {
    let pick = |a: &str, b: &str| {
        let first = text(c.obj, a);
        if first.is_empty() { text(c.obj, b) } else { first }
    };
    let component = pick(".source.component", ".reportingComponent");
    let instance = pick(".source.host", ".reportingInstance");
    Some(json!(if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") }))
}

/// `ClusterRole/view`.
/// The controller owner as `kind.group/name` in lower case (`statefulset.apps/web`), or `<none>`.
fn controller_of(c: &Ctx, _: &[String]) -> Option<Value> {
    let owners = list(c.obj, ".metadata.ownerReferences");
    let Some(owner) = owners.iter().find(|o| o["controller"] == true) else { return Some(json!("<none>")) };
    let group = text(owner, ".apiVersion").rsplit_once('/').map_or("", |(group, _)| group);
    let kind = text(owner, ".kind").to_lowercase();
    let qualified = if group.is_empty() { kind } else { format!("{kind}.{group}") };
    Some(json!(format!("{qualified}/{}", text(owner, ".name"))))
}

fn role_ref(c: &Ctx, _: &[String]) -> Option<Value> {
    Some(json!(format!("{}/{}", text(c.obj, ".roleRef.kind"), text(c.obj, ".roleRef.name"))))
}

/// The binding's subjects of one kind, joined by `, `; service accounts as `namespace/name`.
fn subjects(c: &Ctx, args: &[String]) -> Option<Value> {
    let kind = args.first().map(String::as_str).unwrap_or("");
    let names: Vec<String> = list(c.obj, ".subjects")
        .iter()
        .filter(|s| s["kind"] == kind)
        .map(|s| match kind {
            "ServiceAccount" => format!("{}/{}", text(s, ".namespace"), text(s, ".name")),
            _ => text(s, ".name").to_string(),
        })
        .collect();
    Some(json!(names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: CellFn, obj: Value, args: &[&str]) -> Value {
        let now = "2024-05-01T12:00:00Z".parse().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        f(&Ctx { obj: &obj, now }, &args).unwrap_or(Value::Null)
    }

    #[test]
    fn job_completions_and_duration_follow_the_spec() {
        assert_eq!(call(job_completions, json!({"spec": {"completions": 3}, "status": {"succeeded": 1}}), &[]), "1/3");
        assert_eq!(call(job_completions, json!({"spec": {"parallelism": 4}}), &[]), "0/1 of 4");
        assert_eq!(call(job_completions, json!({"spec": {"parallelism": 1}}), &[]), "0/1");
        let done = json!({"status": {"startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:00:07Z"}});
        assert_eq!(call(job_duration, done, &[]), "7s");
        assert_eq!(call(job_duration, json!({"status": {"startTime": "2024-05-01T11:55:00Z"}}), &[]), "5m");
        assert_eq!(call(job_duration, json!({}), &[]), Value::Null);
    }

    #[test]
    fn job_status_prefers_finished_conditions() {
        let job = json!({"status": {"conditions": [{"type": "Failed", "status": "True"}]}, "metadata": {}});
        assert_eq!(call(job_status, job, &[]), "Failed");
        let job = json!({"metadata": {"deletionTimestamp": "2024-05-01T11:00:00Z"}});
        assert_eq!(call(job_status, job, &[]), "Terminating");
        assert_eq!(call(job_status, json!({"metadata": {}}), &[]), "Running");
    }

    #[test]
    fn service_addresses_depend_on_the_type() {
        let svc = |spec: Value, status: Value| json!({"spec": spec, "status": status});
        assert_eq!(call(service_external_ip, svc(json!({"type": "ClusterIP"}), json!({})), &[]), "<none>");
        assert_eq!(call(service_external_ip, svc(json!({"type": "LoadBalancer"}), json!({})), &[]), "<pending>");
        let lb = svc(json!({"type": "LoadBalancer"}), json!({"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}));
        assert_eq!(call(service_external_ip, lb, &[]), "1.2.3.4");
        let ports = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443,
            "protocol": "TCP"}]}});
        assert_eq!(call(service_ports, ports, &[]), "80/TCP,443:30443/TCP");
        assert_eq!(call(service_ports, json!({}), &[]), "<none>");
    }

    #[test]
    fn node_status_and_roles_read_conditions_and_labels() {
        let node = json!({
            "metadata": {"labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP",
                "address": "10.0.0.2"}]}
        });
        assert_eq!(call(node_status, node.clone(), &[]), "Ready,SchedulingDisabled");
        assert_eq!(call(node_roles, node.clone(), &[]), "control-plane,edge");
        assert_eq!(call(node_address, node.clone(), &["InternalIP"]), "10.0.0.2");
        assert_eq!(call(node_address, node, &["ExternalIP"]), "<none>");
        assert_eq!(call(node_status, json!({}), &[]), "Unknown");
    }

    #[test]
    fn event_cells_fall_back_between_timestamps() {
        let ev = json!({"firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": null, "count": 0,
            "involvedObject": {"kind": "Pod", "name": "web"}, "source": {"component": "kubelet", "host": "node-a"}});
        assert_eq!(call(event_last_seen, ev.clone(), &[]), "60m");
        assert_eq!(call(event_count, ev.clone(), &[]), 1);
        assert_eq!(call(event_object, ev.clone(), &[]), "pod/web");
        assert_eq!(call(event_source, ev, &[]), "kubelet, node-a");
        let series = json!({"series": {"count": 4, "lastObservedTime": "2024-05-01T11:59:30.000000Z"},
            "eventTime": "2024-05-01T11:00:00.000000Z"});
        assert_eq!(call(event_last_seen, series.clone(), &[]), "30s");
        assert_eq!(call(event_first_seen, series.clone(), &[]), "60m");
        assert_eq!(call(event_count, series, &[]), 4);
    }

    #[test]
    fn bindings_list_role_and_subjects() {
        let rb = json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [
            {"kind": "User", "name": "ann"}, {"kind": "User", "name": "bob"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}]});
        assert_eq!(call(role_ref, rb.clone(), &[]), "ClusterRole/view");
        assert_eq!(call(subjects, rb.clone(), &["User"]), "ann, bob");
        assert_eq!(call(subjects, rb.clone(), &["ServiceAccount"]), "tools/ci");
        assert_eq!(call(subjects, rb, &["Group"]), "");
    }
}

//! Pod spec checks, shared by Pods and every pod template (Deployment, ReplicaSet, Job, CronJob).

use super::meta;
use crate::errors::FieldError;
use crate::names;
use serde_json::{Value, json};
use std::collections::HashSet;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
/// The probes a container may have; each one's port is checked like a container port.
const PROBES: &[&str] = &["livenessProbe", "readinessProbe", "startupProbe"];

fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items(obj: &Value, key: &str) -> Vec<Value> {
    obj.get(key).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Checks a pod template: its labels and annotations, then its pod spec.
pub(super) fn check_template(template: &Value, path: &str, errs: &mut Vec<FieldError>) {
    meta::check_labels(&template["metadata"]["labels"], &format!("{path}.metadata.labels"), errs);
    meta::check_annotations(&template["metadata"]["annotations"], &format!("{path}.metadata.annotations"), errs);
    check_pod_spec(&template["spec"], &format!("{path}.spec"), errs);
}

/// Checks a pod spec at `path` (`spec` for a Pod, `spec.template.spec` in a Deployment, …).
pub(super) fn check_pod_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let volumes = check_volumes(spec, &format!("{path}.volumes"), errs);
    let containers = items(spec, "containers");
    let init = items(spec, "initContainers");
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    // App container names must be unique among themselves; init names also against the app ones.
    let mut seen = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        check_container(c, &format!("{path}.containers[{i}]"), &volumes, &mut seen, errs);
    }
    let mut seen_with_apps: HashSet<String> = containers.iter().map(|c| text(c, "name").to_string()).collect();
    for (i, c) in init.iter().enumerate() {
        check_container(c, &format!("{path}.initContainers[{i}]"), &volumes, &mut seen_with_apps, errs);
    }
    check_enum(spec, "restartPolicy", path, RESTART_POLICIES, errs);
    check_enum(spec, "dnsPolicy", path, DNS_POLICIES, errs);
    if let Some(seconds) = spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64).filter(|s| *s < 0) {
        errs.push(FieldError::invalid(
            format!("{path}.terminationGracePeriodSeconds"),
            json!(seconds),
            "must be greater than or equal to 0",
        ));
    }
}

/// A required field whose value must come from a fixed list (`Required` when empty).
pub(super) fn check_enum(obj: &Value, key: &str, path: &str, allowed: &[&str], errs: &mut Vec<FieldError>) {
    let value = text(obj, key);
    if value.is_empty() {
        errs.push(FieldError::required(format!("{path}.{key}"), ""));
    } else if !allowed.contains(&value) {
        errs.push(FieldError::not_supported(format!("{path}.{key}"), json!(value), allowed));
    }
}

/// Checks volume names and sources; returns the names, for volume mounts to refer to.
fn check_volumes(spec: &Value, path: &str, errs: &mut Vec<FieldError>) -> HashSet<String> {
    let mut names_seen = HashSet::new();
    for (i, volume) in items(spec, "volumes").iter().enumerate() {
        let at = format!("{path}[{i}]");
        check_volume_source(volume, &at, errs);
        let name = text(volume, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{at}.name"), ""));
        } else {
            for msg in names::validate_dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
            }
        }
        if !names_seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
        }
    }
    names_seen
}

/// Exactly one source per volume; configMap and secret sources must name their object.
fn check_volume_source(volume: &Value, at: &str, errs: &mut Vec<FieldError>) {
    let Some(map) = volume.as_object() else { return };
    let sources: Vec<&String> = map.iter().filter(|(k, v)| *k != "name" && !v.is_null()).map(|(k, _)| k).collect();
    match sources.as_slice() {
        [] => errs.push(FieldError::required(at, "must specify a volume type")),
        [_] => {}
        [_, extra @ ..] => {
            for source in extra {
                errs.push(FieldError::forbidden(format!("{at}.{source}"), "may not specify more than 1 volume type"));
            }
        }
    }
    if map.get("configMap").is_some_and(|cm| cm.is_object() && text(cm, "name").is_empty()) {
        errs.push(FieldError::required(format!("{at}.configMap.name"), ""));
    }
    if map.get("secret").is_some_and(|s| s.is_object() && text(s, "secretName").is_empty()) {
        errs.push(FieldError::required(format!("{at}.secret.secretName"), ""));
    }
}

fn check_container(
    c: &Value,
    at: &str,
    volumes: &HashSet<String>,
    seen: &mut HashSet<String>,
    errs: &mut Vec<FieldError>,
) {
    let name = text(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{at}.name"), ""));
    } else {
        for msg in names::validate_dns1123_label(name) {
            errs.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
        }
        if !seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
        }
    }
    if text(c, "image").is_empty() {
        errs.push(FieldError::required(format!("{at}.image"), ""));
    }
    check_ports(c, &format!("{at}.ports"), errs);
    for probe in PROBES {
        if let Some(handler) = c.get(*probe) {
            check_probe_ports(handler, &format!("{at}.{probe}"), errs);
        }
    }
    for (i, env) in items(c, "env").iter().enumerate() {
        if text(env, "name").is_empty() {
            errs.push(FieldError::required(format!("{at}.env[{i}].name"), ""));
        }
    }
    check_volume_mounts(c, &format!("{at}.volumeMounts"), volumes, errs);
}

fn check_ports(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let mut names_seen = HashSet::new();
    for (i, port) in items(c, "ports").iter().enumerate() {
        let at = format!("{path}[{i}]");
        let name = text(port, "name");
        if !name.is_empty() {
            let msgs = names::validate_port_name(name);
            if !msgs.is_empty() {
                msgs.into_iter().for_each(|m| errs.push(FieldError::invalid(format!("{at}.name"), json!(name), m)));
            } else if !names_seen.insert(name.to_string()) {
                errs.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
            }
        }
        match port.get("containerPort").and_then(Value::as_i64) {
            None | Some(0) => errs.push(FieldError::required(format!("{at}.containerPort"), "")),
            Some(n) => check_port_number(n, &format!("{at}.containerPort"), errs),
        }
        if let Some(host) = port.get("hostPort").and_then(Value::as_i64).filter(|h| *h != 0) {
            check_port_number(host, &format!("{at}.hostPort"), errs);
        }
        check_protocol(port, &at, errs);
    }
}

/// A probe's port (`httpGet`, `tcpSocket`: a number or a container port's name; `grpc`: a number).
fn check_probe_ports(probe: &Value, at: &str, errs: &mut Vec<FieldError>) {
    for action in ["httpGet", "tcpSocket", "grpc"] {
        let path = format!("{at}.{action}.port");
        match probe.get(action).and_then(|a| a.get("port")) {
            Some(Value::Number(n)) => check_port_number(n.as_i64().unwrap_or(-1), &path, errs),
            Some(Value::String(name)) if action != "grpc" => {
                for msg in names::validate_port_name(name) {
                    errs.push(FieldError::invalid(&path, json!(name), msg));
                }
            }
            _ => {}
        }
    }
}

/// A port number in 1..=65535.
pub(super) fn check_port_number(port: i64, path: &str, errs: &mut Vec<FieldError>) {
    for msg in names::validate_port_number(port) {
        errs.push(FieldError::invalid(path, json!(port), msg));
    }
}

/// A port's protocol: TCP, UDP or SCTP (defaults make it TCP when left out).
pub(super) fn check_protocol(port: &Value, at: &str, errs: &mut Vec<FieldError>) {
    check_enum(port, "protocol", at, PROTOCOLS, errs);
}

fn check_volume_mounts(c: &Value, path: &str, volumes: &HashSet<String>, errs: &mut Vec<FieldError>) {
    let mut mount_points = HashSet::new();
    for (i, mount) in items(c, "volumeMounts").iter().enumerate() {
        let at = format!("{path}[{i}]");
        let name = text(mount, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{at}.name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(not_found(&format!("{at}.name"), name));
        }
        let mount_path = text(mount, "mountPath");
        if mount_path.is_empty() {
            errs.push(FieldError::required(format!("{at}.mountPath"), ""));
        } else if !mount_points.insert(mount_path.to_string()) {
            errs.push(FieldError::invalid(format!("{at}.mountPath"), json!(mount_path), "must be unique"));
        }
    }
}

/// Upstream reports a reference to a missing volume as `Not found: "name"`. `FieldErrorKind`
/// has no NotFound variant yet, so this is an Invalid error until errors.rs grows one.
fn not_found(path: &str, value: &str) -> FieldError {
    FieldError::not_found(path, json!(value))
}

/// Fields of a running pod's spec that an update may change; everything else is fixed at creation.
const MUTABLE_POD_FIELDS: &[&str] = &["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"];

/// On update, a pod's spec may only change images, tolerations and deadlines (and gain a node once).
pub(super) fn check_pod_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let strip = |spec: &Value, other: &Value| {
        let mut spec = spec.clone();
        if let Some(map) = spec.as_object_mut() {
            MUTABLE_POD_FIELDS.iter().for_each(|k| {
                map.remove(*k);
            });
            // Binding sets nodeName once; the scheduler writes it on an unbound pod.
            if text(other, "nodeName").is_empty() {
                map.remove("nodeName");
            }
            for list in ["containers", "initContainers"] {
                for c in map.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                    if let Some(c) = c.as_object_mut() {
                        c.remove("image");
                    }
                }
            }
        }
        spec
    };
    if strip(&new["spec"], &old["spec"]) != strip(&old["spec"], &old["spec"]) {
        errs.push(FieldError::forbidden(
            "spec",
            "pod updates may not change fields other than `spec.containers[*].image`,\
             `spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to \
             existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was \
             previously negative)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(spec: Value) -> Vec<String> {
        let mut errs = Vec::new();
        check_pod_spec(&spec, "spec", &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    fn spec_with(container: Value) -> Value {
        json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [container]})
    }

    #[test]
    fn pod_spec_rules_read_like_upstream() {
        let ok = json!({"name": "web", "image": "nginx"});
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (spec_with(ok.clone()), vec![]),
            (
                json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": []}),
                vec!["spec.containers: Required value"],
            ),
            (spec_with(json!({"image": "nginx"})), vec!["spec.containers[0].name: Required value"]),
            (spec_with(json!({"name": "web"})), vec!["spec.containers[0].image: Required value"]),
            (
                spec_with(json!({"name": "Web", "image": "nginx"})),
                vec![
                    "spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of \
                        lower case alphanumeric characters or '-', and must start and end with an alphanumeric \
                        character (e.g. 'my-name',  or '123-abc', regex used for validation is \
                        '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                ],
            ),
            (
                json!({"restartPolicy": "Sometimes", "dnsPolicy": "ClusterFirst", "containers": [ok.clone()]}),
                vec![
                    "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \
                        \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"dnsPolicy": "ClusterFirst", "containers": [ok.clone()]}),
                vec!["spec.restartPolicy: Required value"],
            ),
            (
                spec_with(
                    json!({"name": "web", "image": "nginx", "ports": [{"containerPort": 70000, "protocol": "TCP"}]}),
                ),
                vec![
                    "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, \
                        inclusive",
                ],
            ),
            (
                spec_with(json!({"name": "web", "image": "nginx", "ports": [{"protocol": "TCP"}]})),
                vec!["spec.containers[0].ports[0].containerPort: Required value"],
            ),
            (
                spec_with(
                    json!({"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}),
                ),
                vec![
                    "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \
                        \"TCP\", \"UDP\"",
                ],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(errors(spec.clone()), want, "{spec}");
        }
    }

    #[test]
    fn container_names_are_unique_across_init_and_app_containers() {
        let spec = json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "web", "image": "nginx"}, {"name": "web", "image": "nginx"}],
            "initContainers": [{"name": "web", "image": "busybox"}]});
        assert_eq!(
            errors(spec),
            [
                "spec.containers[1].name: Duplicate value: \"web\"",
                "spec.initContainers[0].name: Duplicate value: \"web\"",
            ]
        );
    }

    #[test]
    fn volume_mounts_must_name_a_declared_volume() {
        let spec = json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "web", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "html", "emptyDir": {}}]});
        let errs = errors(spec);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec.containers[0].volumeMounts[0].name: "), "{errs:?}");
        assert!(errs[0].contains("\"data\""), "{errs:?}");
    }

    #[test]
    fn volumes_need_unique_names_and_one_source() {
        let spec = json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [{"name": "c",
            "image": "i"}],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}, "configMap": {"name": "c"}},
                {"name": "s", "secret": {}}]});
        assert_eq!(
            errors(spec),
            [
                "spec.volumes[1].emptyDir: Forbidden: may not specify more than 1 volume type",
                "spec.volumes[1].name: Duplicate value: \"v\"",
                "spec.volumes[2].secret.secretName: Required value",
            ]
        );
    }

    #[test]
    fn duplicate_mount_paths_are_rejected() {
        let spec = json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "volumes": [{"name": "a",
            "emptyDir": {}}],
            "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "a",
                "mountPath": "/x"}]}]});
        assert_eq!(
            errors(spec),
            ["spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/x\": must be unique"]
        );
    }

    #[test]
    fn pod_updates_may_change_images_but_not_commands() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}});
        let mut errs = Vec::new();
        check_pod_update(
            &json!({"spec": {"containers": [{"name": "c", "image": "nginx:2"}], "nodeName": "node-1"}}),
            &old,
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs:?}");
        check_pod_update(
            &json!({"spec": {"containers": [{"name": "c", "image": "nginx:1", "command": ["sh"]}]}}),
            &old,
            &mut errs,
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].to_string().starts_with(
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"
            )
        );
    }
}

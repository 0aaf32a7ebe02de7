//! Checks for Services, ConfigMaps, Secrets and RBAC objects.

use super::{meta, pod};
use crate::errors::FieldError;
use crate::names;
use serde_json::{Value, json};
use std::collections::HashSet;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items(obj: &Value, key: &str) -> Vec<Value> {
    obj.get(key).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Services: ports (required unless headless or ExternalName), type, affinity, selector labels.
pub(super) fn check_service(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let kind = text(spec, "type");
    let headless = text(spec, "clusterIP") == "None";
    let ports = items(spec, "ports");
    if ports.is_empty() && !headless && kind != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if kind == "ExternalName" {
        let external = text(spec, "externalName");
        if external.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        }
        for msg in names::validate_dns1123_subdomain(external).into_iter().filter(|_| !external.is_empty()) {
            errs.push(FieldError::invalid("spec.externalName", json!(external), msg));
        }
    }
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        check_service_port(port, &format!("spec.ports[{i}]"), ports.len() > 1, &mut port_names, errs);
    }
    meta::check_labels(&spec["selector"], "spec.selector", errs);
    pod::check_enum(spec, "sessionAffinity", "spec", &["ClientIP", "None"], errs);
    pod::check_enum(spec, "type", "spec", SERVICE_TYPES, errs);
    check_node_ports(&ports, kind, errs);
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let key = json!({"port": port["port"], "protocol": port["protocol"]});
        if !seen.insert(key.to_string()) {
            errs.push(FieldError::duplicate(format!("spec.ports[{i}]"), key));
        }
    }
    let cluster_ip = text(spec, "clusterIP");
    if !cluster_ip.is_empty() && !headless && cluster_ip.parse::<std::net::IpAddr>().is_err() {
        let detail = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
        errs.push(FieldError::invalid("spec.clusterIPs[0]", json!(cluster_ip), detail));
    }
    if let Some(old) = old {
        check_cluster_ip_update(spec, &old["spec"], errs);
    }
}

fn check_service_port(
    port: &Value,
    at: &str,
    require_name: bool,
    seen: &mut HashSet<String>,
    errs: &mut Vec<FieldError>,
) {
    let name = text(port, "name");
    if require_name && name.is_empty() {
        errs.push(FieldError::required(format!("{at}.name"), ""));
    } else if !name.is_empty() {
        for msg in names::validate_dns1123_label(name) {
            errs.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
        }
        if !seen.insert(name.to_string()) {
            errs.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
        }
    }
    pod::check_port_number(port["port"].as_i64().unwrap_or(0), &format!("{at}.port"), errs);
    pod::check_protocol(port, at, errs);
    match &port["targetPort"] {
        Value::Number(n) => pod::check_port_number(n.as_i64().unwrap_or(0), &format!("{at}.targetPort"), errs),
        Value::String(s) => {
            for msg in names::validate_port_name(s) {
                errs.push(FieldError::invalid(format!("{at}.targetPort"), json!(s), msg));
            }
        }
        _ => {}
    }
}

/// ClusterIP services may not pin node ports; other types need them inside the node-port range.
fn check_node_ports(ports: &[Value], kind: &str, errs: &mut Vec<FieldError>) {
    for (i, port) in ports.iter().enumerate() {
        let Some(node_port) = port["nodePort"].as_i64().filter(|n| *n != 0) else { continue };
        let at = format!("spec.ports[{i}].nodePort");
        if kind == "ClusterIP" {
            errs.push(FieldError::forbidden(at, "may not be used when `type` is 'ClusterIP'"));
        } else if !(30000..=32767).contains(&node_port) {
            errs.push(FieldError::invalid(
                at,
                json!(node_port),
                "provided port is not in the valid range. The range of valid ports is 30000-32767",
            ));
        }
    }
}

/// Once allocated, a service's cluster IP stays (except when switching to or from ExternalName).
fn check_cluster_ip_update(spec: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let (new_ip, old_ip) = (text(spec, "clusterIP"), text(old, "clusterIP"));
    let external = text(spec, "type") == "ExternalName" || text(old, "type") == "ExternalName";
    if !external && !new_ip.is_empty() && !old_ip.is_empty() && new_ip != old_ip {
        let value = spec.get("clusterIPs").cloned().unwrap_or_else(|| json!([new_ip]));
        errs.push(FieldError::invalid("spec.clusterIPs[0]", value, "may not change once set"));
    }
}

/// Data keys must be valid config keys, and a key may not be in both `data` and `binaryData`.
fn check_data_keys(obj: &Value, section: &str, errs: &mut Vec<FieldError>) {
    for key in obj[section].as_object().into_iter().flatten().map(|(k, _)| k) {
        for msg in names::validate_config_key(key) {
            errs.push(FieldError::invalid(format!("{section}[{key}]"), json!(key), msg));
        }
    }
}

/// An object marked `immutable: true` keeps its data and the flag itself.
fn check_immutable_data(obj: &Value, old: &Value, sections: &[&str], errs: &mut Vec<FieldError>) {
    if old["immutable"].as_bool() != Some(true) {
        return;
    }
    if obj["immutable"].as_bool() != Some(true) {
        errs.push(FieldError::forbidden("immutable", "field is immutable when `immutable` is set"));
    }
    for section in sections {
        if obj[*section] != old[*section] {
            errs.push(FieldError::forbidden(*section, "field is immutable when `immutable` is set"));
        }
    }
}

/// ConfigMaps: keys in `data` and `binaryData`, no key in both; immutable ones stay as they are.
pub(super) fn check_config_map(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_data_keys(obj, "data", errs);
    check_data_keys(obj, "binaryData", errs);
    for key in obj["binaryData"].as_object().into_iter().flatten().map(|(k, _)| k) {
        if obj["data"].get(key).is_some() {
            errs.push(FieldError::invalid(
                format!("data[{key}]"),
                json!(key),
                "duplicate of key present in binaryData",
            ));
        }
    }
    if let Some(old) = old {
        check_immutable_data(obj, old, &["data", "binaryData"], errs);
    }
}

/// Keys that each built-in Secret type needs in `data`.
const SECRET_REQUIRED_KEYS: &[(&str, &[&str])] = &[
    ("kubernetes.io/dockercfg", &[".dockercfg"]),
    ("kubernetes.io/dockerconfigjson", &[".dockerconfigjson"]),
    ("kubernetes.io/ssh-auth", &["ssh-privatekey"]),
    ("kubernetes.io/tls", &["tls.crt", "tls.key"]),
];

/// Secrets: keys, the keys its type requires, and on update a fixed type.
pub(super) fn check_secret(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_data_keys(obj, "data", errs);
    let kind = text(obj, "type");
    let has = |key: &str| obj["data"].get(key).is_some();
    for (_, keys) in SECRET_REQUIRED_KEYS.iter().filter(|(t, _)| *t == kind) {
        for key in keys.iter().filter(|k| !has(k)) {
            errs.push(FieldError::required(format!("data[{key}]"), ""));
        }
    }
    if kind == "kubernetes.io/basic-auth" && !has("username") && !has("password") {
        errs.push(FieldError::required("data[username]", ""));
        errs.push(FieldError::required("data[password]", ""));
    }
    let sa_key = "kubernetes.io/service-account.name";
    if kind == "kubernetes.io/service-account-token" && text(&obj["metadata"]["annotations"], sa_key).is_empty() {
        errs.push(FieldError::required(format!("metadata.annotations[{sa_key}]"), ""));
    }
    if let Some(old) = old {
        if text(old, "type") != kind {
            errs.push(FieldError::invalid("type", json!(kind), "field is immutable"));
        }
        check_immutable_data(obj, old, &["data"], errs);
    }
}

/// Roles: every rule names verbs, and either resources (with groups) or non-resource URLs.
pub(super) fn check_role(obj: &Value, _old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_rules(obj, true, errs);
}

/// ClusterRoles: the same rules, where non-resource URLs are allowed.
pub(super) fn check_cluster_role(obj: &Value, _old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_rules(obj, false, errs);
}

fn check_rules(obj: &Value, namespaced: bool, errs: &mut Vec<FieldError>) {
    let count = |rule: &Value, key: &str| rule[key].as_array().map_or(0, Vec::len);
    for (i, rule) in items(obj, "rules").iter().enumerate() {
        let at = format!("rules[{i}]");
        if count(rule, "verbs") == 0 {
            errs.push(FieldError::required(format!("{at}.verbs"), "verbs must contain at least one value"));
        }
        if count(rule, "nonResourceURLs") > 0 {
            let urls = rule["nonResourceURLs"].clone();
            if namespaced {
                errs.push(FieldError::invalid(
                    format!("{at}.nonResourceURLs"),
                    urls.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if count(rule, "apiGroups") + count(rule, "resources") + count(rule, "resourceNames") > 0 {
                errs.push(FieldError::invalid(
                    format!("{at}.nonResourceURLs"),
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if count(rule, "apiGroups") == 0 {
            errs.push(FieldError::required(
                format!("{at}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if count(rule, "resources") == 0 {
            errs.push(FieldError::required(
                format!("{at}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

/// RoleBindings: a roleRef to a Role or ClusterRole, valid subjects, and a roleRef that never changes.
pub(super) fn check_role_binding(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_binding(obj, old, &["Role", "ClusterRole"], true, errs);
}

/// ClusterRoleBindings: as RoleBindings, but only to ClusterRoles, and service accounts need a namespace.
pub(super) fn check_cluster_role_binding(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    check_binding(obj, old, &["ClusterRole"], false, errs);
}

fn check_binding(obj: &Value, old: Option<&Value>, kinds: &[&str], namespaced: bool, errs: &mut Vec<FieldError>) {
    let role_ref = &obj["roleRef"];
    let group = text(role_ref, "apiGroup");
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported("roleRef.apiGroup", json!(group), &[RBAC_GROUP]));
    }
    let kind = text(role_ref, "kind");
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported("roleRef.kind", json!(kind), kinds));
    }
    let name = text(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in names::validate_path_segment_name(name, false) {
            errs.push(FieldError::invalid("roleRef.name", json!(name), msg));
        }
    }
    for (i, subject) in items(obj, "subjects").iter().enumerate() {
        check_subject(subject, &format!("subjects[{i}]"), namespaced, errs);
    }
    if let Some(old) = old
        && old["roleRef"] != *role_ref
    {
        errs.push(FieldError::invalid("roleRef", role_ref.clone(), "cannot change roleRef"));
    }
}

fn check_subject(subject: &Value, at: &str, namespaced: bool, errs: &mut Vec<FieldError>) {
    let name = text(subject, "name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{at}.name"), ""));
    }
    let group = text(subject, "apiGroup");
    match text(subject, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in names::validate_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(format!("{at}.name"), json!(name), msg));
                }
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(format!("{at}.apiGroup"), json!(group), &[""]));
            }
            if !namespaced && text(subject, "namespace").is_empty() {
                errs.push(FieldError::required(format!("{at}.namespace"), ""));
            }
        }
        "User" | "Group" if group != RBAC_GROUP => {
            errs.push(FieldError::not_supported(format!("{at}.apiGroup"), json!(group), &[RBAC_GROUP]));
        }
        "User" | "Group" => {}
        other => errs.push(FieldError::not_supported(
            format!("{at}.kind"),
            json!(other),
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&Value, Option<&Value>, &mut Vec<FieldError>);

    fn run(check: Check, obj: &Value, old: Option<&Value>) -> Vec<String> {
        let mut errs = Vec::new();
        check(obj, old, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    fn service(spec: Value) -> Value {
        let mut base = json!({"type": "ClusterIP", "sessionAffinity": "None",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]});
        for (k, v) in spec.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        json!({"spec": base})
    }

    #[test]
    fn service_rules_read_like_upstream() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({}), vec![]),
            (json!({"ports": []}), vec!["spec.ports: Required value"]),
            (json!({"ports": [], "clusterIP": "None"}), vec![]),
            (
                json!({"clusterIP": "ten"}),
                vec![
                    "spec.clusterIPs[0]: Invalid value: \"ten\": must be a valid IP address, (e.g. 10.9.8.7 or \
                        2001:db8::ffff)",
                ],
            ),
            (
                json!({"ports": [{"port": 0, "protocol": "TCP", "targetPort": 80}]}),
                vec!["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"],
            ),
            (
                json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 443, "protocol": "TCP",
                    "targetPort": 443}]}),
                vec!["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
            ),
            (
                json!({"type": "Magic"}),
                vec![
                    "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \
                        \"LoadBalancer\", \"NodePort\"",
                ],
            ),
            (
                json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}]}),
                vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80,
                    "nodePort": 80}]}),
                vec![
                    "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of \
                        valid ports is 30000-32767",
                ],
            ),
            (json!({"type": "ExternalName", "ports": []}), vec!["spec.externalName: Required value"]),
            (
                json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": "Web"}]}),
                vec![
                    "spec.ports[0].targetPort: Invalid value: \"Web\": must contain only alpha-numeric characters \
                        (a-z, 0-9), and hyphens (-)",
                ],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(run(check_service, &service(spec.clone()), None), want, "{spec}");
        }
    }

    #[test]
    fn a_service_keeps_its_cluster_ip() {
        let old = service(json!({"clusterIP": "10.96.0.10"}));
        assert!(run(check_service, &service(json!({"clusterIP": "10.96.0.10"})), Some(&old)).is_empty());
        assert_eq!(
            run(check_service, &service(json!({"clusterIP": "10.96.0.11"})), Some(&old)),
            ["spec.clusterIPs[0]: Invalid value: [\"10.96.0.11\"]: may not change once set",]
        );
    }

    #[test]
    fn config_map_and_secret_keys_are_checked() {
        let cm = json!({"data": {"good.key": "1", "bad key": "2"}, "binaryData": {"good.key": "AA=="}});
        assert_eq!(
            run(check_config_map, &cm, None),
            [
                "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric \
                    characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for \
                    validation is '[-._a-zA-Z0-9]+')",
                "data[good.key]: Invalid value: \"good.key\": duplicate of key present in binaryData",
            ]
        );
        let secret = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "AA=="}});
        assert_eq!(run(check_secret, &secret, None), ["data[tls.key]: Required value"]);
    }

    #[test]
    fn secret_type_and_immutable_data_cannot_change() {
        let old = json!({"type": "Opaque", "immutable": true, "data": {"a": "AA=="}});
        let new = json!({"type": "kubernetes.io/basic-auth", "immutable": true, "data": {"username": "AA=="}});
        assert_eq!(
            run(check_secret, &new, Some(&old)),
            [
                "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable",
                "data: Forbidden: field is immutable when `immutable` is set",
            ]
        );
        let cm_old = json!({"immutable": true, "data": {"a": "1"}});
        assert_eq!(
            run(check_config_map, &json!({"data": {"a": "1"}}), Some(&cm_old)),
            ["immutable: Forbidden: field is immutable when `immutable` is set",]
        );
    }

    #[test]
    fn role_rules_need_verbs_groups_and_resources() {
        let role = json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"]}, {"verbs": ["get"],
            "nonResourceURLs": ["/healthz"]}]});
        assert_eq!(
            run(check_role, &role, None),
            [
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[1].resources: Required value: resource rules must supply at least one resource",
                "rules[2].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to \
                    non-resource URLs",
            ]
        );
        let cluster_role = json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        assert!(run(check_cluster_role, &cluster_role, None).is_empty());
    }

    fn binding(role_ref: Value, subjects: Value) -> Value {
        json!({"roleRef": role_ref, "subjects": subjects})
    }

    #[test]
    fn binding_rules_read_like_upstream() {
        let good_ref = json!({"apiGroup": RBAC_GROUP, "kind": "Role", "name": "reader"});
        let cases: Vec<(Check, Value, Vec<&str>)> = vec![
            (
                check_role_binding,
                binding(good_ref.clone(), json!([{"kind": "User", "name": "jane", "apiGroup": RBAC_GROUP}])),
                vec![],
            ),
            (
                check_role_binding,
                binding(json!({"apiGroup": RBAC_GROUP}), json!([])),
                vec![
                    "roleRef.kind: Unsupported value: \"\": supported values: \"Role\", \"ClusterRole\"",
                    "roleRef.name: Required value",
                ],
            ),
            (
                check_cluster_role_binding,
                binding(good_ref.clone(), json!([{"kind": "ServiceAccount", "name": "bot"}])),
                vec![
                    "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                    "subjects[0].namespace: Required value",
                ],
            ),
            (
                check_role_binding,
                binding(good_ref.clone(), json!([{"kind": "Robot", "name": "r2"}, {"kind": "User", "name": "x"}])),
                vec![
                    "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \
                        \"Group\"",
                    "subjects[1].apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
                ],
            ),
        ];
        for (check, obj, want) in cases {
            assert_eq!(run(check, &obj, None), want, "{obj}");
        }
    }

    #[test]
    fn a_bindings_role_ref_cannot_change() {
        let old = binding(json!({"apiGroup": RBAC_GROUP, "kind": "Role", "name": "reader"}), json!([]));
        let new = binding(json!({"apiGroup": RBAC_GROUP, "kind": "Role", "name": "writer"}), json!([]));
        assert_eq!(
            run(check_role_binding, &new, Some(&old)),
            ["roleRef: Invalid value: \
                    {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"writer\"}: cannot change \
                    roleRef",]
        );
    }
}

//! Checks shared by every kind: object metadata, labels, annotations and label selectors.

use crate::errors::{FieldError, FieldErrorKind};
use crate::names;
use crate::registry::ResourceType;
use serde_json::{Map, Value, json};

/// Annotations may hold at most this many bytes, keys and values together.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Checks `metadata` on create and update: name or generateName, namespace, labels and annotations.
pub(super) fn check_object_meta(rt: &ResourceType, obj: &Value, errs: &mut Vec<FieldError>) {
    let meta = &obj["metadata"];
    let (name, generate) = (text(meta, "name"), text(meta, "generateName"));
    if !generate.is_empty() {
        for msg in names::validate_generate_name(&rt.kind, generate) {
            errs.push(FieldError::invalid("metadata.generateName", json!(generate), msg));
        }
    }
    if name.is_empty() && generate.is_empty() {
        errs.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else if !name.is_empty() {
        for msg in names::validate_object_name(&rt.kind, name) {
            errs.push(FieldError::invalid("metadata.name", json!(name), msg));
        }
    }
    // The request path supplies the namespace before admission, so an empty one is not reported here.
    let namespace = text(meta, "namespace");
    if rt.namespaced {
        for msg in names::validate_dns1123_label(namespace).into_iter().filter(|_| !namespace.is_empty()) {
            errs.push(FieldError::invalid("metadata.namespace", json!(namespace), msg));
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
    }
    check_labels(&meta["labels"], "metadata.labels", errs);
    check_annotations(&meta["annotations"], "metadata.annotations", errs);
}

/// On update: name, namespace and uid stay what they were.
pub(super) fn check_object_meta_update(obj: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    for key in ["name", "namespace", "uid"] {
        let (new, before) = (text(&obj["metadata"], key), text(&old["metadata"], key));
        // An empty uid means "keep the stored one"; names and namespaces are compared as given.
        if new != before && !(key == "uid" && new.is_empty()) {
            errs.push(FieldError::invalid(format!("metadata.{key}"), json!(new), "field is immutable"));
        }
    }
}

/// Label keys must be qualified names and values valid label values.
pub(super) fn check_labels(labels: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(labels) = labels.as_object() else { return };
    for (key, value) in labels {
        for msg in names::validate_qualified_name(key) {
            errs.push(FieldError::invalid(path, json!(key), msg));
        }
        let value = value.as_str().unwrap_or("");
        for msg in names::validate_label_value(value) {
            errs.push(FieldError::invalid(path, json!(value), msg));
        }
    }
}

/// Annotation keys must be qualified names (case aside); all of them together stay under 256 KiB.
pub(super) fn check_annotations(annotations: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(annotations) = annotations.as_object() else { return };
    let mut total = 0;
    for (key, value) in annotations {
        for msg in names::validate_qualified_name(&key.to_lowercase()) {
            errs.push(FieldError::invalid(path, json!(key), msg));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        errs.push(too_long(path, ANNOTATIONS_MAX_BYTES));
    }
}

/// A `Too long` error for a field over its byte limit.
pub(super) fn too_long(path: &str, limit: usize) -> FieldError {
    FieldError {
        kind: FieldErrorKind::TooLong,
        field: path.to_string(),
        value: None,
        detail: format!("may not be more than {limit} bytes"),
    }
}

/// Checks a label selector's shape: label syntax in matchLabels, operators and values in matchExpressions.
pub(super) fn check_label_selector(selector: &Value, path: &str, errs: &mut Vec<FieldError>) {
    check_labels(&selector["matchLabels"], &format!("{path}.matchLabels"), errs);
    let expressions = selector["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, expr) in expressions.iter().enumerate() {
        let at = format!("{path}.matchExpressions[{i}]");
        let values = expr["values"].as_array().map_or(0, Vec::len);
        match text(expr, "operator") {
            "In" | "NotIn" if values == 0 => errs.push(FieldError::required(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if values > 0 => errs.push(FieldError::forbidden(
                format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                errs.push(FieldError::invalid(format!("{at}.operator"), json!(other), "not a valid selector operator"))
            }
        }
        let key = text(expr, "key");
        for msg in names::validate_qualified_name(key) {
            errs.push(FieldError::invalid(format!("{at}.key"), json!(key), msg));
        }
    }
}

/// Whether a selector has no requirements at all (and so would match everything).
pub(super) fn selector_is_empty(selector: &Value) -> bool {
    let labels = selector["matchLabels"].as_object().is_none_or(Map::is_empty);
    let exprs = selector["matchExpressions"].as_array().is_none_or(Vec::is_empty);
    labels && exprs
}

/// Whether a set of labels satisfies a label selector.
pub(super) fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let labels_ok = match_labels.into_iter().all(|(k, v)| label(k) == v.as_str());
    let expressions = selector["matchExpressions"].as_array().into_iter().flatten();
    let exprs_ok = expressions.into_iter().all(|expr| {
        let current = label(text(expr, "key"));
        let listed = |v: &str| expr["values"].as_array().is_some_and(|vs| vs.iter().any(|x| x.as_str() == Some(v)));
        match text(expr, "operator") {
            "In" => current.is_some_and(listed),
            "NotIn" => !current.is_some_and(listed),
            "Exists" => current.is_some(),
            "DoesNotExist" => current.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn rt(kind: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.kind == kind).expect("kind is served")
    }

    fn meta_errors(kind: &str, meta: Value) -> Vec<String> {
        let mut errs = Vec::new();
        check_object_meta(rt(kind), &json!({"metadata": meta}), &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn metadata_rules_read_like_upstream() {
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("Pod", json!({"name": "web", "namespace": "default"}), vec![]),
            ("Pod", json!({"generateName": "web-", "namespace": "default"}), vec![]),
            (
                "Pod",
                json!({"namespace": "default"}),
                vec!["metadata.name: Required value: name or generateName is required"],
            ),
            ("Pod", json!({"name": "web"}), vec![]),
            (
                "Namespace",
                json!({"name": "a", "namespace": "b"}),
                vec!["metadata.namespace: Forbidden: not allowed on this type"],
            ),
            (
                "Pod",
                json!({"name": "web", "namespace": "Team"}),
                vec![
                    "metadata.namespace: Invalid value: \"Team\": a lowercase RFC 1123 label must consist of lower \
                        case alphanumeric characters or '-', and must start and end with an alphanumeric character \
                        (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                ],
            ),
            (
                "ConfigMap",
                json!({"name": "Web", "namespace": "default"}),
                vec![
                    "metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain must consist of lower case \
                        alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
                        (e.g. 'example.com', regex used for validation is \
                        '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                ],
            ),
            (
                "Pod",
                json!({"name": "p", "namespace": "default", "labels": {"app": "bad value"}}),
                vec![
                    "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty string or consist \
                        of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
                        character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
                        '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                ],
            ),
            (
                "Pod",
                json!({"name": "p", "namespace": "default", "labels": {"/app": "x"}}),
                vec!["metadata.labels: Invalid value: \"/app\": prefix part must be non-empty"],
            ),
            (
                "Pod",
                json!({"name": "p", "namespace": "default", "annotations": {"Example.com/Note": "ok", "a b": "x"}}),
                vec![
                    "metadata.annotations: Invalid value: \"a b\": name part must consist of alphanumeric characters, \
                        '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or \
                        'my.name',  or '123-abc', regex used for validation is \
                        '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                ],
            ),
        ];
        for (kind, meta, want) in cases {
            assert_eq!(meta_errors(kind, meta.clone()), want, "{kind} {meta}");
        }
    }

    #[test]
    fn annotations_over_256_kib_are_too_long() {
        let big = "x".repeat(ANNOTATIONS_MAX_BYTES);
        let errs = meta_errors("Pod", json!({"name": "p", "namespace": "d", "annotations": {"note": big}}));
        assert_eq!(errs, ["metadata.annotations: Too long: may not be more than 262144 bytes"]);
    }

    #[test]
    fn names_namespaces_and_uids_cannot_change() {
        let old = json!({"metadata": {"name": "a", "namespace": "default", "uid": "1"}});
        let mut errs = Vec::new();
        check_object_meta_update(&json!({"metadata": {"name": "b", "namespace": "default"}}), &old, &mut errs);
        check_object_meta_update(
            &json!({"metadata": {"name": "a", "namespace": "default", "uid": "2"}}),
            &old,
            &mut errs,
        );
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"2\": field is immutable"
            ]
        );
    }

    #[test]
    fn selectors_are_checked_and_matched() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front"]}, {"key": "canary", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&selector, &json!({"app": "web", "tier": "front"})));
        assert!(!selector_matches(&selector, &json!({"app": "web", "tier": "back"})));
        assert!(!selector_matches(&selector, &json!({"app": "web", "tier": "front", "canary": "1"})));
        assert!(selector_is_empty(&json!({})));
        let mut errs = Vec::new();
        check_label_selector(
            &json!({"matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Near"}]}),
            "spec.selector",
            &mut errs,
        );
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' \
                    or 'NotIn'",
                "spec.selector.matchExpressions[1].operator: Invalid value: \"Near\": not a valid selector operator",
            ]
        );
    }
}

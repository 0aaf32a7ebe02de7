//! What the server does to every object on create and update: server-owned metadata, status
//! handling, generation, field validation, defaults and validation — in upstream's order.

use crate::admission;
use crate::errors::{ApiError, ApiResult};
use crate::object;
use crate::registry::{CreateStep, ResourceType};
use crate::schema;
use serde_json::{Map, Value, json};

/// How to treat fields the kind's schema does not know (`?fieldValidation=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn the client (the server default, as upstream).
    #[default]
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// Parses the query value; the error names the accepted values.
    pub fn parse(text: &str) -> ApiResult<Self> {
        match text {
            "Ignore" => Ok(Self::Ignore),
            "Warn" | "" => Ok(Self::Warn),
            "Strict" => Ok(Self::Strict),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, not {other:?}"
            ))),
        }
    }
}

/// How strict-decoding failures begin, after the decoder's `… cannot be handled as a …: ` prefix.
pub const STRICT_PREFIX: &str = "strict decoding error: ";

/// Rejects a value of the wrong type anywhere in the object, as upstream's decoder does before
/// anything else looks at the object (so nothing later meets, say, a `metadata` that is a number).
pub fn check_types(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    // Like upstream's decoder, stop at the first value of the wrong type.
    match schema::type_errors(rt, obj).into_iter().next() {
        Some(first) => Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {first}",
            rt.kind, rt.version, rt.kind
        ))),
        None => Ok(()),
    }
}

/// Removes fields whose value is `null`, as decoding into upstream's typed objects does (every
/// optional field is omitted when empty), so `-o yaml` never shows `initContainers: null`. A
/// template's `creationTimestamp: null` stays: upstream prints a zero time that way.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| !v.is_null() || key == "creationTimestamp");
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The object as kubectl and the schema know it: checks unknown fields and removes them unless
/// Strict (types were checked on the way in, by [`check_types`]).
pub fn check_fields(
    rt: &ResourceType,
    obj: &mut Value,
    mode: FieldValidation,
    warnings: &mut Vec<String>,
) -> ApiResult<()> {
    if mode == FieldValidation::Strict {
        let unknown = schema::unknown_fields(rt, obj);
        if !unknown.is_empty() {
            let described: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
            return Err(ApiError::bad_request(format!(
                "{} in version \"{}\" cannot be handled as a {}: {STRICT_PREFIX}{}",
                rt.kind,
                rt.version,
                rt.kind,
                described.join(", ")
            )));
        }
        return Ok(());
    }
    let removed = schema::strip_unknown_fields(rt, obj);
    if mode == FieldValidation::Warn {
        warnings.extend(removed.iter().map(|f| format!("unknown field \"{f}\"")));
    }
    Ok(())
}

/// Prepares a new object for storage: server-owned metadata, initial status, defaults, validation.
pub fn prepare_create(rt: &ResourceType, mut obj: Value, now: &str, uid: String) -> ApiResult<Value> {
    let name = object::name(&obj).to_string();
    let meta = metadata_mut(&mut obj);
    for owned in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"] {
        meta.remove(owned);
    }
    meta.insert("uid".into(), json!(&uid));
    meta.insert("creationTimestamp".into(), json!(now));
    if !rt.generation_from.is_empty() {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    if rt.custom.is_some() && rt.has_subresource("status") {
        // Upstream ignores a custom resource's status on create when the subresource is on.
        obj.as_object_mut().map(|m| m.remove("status"));
    } else if rt.has_subresource("status") {
        obj["status"] = rt.initial_status.clone().unwrap_or_else(|| json!({}));
    }
    set_name_label(rt, &mut obj);
    if rt.create_steps.contains(&CreateStep::MountServiceAccount) {
        // Create-time only, as upstream's ServiceAccount admission: updates keep what the pod has.
        let suffix: String = uid.chars().filter(char::is_ascii_alphanumeric).take(5).collect();
        admission::mount_api_access(&mut obj, &suffix);
    }
    admission::apply_defaults(rt, &mut obj);
    let errors = admission::validate(rt, &obj, None);
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, &name, &errors));
    }
    Ok(obj)
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateScope {
    /// The main resource: everything but status (for kinds with a status subresource).
    Main,
    /// The `status` subresource: status only.
    Status,
}

/// Prepares an update of `old` to `new`; `None` means the update changes nothing.
pub fn prepare_update(rt: &ResourceType, old: &Value, mut new: Value, scope: UpdateScope) -> ApiResult<Option<Value>> {
    let name = object::name(old).to_string();
    if scope == UpdateScope::Status {
        let status = new.get("status").cloned().unwrap_or_else(|| json!({}));
        let also: Vec<(&str, Option<Value>)> =
            rt.status_also_writes.iter().map(|path| (path.as_str(), lookup(&new, path).cloned())).collect();
        new = old.clone();
        new["status"] = status;
        for (path, value) in also {
            set_path(&mut new, path, value);
        }
    } else if rt.has_subresource("status") {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                new.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
    let old_meta = old["metadata"].as_object();
    let meta = metadata_mut(&mut new);
    for owned in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.and_then(|m| m.get(owned)) {
            Some(v) => meta.insert(owned.into(), v.clone()),
            None => meta.remove(owned),
        };
    }
    meta.remove("selfLink");
    meta.remove("managedFields");
    set_name_label(rt, &mut new);
    admission::apply_defaults(rt, &mut new);
    let errors = admission::validate(rt, &new, Some(old));
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, &name, &errors));
    }
    // Only the main resource moves the generation: a status write never does, as upstream.
    if scope == UpdateScope::Main && rt.generation_from.iter().any(|path| lookup(&new, path) != lookup(old, path)) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(generation);
    }
    if same_but_version(&new, old) {
        return Ok(None);
    }
    Ok(Some(new))
}

/// Whether two objects are equal but for what a no-op write may still differ in: the
/// resourceVersion, and the managedFields (the field manager decides about those). Compared in
/// place: copying both objects to drop those fields cost more than the rest of a small update.
fn same_but_version(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let compared = |key: &String| key != "resourceVersion" && key != "managedFields";
    let metadata_equal = match (a.get("metadata"), b.get("metadata")) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.keys().filter(|k| compared(k)).count() == y.keys().filter(|k| compared(k)).count()
                && x.iter().filter(|(k, _)| compared(k)).all(|(k, v)| y.get(k) == Some(v))
        }
        (x, y) => x == y,
    };
    metadata_equal && a.len() == b.len() && a.iter().all(|(k, v)| k == "metadata" || b.get(k) == Some(v))
}

fn set_name_label(rt: &ResourceType, obj: &mut Value) {
    let (Some(label), Some(name)) = (&rt.name_label, obj["metadata"]["name"].as_str().map(str::to_string)) else {
        return;
    };
    if !obj["metadata"]["labels"].is_object() {
        obj["metadata"]["labels"] = json!({});
    }
    obj["metadata"]["labels"][label] = json!(name);
}

/// The value at a dotted path such as `metadata.annotations`.
pub fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, key| v.get(key))
}

/// Sets (or, for `None`, removes) the value at a dotted path, making the objects on the way.
fn set_path(obj: &mut Value, path: &str, value: Option<Value>) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut at = obj;
    for part in parts {
        let Some(map) = at.as_object_mut() else { return };
        at = map.entry(part).or_insert_with(|| json!({}));
    }
    match (value, at.as_object_mut()) {
        (Some(value), Some(map)) => {
            map.insert(last.to_string(), value);
        }
        (None, Some(map)) => {
            map.remove(last);
        }
        _ => {}
    }
}

fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("metadata was just made an object")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;
    use crate::registry::builtin_type;

    fn deployments() -> &'static ResourceType {
        builtin_type("apps", "deployments")
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": {"a": "1"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web",
                            "image": "nginx"}]}}}})
    }

    #[test]
    fn a_created_deployment_gets_server_fields_and_generation_one() {
        let obj = prepare_create(deployments(), deployment(), "2026-01-01T00:00:00Z", "u-1".into()).unwrap();
        assert_eq!(obj["metadata"]["uid"], "u-1");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_eq!(obj["status"], json!({}));
    }

    #[test]
    fn an_annotation_change_bumps_a_deployments_generation_but_a_status_write_does_not() {
        let old = prepare_create(deployments(), deployment(), "t", "u".into()).unwrap();
        let mut new = old.clone();
        new["metadata"]["annotations"]["a"] = json!("2");
        let updated = prepare_update(deployments(), &old, new, UpdateScope::Main).unwrap().unwrap();
        assert_eq!(updated["metadata"]["generation"], 2);
        let mut status = old.clone();
        status["status"] = json!({"replicas": 1});
        let updated = prepare_update(deployments(), &old, status, UpdateScope::Status).unwrap().unwrap();
        assert_eq!(updated["metadata"]["generation"], 1);
        assert_eq!(updated["status"]["replicas"], 1);
    }

    #[test]
    fn an_update_that_changes_nothing_is_a_no_op() {
        let old = prepare_create(deployments(), deployment(), "t", "u".into()).unwrap();
        assert!(prepare_update(deployments(), &old, old.clone(), UpdateScope::Main).unwrap().is_none());
    }

    #[test]
    fn the_main_resource_cannot_change_status() {
        let old = prepare_create(deployments(), deployment(), "t", "u".into()).unwrap();
        let mut new = old.clone();
        new["status"] = json!({"replicas": 9});
        assert!(prepare_update(deployments(), &old, new, UpdateScope::Main).unwrap().is_none());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_bad_request_naming_the_kind() {
        let mut obj = deployment();
        obj["spec"]["replicas"] = json!("three");
        let err = check_types(deployments(), &obj).unwrap_err();
        assert_eq!(err.reason, Reason::BadRequest);
        assert!(
            err.message.starts_with("Deployment in version \"v1\" cannot be handled as a Deployment: "),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_fields_warn_and_are_dropped_unless_strict() {
        let mut obj = deployment();
        obj["spec"]["replica"] = json!(2);
        let mut warnings = Vec::new();
        check_fields(deployments(), &mut obj, FieldValidation::Warn, &mut warnings).unwrap();
        assert_eq!(warnings, ["unknown field \"spec.replica\""]);
        assert!(obj["spec"].get("replica").is_none());
        obj["spec"]["replica"] = json!(2);
        let err = check_fields(deployments(), &mut obj, FieldValidation::Strict, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \
                \"spec.replica\""
        );
    }

    #[test]
    fn namespaces_are_labelled_with_their_name() {
        let namespaces = builtin_type("", "namespaces");
        let ns = prepare_create(namespaces, json!({"metadata": {"name": "team"}}), "t", "u".into()).unwrap();
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
    }

    #[test]
    fn a_missing_name_is_required() {
        let mut obj = deployment();
        obj["metadata"] = json!({});
        let err = prepare_create(deployments(), obj, "t", "u".into()).unwrap_err();
        assert!(
            err.message.contains("metadata.name: Required value: name or generateName is required"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_deployment_status_write_may_record_annotations_without_a_new_generation() {
        let old = prepare_create(deployments(), deployment(), "t", "u".into()).unwrap();
        let mut new = old.clone();
        new["status"] = json!({"replicas": 1});
        new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
        new["spec"]["replicas"] = json!(5);
        let updated = prepare_update(deployments(), &old, new, UpdateScope::Status).unwrap().unwrap();
        assert_eq!(updated["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
        assert_eq!(
            (updated["spec"]["replicas"].clone(), updated["metadata"]["generation"].clone()),
            (json!(1), json!(1))
        );
    }
}

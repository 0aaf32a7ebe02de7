//! Defaults that depend on other fields, named so that `data/defaults.yaml` can refer to them.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// A computed default: gets the object holding the field and the field's name (empty for `.`),
/// and fills it in only when the user left it unset.
pub(super) type ComputeFn = fn(&mut Map<String, Value>, &str);

/// Every computed default the data file may name.
const COMPUTED: &[(&str, ComputeFn)] = &[
    ("imagePullPolicy", image_pull_policy),
    ("emptyDirWhenSourceless", empty_dir_when_sourceless),
    ("serviceAccountName", service_account_name),
    ("serviceAccountMirror", service_account_mirror),
    ("notReadyTolerations", not_ready_tolerations),
    ("jobCompletions", job_completions),
    ("podReplacementPolicy", pod_replacement_policy),
    ("jobSelectorAndLabels", job_selector_and_labels),
    ("targetPortFromPort", target_port_from_port),
    ("secretStringData", secret_string_data),
    ("hpaDefaultMetrics", hpa_default_metrics),
    ("selectorFromTemplate", selector_from_template),
];

/// An autoscaler without metrics targets 80% CPU, as upstream's autoscaling/v2 defaults.
fn hpa_default_metrics(spec: &mut Map<String, Value>, key: &str) {
    let metric = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}});
    let empty = spec.get(key).and_then(Value::as_array).is_none_or(Vec::is_empty);
    if empty {
        spec.insert(key.to_string(), json!([metric]));
    }
}

/// A ReplicationController without a selector (or labels) takes its template's labels, as upstream.
fn selector_from_template(rc: &mut Map<String, Value>, _: &str) {
    let Some(labels) = rc.get("spec").and_then(|s| s["template"]["metadata"]["labels"].as_object()).cloned() else {
        return;
    };
    if let Some(spec) = rc.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("selector").and_then(Value::as_object).is_none_or(Map::is_empty)
    {
        spec.insert("selector".into(), Value::Object(labels.clone()));
    }
    let meta = rc.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut()
        && meta.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty)
    {
        meta.insert("labels".into(), Value::Object(labels));
    }
}

/// The computed default with this name.
pub(super) fn by_name(name: &str) -> Option<ComputeFn> {
    COMPUTED.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Whether a field counts as unset: missing, null, or an empty string (Go's zero value).
pub(super) fn is_unset(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

fn set_if_unset(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unset(map.get(key)) {
        map.insert(key.to_string(), value);
    }
}

/// The tag part of an image reference: `latest` when neither a tag nor a digest is given.
fn image_tag(image: &str) -> &str {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if digest => "",
        None => "latest",
    }
}

/// `Always` for `:latest` (or no tag), `IfNotPresent` for any other tag or a digest.
fn image_pull_policy(container: &mut Map<String, Value>, key: &str) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    let policy = if !image.is_empty() && image_tag(image) == "latest" { "Always" } else { "IfNotPresent" };
    set_if_unset(container, key, json!(policy));
}

/// A volume that names no source at all becomes an emptyDir, as upstream does.
fn empty_dir_when_sourceless(volume: &mut Map<String, Value>, key: &str) {
    let has_source = volume.iter().any(|(k, v)| k != "name" && !v.is_null());
    if !has_source {
        volume.insert(key.to_string(), json!({}));
    }
}

/// The ServiceAccount admission plugin: a pod without one runs as `default`.
fn service_account_name(pod: &mut Map<String, Value>, _: &str) {
    // The ServiceAccount admission leaves a static pod's mirror alone: it runs as no account.
    if pod.get("metadata").is_some_and(|m| m["annotations"].get("kubernetes.io/config.mirror").is_some()) {
        return;
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let legacy = spec.get("serviceAccount").and_then(Value::as_str).unwrap_or("").to_string();
    let name = if legacy.is_empty() { "default".to_string() } else { legacy };
    set_if_unset(spec, "serviceAccountName", json!(name));
}

/// The deprecated `serviceAccount` always mirrors `serviceAccountName` (and fills it when only it is given).
fn service_account_mirror(spec: &mut Map<String, Value>, key: &str) {
    if is_unset(spec.get("serviceAccountName"))
        && let Some(legacy) = spec.get(key).filter(|v| !is_unset(Some(v))).cloned()
    {
        spec.insert("serviceAccountName".into(), legacy);
    }
    if let Some(name) = spec.get("serviceAccountName").filter(|v| !is_unset(Some(v))).cloned() {
        spec.insert(key.to_string(), name);
    }
}

/// The DefaultTolerationSeconds admission plugin: tolerate not-ready and unreachable nodes for 300 s.
fn not_ready_tolerations(spec: &mut Map<String, Value>, key: &str) {
    let existing = spec.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut tolerations = existing.clone();
    for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = existing.iter().any(|t| {
            let key_ok = matches!(t.get("key").and_then(Value::as_str), None | Some("")) || t["key"] == taint;
            let effect_ok = matches!(t.get("effect").and_then(Value::as_str), None | Some("") | Some("NoExecute"));
            key_ok && effect_ok
        });
        if !covered {
            tolerations
                .push(json!({"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
    spec.insert(key.to_string(), Value::Array(tolerations));
}

/// A job with neither completions nor parallelism runs once.
fn job_completions(spec: &mut Map<String, Value>, key: &str) {
    if is_unset(spec.get("parallelism")) {
        set_if_unset(spec, key, json!(1));
    }
}

/// Replacement waits for full failure when a pod failure policy is set, else for termination or failure.
fn pod_replacement_policy(spec: &mut Map<String, Value>, key: &str) {
    let policy = if is_unset(spec.get("podFailurePolicy")) { "TerminatingOrFailed" } else { "Failed" };
    set_if_unset(spec, key, json!(policy));
}

/// Labels a job's pods with its name and uid and selects on the uid, unless the user manages the
/// selector; then copies the template's labels onto the job when it has none.
fn job_selector_and_labels(job: &mut Map<String, Value>, _key: &str) {
    let name = job.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
    let uid = job.get("metadata").and_then(|m| m.get("uid")).and_then(Value::as_str).unwrap_or("").to_string();
    let Some(spec) = job.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let manual = spec.get("manualSelector").and_then(Value::as_bool).unwrap_or(false);
    if !manual && !uid.is_empty() {
        let labels = ensure_child(ensure_child(ensure_child(spec, "template"), "metadata"), "labels");
        for (label, value) in [
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("job-name", &name),
        ] {
            labels.entry(label).or_insert_with(|| json!(value));
        }
        let match_labels = ensure_child(ensure_child(spec, "selector"), "matchLabels");
        match_labels.entry("batch.kubernetes.io/controller-uid").or_insert_with(|| json!(uid));
    }
    let template_labels = spec.get("template").and_then(|t| t.get("metadata")).and_then(|m| m.get("labels")).cloned();
    if let (Some(labels @ Value::Object(_)), Some(Value::Object(meta))) = (template_labels, job.get_mut("metadata"))
        && meta.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty)
    {
        meta.insert("labels".into(), labels);
    }
}

/// The map under `key`, created (or replacing a non-object) when needed.
fn ensure_child<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let child = map.entry(key).or_insert_with(|| json!({}));
    if !child.is_object() {
        *child = json!({});
    }
    match child {
        Value::Object(inner) => inner,
        _ => unreachable!("replaced by an object just above"),
    }
}

/// A service port without a target forwards to the same port number.
fn target_port_from_port(port: &mut Map<String, Value>, key: &str) {
    let unset = is_unset(port.get(key)) || port.get(key).and_then(Value::as_i64) == Some(0);
    if let (true, Some(number)) = (unset, port.get("port").cloned()) {
        port.insert(key.to_string(), number);
    }
}

/// `stringData` is write-only: its entries are base64-encoded into `data`, taking precedence.
fn secret_string_data(secret: &mut Map<String, Value>, _key: &str) {
    let Some(Value::Object(strings)) = secret.remove("stringData") else { return };
    let data = secret.entry("data").or_insert_with(|| json!({}));
    if !data.is_object() {
        *data = json!({});
    }
    let Some(data) = data.as_object_mut() else { return };
    for (key, value) in strings {
        let text = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: ComputeFn, mut node: Value, key: &str) -> Value {
        if let Some(map) = node.as_object_mut() {
            f(map, key);
        }
        node
    }

    #[test]
    fn pull_policy_follows_the_image_tag() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry.local:5000/nginx", "Always"),
            ("registry.local:5000/nginx:1.2", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
            ("", "IfNotPresent"),
        ];
        for (image, want) in cases {
            let out = run(image_pull_policy, json!({"image": image}), "imagePullPolicy");
            assert_eq!(out["imagePullPolicy"], want, "{image}");
        }
        let kept = run(image_pull_policy, json!({"image": "nginx", "imagePullPolicy": "Never"}), "imagePullPolicy");
        assert_eq!(kept["imagePullPolicy"], "Never");
    }

    #[test]
    fn a_sourceless_volume_becomes_an_empty_dir_and_others_stay() {
        assert_eq!(
            run(empty_dir_when_sourceless, json!({"name": "v"}), "emptyDir"),
            json!({"name": "v", "emptyDir": {}})
        );
        let cm = json!({"name": "v", "configMap": {"name": "c"}});
        assert_eq!(run(empty_dir_when_sourceless, cm.clone(), "emptyDir"), cm);
    }

    #[test]
    fn default_tolerations_are_added_unless_already_tolerated() {
        let out = run(not_ready_tolerations, json!({}), "tolerations");
        assert_eq!(out["tolerations"].as_array().map(Vec::len), Some(2));
        assert_eq!(out["tolerations"][0]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(out["tolerations"][1]["tolerationSeconds"], 300);
        let all = json!({"tolerations": [{"operator": "Exists"}]});
        assert_eq!(run(not_ready_tolerations, all.clone(), "tolerations"), all);
    }

    #[test]
    fn service_account_fields_mirror_each_other() {
        let out = run(service_account_name, json!({"spec": {}}), "");
        assert_eq!(out["spec"]["serviceAccountName"], "default");
        let mirror = json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "h"}}, "spec": {}});
        assert_eq!(run(service_account_name, mirror.clone(), ""), mirror, "a mirror pod runs as no account");
        let out = run(service_account_mirror, json!({"serviceAccount": "old"}), "serviceAccount");
        assert_eq!(out, json!({"serviceAccount": "old", "serviceAccountName": "old"}));
        let out =
            run(service_account_mirror, json!({"serviceAccountName": "bot", "serviceAccount": "x"}), "serviceAccount");
        assert_eq!(out["serviceAccount"], "bot");
    }

    #[test]
    fn completions_default_only_when_parallelism_is_also_unset() {
        assert_eq!(run(job_completions, json!({}), "completions")["completions"], 1);
        assert!(run(job_completions, json!({"parallelism": 3}), "completions").get("completions").is_none());
    }

    #[test]
    fn a_job_with_a_uid_gets_a_generated_selector_and_labels() {
        let job = json!({"metadata": {"name": "pi", "uid": "u-1"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}}}}});
        let out = run(job_selector_and_labels, job, "");
        assert_eq!(out["spec"]["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}));
        assert_eq!(out["spec"]["template"]["metadata"]["labels"]["job-name"], "pi");
        assert_eq!(out["metadata"]["labels"]["app"], "pi");
        assert_eq!(out["metadata"]["labels"]["controller-uid"], "u-1");
    }

    #[test]
    fn a_manual_selector_is_left_alone() {
        let job = json!({"metadata": {"name": "pi", "uid": "u-1", "labels": {"team": "a"}},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}},
                "template": {"metadata": {"labels": {"app": "pi"}}}}});
        assert_eq!(run(job_selector_and_labels, job.clone(), ""), job);
    }

    #[test]
    fn target_port_copies_the_port_only_when_missing() {
        assert_eq!(run(target_port_from_port, json!({"port": 80}), "targetPort")["targetPort"], 80);
        assert_eq!(run(target_port_from_port, json!({"port": 80, "targetPort": 0}), "targetPort")["targetPort"], 80);
        assert_eq!(
            run(target_port_from_port, json!({"port": 80, "targetPort": "http"}), "targetPort")["targetPort"],
            "http"
        );
    }

    #[test]
    fn string_data_is_encoded_into_data() {
        let secret = json!({"data": {"a": "eA=="}, "stringData": {"b": "hello"}});
        let out = run(secret_string_data, secret, "");
        assert_eq!(out, json!({"data": {"a": "eA==", "b": "aGVsbG8="}}));
    }
}

//! A pod's volumes and its containers' environment, built from the pod spec and the objects it
//! references (ConfigMaps, Secrets, the ServiceAccount's token, the downward API).

use base64::Engine;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::object;
use gitops_sandbox_shell::vfs::Volume;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a volume cannot be set up yet (the kubelet reports `FailedMount` and retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError(pub String);

fn object(sb: &Sandbox, kind: &str, namespace: &str, name: &str) -> Option<std::sync::Arc<Value>> {
    let rt = sb.registry().by_kind("v1", kind)?;
    sb.get(rt, Some(namespace), name)
}

/// The key → bytes data of a ConfigMap or Secret (Secrets' values are base64 on the wire).
fn data_of(sb: &Sandbox, kind: &str, namespace: &str, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let obj = object(sb, kind, namespace, name)?;
    let mut out = BTreeMap::new();
    for (key, value) in obj["data"].as_object().into_iter().flatten() {
        let text = value.as_str().unwrap_or_default();
        let bytes = if kind == "Secret" {
            base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
        } else {
            text.as_bytes().to_vec()
        };
        out.insert(key.clone(), bytes);
    }
    for (key, value) in obj["binaryData"].as_object().into_iter().flatten() {
        out.insert(
            key.clone(),
            base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap_or_default()).unwrap_or_default(),
        );
    }
    Some(out)
}

/// The files of a configMap/secret source: every key, or only `items` (key → path).
fn keyed_files(
    source: &Value,
    data: BTreeMap<String, Vec<u8>>,
    what: &str,
) -> Result<Vec<(String, Vec<u8>)>, MountError> {
    let Some(items) = source["items"].as_array() else { return Ok(data.into_iter().collect()) };
    let mut files = Vec::new();
    for item in items {
        let key = item["key"].as_str().unwrap_or_default();
        match data.get(key) {
            Some(bytes) => files.push((item["path"].as_str().unwrap_or(key).to_string(), bytes.clone())),
            None if source["optional"] == true => {}
            None => return Err(MountError(format!("configmap references non-existent config key: {key} ({what})"))),
        }
    }
    Ok(files)
}

fn referenced(sb: &Sandbox, kind: &str, namespace: &str, source: &Value) -> Result<Vec<(String, Vec<u8>)>, MountError> {
    let name_field = if kind == "Secret" { "secretName" } else { "name" };
    let name = source[name_field].as_str().unwrap_or_default();
    match data_of(sb, kind, namespace, name) {
        Some(data) => keyed_files(source, data, name),
        None if source["optional"] == true => Ok(Vec::new()),
        None => Err(MountError(format!("{} \"{name}\" not found", kind.to_lowercase()))),
    }
}

/// The value of a downward API field path for this pod.
pub fn field_value(pod: &Value, path: &str, pod_ip: &str) -> String {
    let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    match path {
        "metadata.name" => text(&pod["metadata"]["name"]),
        "metadata.namespace" => text(&pod["metadata"]["namespace"]),
        "metadata.uid" => text(&pod["metadata"]["uid"]),
        "spec.nodeName" => text(&pod["spec"]["nodeName"]),
        "spec.serviceAccountName" => text(&pod["spec"]["serviceAccountName"]),
        "status.podIP" => pod_ip.to_string(),
        "status.hostIP" => super::HOST_IP.to_string(),
        "metadata.labels" | "metadata.annotations" => {
            let map = &pod["metadata"][path.trim_start_matches("metadata.")];
            map.as_object().into_iter().flatten().map(|(k, v)| format!("{k}=\"{}\"\n", text(v))).collect()
        }
        other => {
            // metadata.labels['x'] and metadata.annotations['x'].
            let Some((map, key)) = other.strip_suffix("']").and_then(|o| o.split_once("['")) else {
                return String::new();
            };
            text(&pod["metadata"][map.trim_start_matches("metadata.")][key])
        }
    }
}

fn downward_files(pod: &Value, source: &Value, pod_ip: &str) -> Vec<(String, Vec<u8>)> {
    let items = source["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|item| {
            let path = item["fieldRef"]["fieldPath"].as_str()?;
            Some((item["path"].as_str()?.to_string(), field_value(pod, path, pod_ip).into_bytes()))
        })
        .collect()
}

fn projected_files(
    sb: &Sandbox,
    pod: &Value,
    source: &Value,
    pod_ip: &str,
) -> Result<Vec<(String, Vec<u8>)>, MountError> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut files = Vec::new();
    for part in source["sources"].as_array().into_iter().flatten() {
        if let Some(token) = part.get("serviceAccountToken") {
            files.push((token["path"].as_str().unwrap_or("token").to_string(), pod_token(sb, pod)?.into_bytes()));
        } else if let Some(cm) = part.get("configMap") {
            files.extend(referenced(sb, "ConfigMap", namespace, cm)?);
        } else if let Some(secret) = part.get("secret") {
            let mut secret = secret.clone();
            secret["secretName"] = secret["name"].clone();
            files.extend(referenced(sb, "Secret", namespace, &secret)?);
        } else if let Some(downward) = part.get("downwardAPI") {
            files.extend(downward_files(pod, downward, pod_ip));
        }
    }
    Ok(files)
}

/// The pod's ServiceAccount token, as the kubelet requests it for the projected volume.
pub fn pod_token(sb: &Sandbox, pod: &Value) -> Result<String, MountError> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let sa = pod["spec"]["serviceAccountName"].as_str().unwrap_or("default");
    let name = pod["metadata"]["name"].as_str();
    gitops_sandbox_core::auth::service_account_token(sb, namespace, sa, name).map_err(|e| MountError(e.message))
}

/// A volume's files: relative path and contents.
pub type Files = Vec<(String, Vec<u8>)>;

/// The files of one volume, or `None` for an emptyDir (or a kind the sandbox treats as one).
pub fn volume_files(sb: &Sandbox, pod: &Value, volume: &Value, pod_ip: &str) -> Result<Option<Files>, MountError> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    if let Some(cm) = volume.get("configMap") {
        return referenced(sb, "ConfigMap", namespace, cm).map(Some);
    }
    if let Some(secret) = volume.get("secret") {
        return referenced(sb, "Secret", namespace, secret).map(Some);
    }
    if let Some(projected) = volume.get("projected") {
        return projected_files(sb, pod, projected, pod_ip).map(Some);
    }
    if let Some(downward) = volume.get("downwardAPI") {
        return Ok(Some(downward_files(pod, downward, pod_ip)));
    }
    Ok(None)
}

/// Builds every volume of the pod by name.
pub fn build(sb: &Sandbox, pod: &Value, pod_ip: &str) -> Result<BTreeMap<String, Volume>, MountError> {
    let mut volumes = BTreeMap::new();
    for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let name = volume["name"].as_str().unwrap_or_default().to_string();
        let built = match volume_files(sb, pod, volume, pod_ip)? {
            Some(files) => Volume::with_files(files.iter().map(|(p, b)| (p.as_str(), b.clone()))),
            None => Volume::empty(),
        };
        volumes.insert(name, built);
    }
    Ok(volumes)
}

/// Whether a volume's content comes from objects (and is refreshed when they change).
pub fn is_projected(volume: &Value) -> bool {
    ["configMap", "secret", "projected", "downwardAPI"].iter().any(|k| volume.get(*k).is_some())
}

/// The environment of a container: the image's, then the kubelet's service variables, then the
/// container's `envFrom` and `env` (later entries win, `$(VAR)` references expanded).
pub fn environment(
    sb: &Sandbox,
    pod: &Value,
    container: &Value,
    image_env: &[(String, String)],
    pod_ip: &str,
) -> Vec<(String, String)> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut env: Vec<(String, String)> = image_env.to_vec();
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| match env.iter_mut().find(|(name, _)| *name == k)
    {
        Some(slot) => slot.1 = v,
        None => env.push((k, v)),
    };
    set(&mut env, "HOSTNAME".into(), object::name(pod).into());
    for (k, v) in [
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("KUBERNETES_SERVICE_PORT", "443"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
    ] {
        set(&mut env, k.into(), v.into());
    }
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or_default();
        let data = match (from.get("configMapRef"), from.get("secretRef")) {
            (Some(r), _) => data_of(sb, "ConfigMap", namespace, r["name"].as_str().unwrap_or_default()),
            (_, Some(r)) => data_of(sb, "Secret", namespace, r["name"].as_str().unwrap_or_default()),
            _ => None,
        };
        for (k, v) in data.unwrap_or_default() {
            set(&mut env, format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap_or_default().to_string();
        let value = match &var["valueFrom"] {
            Value::Null => expand(var["value"].as_str().unwrap_or_default(), &env),
            from => value_from(sb, pod, from, pod_ip).unwrap_or_default(),
        };
        set(&mut env, name, value);
    }
    env
}

fn value_from(sb: &Sandbox, pod: &Value, from: &Value, pod_ip: &str) -> Option<String> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    if let Some(field) = from["fieldRef"]["fieldPath"].as_str() {
        return Some(field_value(pod, field, pod_ip));
    }
    let (kind, reference) = match (from.get("configMapKeyRef"), from.get("secretKeyRef")) {
        (Some(r), _) => ("ConfigMap", r),
        (_, Some(r)) => ("Secret", r),
        _ => return None,
    };
    let data = data_of(sb, kind, namespace, reference["name"].as_str()?)?;
    data.get(reference["key"].as_str()?).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Expands `$(NAME)` references to earlier variables, as the kubelet does (`$$` escapes).
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|a| a.split_once(')')) {
            match env.iter().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => out.push_str(&format!("$({name})")),
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn configmap_items_pick_keys_and_missing_keys_fail_to_mount() {
        let data: BTreeMap<String, Vec<u8>> =
            [("index.html".to_string(), b"hi".to_vec()), ("other".to_string(), b"x".to_vec())].into();
        let all = keyed_files(&json!({"name": "web"}), data.clone(), "web").unwrap();
        assert_eq!(all.len(), 2);
        let some =
            keyed_files(&json!({"items": [{"key": "index.html", "path": "site/index.html"}]}), data.clone(), "web")
                .unwrap();
        assert_eq!(some, vec![("site/index.html".to_string(), b"hi".to_vec())]);
        assert!(keyed_files(&json!({"items": [{"key": "nope", "path": "x"}]}), data, "web").is_err());
    }

    #[test]
    fn downward_fields_read_the_pod() {
        let pod = json!({"metadata": {"name": "web", "namespace": "team", "labels": {"app": "web"}}});
        assert_eq!(field_value(&pod, "metadata.namespace", ""), "team");
        assert_eq!(field_value(&pod, "metadata.labels['app']", ""), "web");
        assert_eq!(field_value(&pod, "status.podIP", "10.244.0.7"), "10.244.0.7");
    }

    #[test]
    fn variable_references_expand_like_the_kubelet() {
        let env = vec![("A".to_string(), "1".to_string())];
        assert_eq!(expand("x-$(A)-$(B)-$$(A)", &env), "x-1-$(B)-$(A)");
    }
}

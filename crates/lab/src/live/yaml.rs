//! A live object as YAML, the way `kubectl get -o yaml` shows it, without `managedFields`.

use crate::error::{Error, Result};
use gitops_lab_protocol::{ObjectRef, Text};
use kube::api::DynamicObject;
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Api, Client};

/// Fetches `object` and renders it as YAML; `managedFields` is left out as kubectl does by default.
pub async fn object_yaml(client: &Client, default_namespace: &str, object: &ObjectRef) -> Result<String> {
    let (group, version) = object.api_version.split_once('/').unwrap_or(("", object.api_version.as_str()));
    let gvk = GroupVersionKind::gvk(group, version, &object.kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk).await.map_err(|error| {
        Error::explained(
            "unknown-kind",
            Text::new(
                format!("The cluster does not serve {} {}: {error}", object.api_version, object.kind),
                format!("集群不提供 {} {}：{error}", object.api_version, object.kind),
            ),
            Some(Text::new("Check the apiVersion and kind.", "请检查 apiVersion 和 kind。")),
        )
    })?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object.namespace.as_deref().unwrap_or(default_namespace);
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let live = api.get(&object.name).await?;
    render(&live)
}

/// The object as YAML without `metadata.managedFields`, as `kubectl get -o yaml` prints it.
fn render(object: &DynamicObject) -> Result<String> {
    let mut value = serde_json::to_value(object).map_err(|e| yaml_error(&e.to_string()))?;
    crate::kubectl::get::hide_managed_fields(&mut value);
    Ok(crate::kubectl::yaml::to_kubectl_yaml(&value))
}

fn yaml_error(detail: &str) -> Error {
    Error::explained(
        "yaml",
        Text::new(format!("The object cannot be shown as YAML: {detail}"), format!("无法以 YAML 显示该对象：{detail}")),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_fields_are_left_out_and_the_rest_kept() {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "site", "namespace": "default",
                         "managedFields": [{"manager": "kubectl", "operation": "Apply"}]},
            "data": {"index.html": "<h1>hi</h1>"}
        }))
        .unwrap();
        let yaml = render(&object).unwrap();
        assert!(!yaml.contains("managedFields"), "{yaml}");
        assert!(yaml.contains("index.html: <h1>hi</h1>"), "{yaml}");
        assert!(yaml.starts_with("apiVersion: v1\n"), "{yaml}");
    }
}

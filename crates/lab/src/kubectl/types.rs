//! The resource types a cluster serves, read once from its discovery documents, so that kubectl's
//! ways of naming a type on the command line (`pods`, `pod`, `po`, `deployment.apps`, `deploy`) resolve.

use crate::error::{Error, Result};
use gitops_lab_protocol::{ErrorView, Text};
use kube::core::ApiResource;
use serde_json::Value;

/// One served resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// The resource.
    pub resource: ApiResource,
    /// Whether it is namespaced.
    pub namespaced: bool,
    /// Its short names (`po`, `deploy`).
    pub short_names: Vec<String>,
}

impl ResourceType {
    /// Whether `name` (as typed after `kubectl get`) names this type.
    pub fn answers_to(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let (name, group) = match name.split_once('.') {
            Some((name, group)) => (name.to_string(), Some(group.to_string())),
            None => (name, None),
        };
        if group.as_deref().is_some_and(|g| g != self.resource.group) {
            return false;
        }
        name == self.resource.plural
            || name == self.resource.kind.to_ascii_lowercase()
            || self.short_names.contains(&name)
    }
}

/// Reads every served type: `/api/v1` and the preferred version of every group of `/apis`.
pub async fn discover(client: &kube::Client) -> Result<Vec<ResourceType>> {
    let mut types = read_list(client, "/api/v1", "", "v1").await?;
    let groups: Value = get(client, "/apis").await?;
    for group in groups.get("groups").and_then(Value::as_array).into_iter().flatten() {
        let name = group.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(version) = group.pointer("/preferredVersion/version").and_then(Value::as_str) else { continue };
        types.extend(read_list(client, &format!("/apis/{name}/{version}"), name, version).await?);
    }
    Ok(types)
}

async fn get(client: &kube::Client, path: &str) -> Result<Value> {
    let request = http::Request::get(path).body(Vec::new()).map_err(kube::Error::HttpError)?;
    Ok(client.request::<Value>(request).await?)
}

async fn read_list(client: &kube::Client, path: &str, group: &str, version: &str) -> Result<Vec<ResourceType>> {
    let list = get(client, path).await?;
    let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Ok(list
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let plural = r.get("name")?.as_str()?;
            if plural.contains('/') {
                return None;
            }
            let kind = r.get("kind")?.as_str()?;
            let short_names = r
                .get("shortNames")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default();
            Some(ResourceType {
                resource: ApiResource {
                    group: group.into(),
                    version: version.into(),
                    api_version: api_version.clone(),
                    kind: kind.into(),
                    plural: plural.into(),
                },
                namespaced: r.get("namespaced").and_then(Value::as_bool).unwrap_or(false),
                short_names,
            })
        })
        .collect())
}

/// kubectl's error for a type name the server does not serve.
pub fn unknown_type(name: &str) -> Error {
    let mut view = ErrorView::new(
        "unknown-type",
        Text::new(
            format!("The cluster has no resource type \"{name}\"."),
            format!("集群中没有名为“{name}”的资源类型。"),
        ),
    )
    .with_hint(Text::new(
        "Check the spelling; `kubectl api-resources` lists the types (e.g. pods, deployments, configmaps).",
        "请检查拼写；`kubectl api-resources` 会列出所有类型（如 pods、deployments、configmaps）。",
    ));
    view.detail = Some(format!("error: the server doesn't have a resource type \"{name}\""));
    Error::from(view)
}

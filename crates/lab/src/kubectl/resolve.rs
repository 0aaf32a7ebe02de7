//! Maps an object's `apiVersion` and `kind` to the API resource that serves it, as kubectl's REST
//! mapper does, asking the cluster's discovery once per group version.

use super::types::{ResourceType, discover, unknown_type};
use crate::error::{Error, Result};
use gitops_lab_protocol::Text;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use std::collections::HashMap;
use std::sync::Mutex;

/// How a kind is served.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The resource (plural, group, version, kind).
    pub resource: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

/// A cache of kind → resource for one cluster.
#[derive(Default)]
pub struct Resolver {
    cache: Mutex<HashMap<(String, String), Resolved>>,
    types: tokio::sync::OnceCell<Vec<ResourceType>>,
}

impl Resolver {
    /// The type a command-line name (`pods`, `po`, `deployment.apps`) stands for.
    pub async fn resolve_type(&self, client: &kube::Client, name: &str) -> Result<ResourceType> {
        let types = self.types.get_or_try_init(|| discover(client)).await?;
        types.iter().find(|t| t.answers_to(name)).cloned().ok_or_else(|| unknown_type(name))
    }

    /// Resolves `apiVersion` + `kind`; `source` and `name` only word the error.
    pub async fn resolve(
        &self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
        name: &str,
        source: &str,
    ) -> Result<Resolved> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let resolved = match kube::discovery::pinned_kind(client, &gvk).await {
            Ok((resource, capabilities)) => {
                Resolved { resource, namespaced: matches!(capabilities.scope, Scope::Namespaced) }
            }
            Err(kube::Error::Api(status)) if status.code != 404 => return Err(kube::Error::Api(status).into()),
            Err(kube::Error::Api(_) | kube::Error::Discovery(_)) => {
                return Err(no_matches(api_version, kind, name, source));
            }
            Err(other) => return Err(other.into()),
        };
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, resolved.clone());
        Ok(resolved)
    }
}

/// kubectl's error for a kind the cluster does not serve.
pub fn no_matches(api_version: &str, kind: &str, name: &str, source: &str) -> Error {
    let output = format!(
        "error: resource mapping not found for name: \"{name}\" namespace: \"\" from \"{source}\": no matches for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first"
    );
    let mut view = gitops_lab_protocol::ErrorView::new(
        "unknown-kind",
        Text::new(
            format!("{source}: the cluster does not know the kind \"{kind}\" in version \"{api_version}\"."),
            format!("{source}：集群不认识版本“{api_version}”中的类型“{kind}”。"),
        ),
    )
    .with_hint(Text::new(
        "Check the spelling of kind and apiVersion (`kubectl api-resources` lists what the cluster serves); for a custom resource, install its CRD first.",
        "请检查 kind 和 apiVersion 的拼写（`kubectl api-resources` 会列出集群支持的资源）；如果是自定义资源，请先安装它的 CRD。",
    ));
    view.detail = Some(output);
    Error::from(view)
}

//! After a sync: wait for the Deployment's rollout by watching it (as `kubectl rollout status`
//! does), and find one of its new pods to ask for its version (through [`crate::live::http_get`]).

use crate::error::{Error, Result};
use gitops_lab_protocol::Text;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::wait::await_condition;
use std::time::Duration;

/// Whether a Deployment has finished rolling out `image`: the controller saw the latest spec, every
/// replica is updated and available, and no old replica is left.
pub fn rolled_out(deployment: &Deployment, image: &str) -> bool {
    let (Some(spec), Some(status)) = (&deployment.spec, &deployment.status) else { return false };
    let wanted = spec.replicas.unwrap_or(1);
    let runs_image =
        spec.template.spec.as_ref().is_some_and(|p| p.containers.iter().any(|c| c.image.as_deref() == Some(image)));
    let observed = status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    runs_image
        && observed
        && status.updated_replicas.unwrap_or(0) == wanted
        && status.available_replicas.unwrap_or(0) == wanted
        && status.replicas.unwrap_or(0) == wanted
}

/// Waits (by watch) until the Deployment runs `image` everywhere, at most `limit`.
pub async fn wait_rollout(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    image: &str,
    limit: Duration,
) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let image = image.to_string();
    let condition = move |d: Option<&Deployment>| d.is_some_and(|d| rolled_out(d, &image));
    match tokio::time::timeout(limit, await_condition(api, name, condition)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(Error::explained("rollout", Text::same(error.to_string()), None)),
        Err(_) => Err(Error::explained(
            "rollout-timeout",
            Text::new(
                format!("deployment/{name} in {namespace} did not finish rolling out within {} s.", limit.as_secs()),
                format!("{namespace} 中的 deployment/{name} 在 {} 秒内没有完成滚动更新。", limit.as_secs()),
            ),
            Some(Text::new(
                format!(
                    "Look at its pods: kubectl get pods -n {namespace}; kubectl describe deployment {name} -n {namespace}."
                ),
                format!(
                    "请查看它的 Pod：kubectl get pods -n {namespace}；kubectl describe deployment {name} -n {namespace}。"
                ),
            )),
        )),
    }
}

/// A ready pod of the selector running `image`, not being deleted.
pub async fn ready_pod(client: &kube::Client, namespace: &str, selector: &str, image: &str) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods.list(&ListParams::default().labels(selector)).await?;
    list.items
        .into_iter()
        .find(|pod| {
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            let runs =
                pod.spec.as_ref().is_some_and(|s| s.containers.iter().any(|c| c.image.as_deref() == Some(image)));
            ready && runs && pod.metadata.deletion_timestamp.is_none()
        })
        .and_then(|pod| pod.metadata.name)
        .ok_or_else(|| {
            Error::explained(
                "no-ready-pod",
                Text::new(
                    format!("No ready pod runs {image} in {namespace}."),
                    format!("{namespace} 中没有运行 {image} 的就绪 Pod。"),
                ),
                None,
            )
        })
}

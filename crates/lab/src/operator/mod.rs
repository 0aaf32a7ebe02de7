//! The chapter's NGINX operator (section 2.3.3) in Rust: every labelled ConfigMap becomes an nginx
//! Deployment that serves the ConfigMap's keys as its web page.
//!
//! It is a `kube::runtime::Controller`: a watch of the labelled ConfigMaps (and of the Deployments
//! it owns) feeds [`reconcile`], which server-side-applies the Deployment that
//! [`desired::site_deployment`] describes. Nothing polls. A ConfigMap whose content changes gets a
//! new content hash in the pod template, so its pods roll; a Deployment deleted or edited by hand is
//! put back; deleting the ConfigMap deletes the Deployment through its owner reference (the
//! cluster's garbage collector does that, not the operator). Only ConfigMaps with [`SITE_LABEL`] are
//! looked at, so `kube-root-ca.crt`, which Kubernetes puts in every namespace, never becomes a site.
//!
//! The operator reaches the cluster only through the Kubernetes API, the same way in the lab, on
//! the command line (`gitops-lab operator nginx`) and in a pod (`deploy/nginx-operator/`).

pub mod desired;
mod reconcile;
mod runner;

pub use reconcile::{Error, error_policy, reconcile};
pub use runner::OperatorRunner;

use crate::bus::EventBus;
use futures::{FutureExt, StreamExt};
use gitops_lab_protocol::Text;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client};
use reconcile::Context;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The label that makes a ConfigMap a site (any value; `"true"` by convention):
/// `kubectl label configmap welcome gitops-lab.dev/nginx-site=true`.
pub const SITE_LABEL: &str = "gitops-lab.dev/nginx-site";
/// The pod-template annotation holding the fingerprint of the page the pods serve.
pub const CONTENT_HASH_ANNOTATION: &str = "gitops-lab.dev/content-hash";
/// The `app.kubernetes.io/managed-by` value on the Deployments the operator makes.
pub const MANAGED_BY: &str = "gitops-lab-nginx-operator";
/// The field manager of the operator's server-side applies.
pub const FIELD_MANAGER: &str = "gitops-lab-nginx-operator";
/// The ConfigMap Kubernetes publishes in every namespace; never a site, even if someone labels it.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";

/// A running operator; stop it with [`NginxOperator::stop`] (dropping it stops it too).
pub struct NginxOperator {
    namespace: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl NginxOperator {
    /// Starts watching `namespace` with `client`; what it does is published on `bus` as notices.
    pub fn start(client: Client, namespace: &str, bus: EventBus) -> NginxOperator {
        let (stop, stopped) = oneshot::channel::<()>();
        let context = Arc::new(Context::new(client.clone(), namespace, bus));
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let deployments: Api<Deployment> = Api::namespaced(client, namespace);
        let sites = watcher::Config::default().labels(SITE_LABEL);
        let owned = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
        let controller = Controller::new(config_maps, sites)
            .owns(deployments, owned)
            .graceful_shutdown_on(stopped.map(|_| ()))
            .run(reconcile, error_policy, context.clone());
        context.notify_started();
        let task = tokio::spawn(async move {
            controller.for_each(|result| context.report(result)).await;
            context.notify_stopped();
        });
        NginxOperator { namespace: namespace.to_string(), stop: Some(stop), task }
    }

    /// The namespace it watches.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Stops the operator after the reconciles in flight finish, and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for NginxOperator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How to make a ConfigMap a site, for help texts.
pub fn usage_hint(namespace: &str) -> Text {
    Text::new(
        format!("Label a ConfigMap to make it a site: kubectl label configmap NAME {SITE_LABEL}=true -n {namespace}"),
        format!(
            "给 ConfigMap 加上标签即可让它成为一个站点：kubectl label configmap 名称 {SITE_LABEL}=true -n {namespace}"
        ),
    )
}

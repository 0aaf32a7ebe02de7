//! One reconcile of one ConfigMap, the error policy with back-off, and what the learner is told.

use super::desired::{deployed_hash, is_owned_by, site_deployment};
use super::{FIELD_MANAGER, ROOT_CA_CONFIG_MAP, SITE_LABEL};
use crate::bus::EventBus;
use crate::cluster::diagnose::explain_kube_error;
use gitops_lab_protocol::{Event, Text};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first retry after a failed reconcile; doubled after each further failure of the same site.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between retries.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Deployment with the site's name exists and was not made for this ConfigMap: the operator
    /// leaves it alone rather than take over someone else's work.
    #[error("deployment {namespace}/{name} exists and does not belong to ConfigMap {name}")]
    NotOurs {
        /// The namespace.
        namespace: String,
        /// The shared name.
        name: String,
    },
    /// The Kubernetes API refused or could not be reached.
    #[error("the Kubernetes API failed: {0}")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// The learner's words for the failure.
    fn explain(&self) -> Text {
        match self {
            Error::NotOurs { namespace, name } => Text::new(
                format!(
                    "deployment/{name} already exists in {namespace} and was not made by the operator for ConfigMap {name}; it is left alone. Delete or rename it, or give the ConfigMap another name."
                ),
                format!(
                    "命名空间 {namespace} 中已存在 deployment/{name}，但它不是操作符为 ConfigMap {name} 创建的，因此不会被改动。请删除或改名该 Deployment，或给 ConfigMap 换一个名字。"
                ),
            ),
            Error::Kube(error) => {
                let view = explain_kube_error(error);
                match view.hint {
                    Some(hint) => {
                        Text::new(format!("{} {}", view.message.en, hint.en), format!("{}{}", view.message.zh, hint.zh))
                    }
                    None => view.message,
                }
            }
        }
    }
}

/// What the reconciles share: the client, where to report, and per-site memory.
pub struct Context {
    client: Client,
    namespace: String,
    bus: EventBus,
    /// Consecutive failures per site, for the back-off.
    failures: Mutex<HashMap<String, u32>>,
    /// Sites whose Deployment this run has made or seen, to tell "created" from "created again".
    known: Mutex<HashSet<String>>,
    /// The last watch failure reported, so that a retrying watch does not repeat itself.
    last_watch_error: Mutex<Option<String>>,
}

/// What one apply did to a site's Deployment.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Created,
    Recreated,
    PageChanged,
    Repaired,
    Unchanged,
}

impl Context {
    pub(super) fn new(client: Client, namespace: &str, bus: EventBus) -> Context {
        Context {
            client,
            namespace: namespace.to_string(),
            bus,
            failures: Mutex::default(),
            known: Mutex::default(),
            last_watch_error: Mutex::default(),
        }
    }

    fn notice(&self, level: &str, message: Text) {
        self.bus.publish(Event::Notice { level: level.into(), message });
    }

    pub(super) fn notify_started(&self) {
        let ns = &self.namespace;
        self.notice(
            "info",
            Text::new(
                format!("The NGINX operator watches ConfigMaps labelled {SITE_LABEL} in namespace {ns}."),
                format!("NGINX 操作符正在监视命名空间 {ns} 中带有 {SITE_LABEL} 标签的 ConfigMap。"),
            ),
        );
    }

    pub(super) fn notify_stopped(&self) {
        let ns = &self.namespace;
        self.notice(
            "info",
            Text::new(
                format!("The NGINX operator of namespace {ns} stopped; the sites it made keep running."),
                format!("命名空间 {ns} 的 NGINX 操作符已停止；它创建的站点会继续运行。"),
            ),
        );
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports what the controller's stream yields: failures of the watch (a reconcile's own
    /// failures are reported by the error policy).
    pub(super) async fn report(
        &self,
        result: Result<(ObjectRef<ConfigMap>, Action), controller::Error<Error, watcher::Error>>,
    ) {
        let message = match result {
            Ok(_) => {
                Self::lock(&self.last_watch_error).take();
                return;
            }
            Err(controller::Error::QueueError(error)) => watch_failure(&error),
            // A reconcile's failure was already told by the error policy; a site deleted while
            // queued needs no words (its Deployment goes with it).
            Err(_) => return,
        };
        let mut last = Self::lock(&self.last_watch_error);
        if last.as_deref() != Some(message.en.as_str()) {
            *last = Some(message.en.clone());
            drop(last);
            self.notice("warning", message);
        }
    }

    fn change_notice(&self, change: &Change, name: &str) {
        let ns = &self.namespace;
        let (en, zh) = match change {
            Change::Created => (
                format!("Created deployment/{name} in {ns}: nginx serves ConfigMap {name}'s page."),
                format!("已在 {ns} 中创建 deployment/{name}：nginx 提供 ConfigMap {name} 中的页面。"),
            ),
            Change::Recreated => (
                format!("deployment/{name} in {ns} was gone; the operator created it again."),
                format!("{ns} 中的 deployment/{name} 已不存在；操作符重新创建了它。"),
            ),
            Change::PageChanged => (
                format!("ConfigMap {name} changed: deployment/{name} rolls out new pods with the new page."),
                format!("ConfigMap {name} 已更改：deployment/{name} 正在用新页面滚动更新 Pod。"),
            ),
            Change::Repaired => (
                format!(
                    "deployment/{name} in {ns} had been edited; the operator set it back to what ConfigMap {name} asks for."
                ),
                format!("{ns} 中的 deployment/{name} 被手动修改过；操作符已把它恢复为 ConfigMap {name} 所要求的样子。"),
            ),
            Change::Unchanged => return,
        };
        self.notice("info", Text::new(en, zh));
    }
}

fn watch_failure(error: &watcher::Error) -> Text {
    let cause = match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            explain_kube_error(e).message
        }
        other => Text::same(other.to_string()),
    };
    Text::new(
        format!("The NGINX operator cannot watch the cluster ({}); it keeps retrying with back-off.", cause.en),
        format!("NGINX 操作符无法监视集群（{}）；它会按退避策略继续重试。", cause.zh),
    )
}

/// Brings one ConfigMap's Deployment to what it should be.
pub async fn reconcile(config_map: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = config_map.name_any();
    // The watch only lists labelled ConfigMaps; the name check guards against a labelled root CA.
    if name == ROOT_CA_CONFIG_MAP || config_map.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(desired) = site_deployment(&config_map) else {
        return Ok(Action::await_change());
    };
    let namespace = config_map.namespace().unwrap_or_else(|| ctx.namespace.clone());
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let live = api.get_opt(&name).await?;
    if let Some(live) = &live
        && !is_owned_by(live, &config_map)
    {
        return Err(Error::NotOurs { namespace, name });
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(&name, &params, &Patch::Apply(&desired)).await?;
    Context::lock(&ctx.failures).remove(&name);
    let seen_before = !Context::lock(&ctx.known).insert(name.clone());
    let change = match &live {
        None if seen_before => Change::Recreated,
        None => Change::Created,
        // Deleted between our read and our apply: the apply made it anew.
        Some(live) if live.metadata.uid != applied.metadata.uid => Change::Recreated,
        Some(live) if deployed_hash(live) != deployed_hash(&applied) => Change::PageChanged,
        // The generation moves only when the spec changes: our apply undid someone's edit.
        Some(live) if live.metadata.generation != applied.metadata.generation => Change::Repaired,
        Some(_) => Change::Unchanged,
    };
    ctx.change_notice(&change, &name);
    Ok(Action::await_change())
}

/// After a failed reconcile: tell the learner, and retry with a back-off that doubles per failure.
pub fn error_policy(config_map: Arc<ConfigMap>, error: &Error, ctx: Arc<Context>) -> Action {
    let name = config_map.name_any();
    let failures = {
        let mut failures = Context::lock(&ctx.failures);
        let count = failures.entry(name.clone()).or_insert(0);
        *count += 1;
        *count
    };
    let wait = retry_after(failures);
    let seconds = wait.as_secs();
    let why = error.explain();
    ctx.notice(
        "warning",
        Text::new(
            format!("The NGINX operator could not set up ConfigMap {name}'s site: {} Retrying in {seconds} s.", why.en),
            format!("NGINX 操作符无法为 ConfigMap {name} 建立站点：{}将在 {seconds} 秒后重试。", why.zh),
        ),
    );
    Action::requeue(wait)
}

/// The wait before retry number `failures` (1 s, 2 s, 4 s, … up to a minute).
fn retry_after(failures: u32) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled.min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_doubling_up_to_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_after(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn a_foreign_deployment_is_explained_in_both_languages() {
        let text = Error::NotOurs { namespace: "web".into(), name: "welcome".into() }.explain();
        assert!(text.en.contains("deployment/welcome") && text.en.contains("left alone"));
        assert!(text.zh.contains("deployment/welcome"));
    }
}

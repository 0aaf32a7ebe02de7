//! What the current identity may do on a cluster (SelfSubjectAccessReview, as `kubectl auth can-i`),
//! and, for a step's needs, which are missing, in plain words with the next thing to try.
//!
//! The exercise runner asks [`explain_missing`] before a step, so that a learner on a narrow
//! production account hears "you may not create deployments in web" before the step fails half way.

use crate::error::Result;
use gitops_lab_protocol::{ErrorView, Text};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::Client;
use kube::api::{Api, PostParams};

/// One permission a step needs: a verb on a resource, in a namespace or cluster-wide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// `get`, `list`, `watch`, `create`, `patch`, `delete`, …
    pub verb: String,
    /// The API group: `""` for the core group, `apps`, `batch`, …
    pub group: String,
    /// The plural resource, optionally with a subresource: `pods`, `pods/exec`, `deployments`.
    pub resource: String,
    /// The namespace; `None` for cluster-scoped resources or all namespaces.
    pub namespace: Option<String>,
}

impl Need {
    /// A need in a namespace (`None`: cluster-wide).
    pub fn new(verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> Need {
        Need {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.map(String::from),
        }
    }

    /// The resource as kubectl names it: `pods`, `deployments.apps`.
    fn qualified(&self) -> String {
        if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) }
    }

    fn describe(&self) -> Text {
        let (verb, what) = (&self.verb, self.qualified());
        match &self.namespace {
            Some(ns) => {
                Text::new(format!("{verb} {what} in namespace \"{ns}\""), format!("在命名空间“{ns}”中 {verb} {what}"))
            }
            None => Text::new(format!("{verb} {what} cluster-wide"), format!("在整个集群范围 {verb} {what}")),
        }
    }
}

/// The cluster's answer to one access review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request would be allowed.
    pub allowed: bool,
    /// The authorizer's reason, when it gave one.
    pub reason: Option<String>,
}

/// Asks the cluster whether the current identity may do `verb` on `resource` (as `kubectl auth can-i`).
pub async fn can_i(client: &Client, verb: &str, group: &str, resource: &str, namespace: Option<&str>) -> Result<bool> {
    Ok(review(client, &Need::new(verb, group, resource, namespace)).await?.allowed)
}

/// One SelfSubjectAccessReview for `need`.
pub async fn review(client: &Client, need: &Need) -> Result<Decision> {
    let (resource, subresource) = match need.resource.split_once('/') {
        Some((resource, sub)) => (resource.to_string(), Some(sub.to_string())),
        None => (need.resource.clone(), None),
    };
    let request = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(need.verb.clone()),
                group: Some(need.group.clone()),
                resource: Some(resource),
                subresource,
                namespace: need.namespace.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone()).create(&PostParams::default(), &request).await?;
    let status = answer.status.unwrap_or_default();
    Ok(Decision { allowed: status.allowed, reason: status.reason.filter(|r| !r.is_empty()) })
}

/// The needs the current identity lacks, in the order given.
pub async fn missing(client: &Client, needs: &[Need]) -> Result<Vec<Need>> {
    let mut lacking = Vec::new();
    for need in needs {
        if !review(client, need).await?.allowed {
            lacking.push(need.clone());
        }
    }
    Ok(lacking)
}

/// Who the cluster says the current identity is (`kubectl auth whoami`), if it will say.
pub async fn whoami(client: &Client) -> Option<String> {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await;
    review.ok()?.status?.user_info?.username.filter(|u| !u.is_empty())
}

/// `None` when every need is allowed; otherwise an explanation of what is missing and how to get it.
pub async fn explain_missing(client: &Client, needs: &[Need]) -> Result<Option<ErrorView>> {
    let lacking = missing(client, needs).await?;
    if lacking.is_empty() {
        return Ok(None);
    }
    let user = whoami(client).await;
    Ok(Some(explanation(&lacking, user.as_deref())))
}

/// The words for missing permissions: the list, then a Role (or ClusterRole) that would grant them.
pub fn explanation(lacking: &[Need], user: Option<&str>) -> ErrorView {
    let list =
        |pick: fn(&Text) -> &String| lacking.iter().map(|n| pick(&n.describe()).clone()).collect::<Vec<_>>().join("; ");
    let (who_en, who_zh) = match user {
        Some(user) => (format!("Your account ({user})"), format!("你的账号（{user}）")),
        None => ("Your account".to_string(), "你的账号".to_string()),
    };
    let message = Text::new(
        format!("{who_en} is not allowed to do what this step needs: {}.", list(|t| &t.en)),
        format!("{who_zh}没有这一步所需的权限：{}。", list(|t| &t.zh)),
    );
    let grant = grant_commands(lacking, user);
    let hint = Text::new(
        format!(
            "Ask the cluster's administrator to grant it, for example:\n{grant}\nor do this exercise on the sandbox, where you are cluster-admin."
        ),
        format!("请集群管理员为你授权，例如：\n{grant}\n或者在沙盒集群中完成本练习，你在那里是集群管理员。"),
    );
    ErrorView::new("rbac-too-narrow", message).with_hint(hint)
}

/// kubectl commands an administrator could run: one role per namespace (a cluster role for
/// cluster-wide needs) with the needed verbs and resources, and its binding to the user.
fn grant_commands(lacking: &[Need], user: Option<&str>) -> String {
    let subject = match user.and_then(|u| u.strip_prefix("system:serviceaccount:")) {
        Some(account) => format!("--serviceaccount={account}"),
        None => format!("--user={}", user.unwrap_or("YOU")),
    };
    let mut scopes: Vec<Option<String>> = lacking.iter().map(|n| n.namespace.clone()).collect();
    scopes.dedup();
    let mut lines = Vec::new();
    for scope in scopes {
        let here: Vec<&Need> = lacking.iter().filter(|n| n.namespace == scope).collect();
        let verbs = unique(here.iter().map(|n| n.verb.clone()));
        let resources = unique(here.iter().map(|n| n.qualified()));
        let (verbs, resources) = (verbs.join(","), resources.join(","));
        match scope {
            Some(ns) => {
                lines.push(format!("  kubectl create role lab-step --verb={verbs} --resource={resources} -n {ns}"));
                lines.push(format!("  kubectl create rolebinding lab-step --role=lab-step {subject} -n {ns}"));
            }
            None => {
                lines.push(format!("  kubectl create clusterrole lab-step --verb={verbs} --resource={resources}"));
                lines.push(format!("  kubectl create clusterrolebinding lab-step --clusterrole=lab-step {subject}"));
            }
        }
    }
    lines.join("\n")
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explanation_lists_each_need_and_a_role_that_grants_them() {
        let lacking = [
            Need::new("create", "apps", "deployments", Some("web")),
            Need::new("delete", "", "pods", Some("web")),
            Need::new("create", "", "namespaces", None),
        ];
        let view = explanation(&lacking, Some("system:serviceaccount:web:learner"));
        assert_eq!(view.code, "rbac-too-narrow");
        assert!(
            view.message.en.contains("create deployments.apps in namespace \"web\"; delete pods in namespace \"web\""),
            "{}",
            view.message.en
        );
        assert!(view.message.zh.contains("在命名空间“web”中 create deployments.apps"));
        let hint = view.hint.unwrap().en;
        assert!(
            hint.contains("kubectl create role lab-step --verb=create,delete --resource=deployments.apps,pods -n web"),
            "{hint}"
        );
        assert!(
            hint.contains("kubectl create rolebinding lab-step --role=lab-step --serviceaccount=web:learner -n web"),
            "{hint}"
        );
        assert!(hint.contains("kubectl create clusterrole lab-step --verb=create --resource=namespaces"), "{hint}");
    }

    #[test]
    fn a_person_is_bound_as_a_user() {
        let view = explanation(&[Need::new("get", "", "pods", Some("a"))], Some("jane@example.com"));
        assert!(view.hint.unwrap().en.contains("--user=jane@example.com"));
    }
}

//! Who is calling the sandbox API and what they may do: bearer tokens, RBAC and the review APIs.
//!
//! The kubeconfig's token is the cluster admin (`system:masters`); ServiceAccount tokens are
//! signed JWTs ([`tokens`]) whose user is `system:serviceaccount:<ns>:<name>`; a request without a
//! token is `system:anonymous`. Every request is read into [`Attributes`] and decided by
//! [`authorizer::authorize`] over the Roles, ClusterRoles and bindings in the store, and a denial
//! carries upstream's Forbidden message.

pub mod aggregation;
pub mod attributes;
pub mod authorizer;
pub mod bootstrap_rbac;
pub mod impersonation;
pub mod reviews;
pub mod token_request;
pub mod tokens;

pub use attributes::{Attributes, ResourceAttributes};
pub use authorizer::{Decision, Policy, Rule, authorize};
pub use token_request::{create_token, service_account_token};
pub use tokens::{SigningKey, TokenError};

use crate::Sandbox;
use crate::errors::{ApiError, ApiResult};
use http::{HeaderMap, Method, Uri, header};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// An authenticated caller, as upstream's `user.Info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The user name, e.g. `kubernetes-admin` or `system:serviceaccount:default:default`.
    pub name: String,
    /// A stable id (the ServiceAccount's uid), or empty.
    pub uid: String,
    /// Group memberships.
    pub groups: Vec<String>,
    /// Extra attributes (the token's id, the pod it is bound to).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl Identity {
    /// The kubeconfig's user: a cluster admin.
    pub fn admin() -> Self {
        Self {
            name: "kubernetes-admin".into(),
            groups: vec![authorizer::MASTERS.into(), AUTHENTICATED.into()],
            ..Self::default()
        }
    }

    /// A caller without credentials.
    pub fn anonymous() -> Self {
        Self { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()], ..Self::default() }
    }

    /// A ServiceAccount, with the groups upstream gives every ServiceAccount.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        Self {
            name: service_account_username(namespace, name),
            uid: uid.into(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
            extra: BTreeMap::new(),
        }
    }

    /// The caller as a `UserInfo` object (what `kubectl auth whoami` prints).
    pub fn user_info(&self) -> Value {
        let mut info = json!({"username": self.name, "groups": self.groups});
        if !self.uid.is_empty() {
            info["uid"] = json!(self.uid);
        }
        if !self.extra.is_empty() {
            info["extra"] = json!(self.extra);
        }
        info
    }
}

const AUTHENTICATED: &str = "system:authenticated";

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Who sent a request, from its `Authorization` header: the admin token, a valid ServiceAccount
/// token, or nothing (anonymous). Any other bearer token is 401 Unauthorized.
pub fn authenticate(sb: &Sandbox, authorization: Option<&str>) -> ApiResult<Identity> {
    let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim).filter(|t| !t.is_empty())
    else {
        return Ok(Identity::anonymous());
    };
    // Comparing digests rather than the tokens keeps the admin token's bytes out of timing.
    let digest = |text: &str| ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    if digest(token).as_ref() == digest(sb.admin_token()).as_ref() {
        return Ok(Identity::admin());
    }
    let claims = sb.signing_key().verify(token, now()).map_err(|_| ApiError::unauthorized())?;
    let namespace = claims.kubernetes.namespace.clone();
    claims
        .check_live(|kind, name| {
            let rt = sb.registry().by_kind("v1", kind)?;
            let object = sb.get(rt, Some(&namespace), name)?;
            object["metadata"]["uid"].as_str().map(str::to_string)
        })
        .map_err(|_| ApiError::unauthorized())?;
    Ok(claims.identity())
}

/// The roles and bindings that can apply to a request in `namespace` (empty = cluster scope).
pub fn load_policy(sb: &Sandbox, namespace: &str) -> Policy {
    let list = |plural: &str, namespace: Option<&str>| {
        let Some(rt) = sb.registry().by_plural("rbac.authorization.k8s.io", "v1", plural) else {
            return Vec::new();
        };
        sb.store().list(&rt.id(), namespace, None, 0, |_| true).0.items
    };
    let scoped = |plural: &str| {
        if namespace.is_empty() { Vec::new() } else { list(plural, Some(namespace)) }
    };
    Policy {
        cluster_roles: list("clusterroles", None),
        cluster_role_bindings: list("clusterrolebindings", None),
        roles: scoped("roles"),
        role_bindings: scoped("rolebindings"),
    }
}

/// Decides a request with the store's current roles; members of `system:masters` skip the lookup.
pub fn decide(sb: &Sandbox, user: &Identity, attrs: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == authorizer::MASTERS) {
        return authorize(user, attrs, &Policy::default());
    }
    let namespace = attrs.resource.as_ref().map(|r| r.namespace.as_str()).unwrap_or_default();
    authorize(user, attrs, &load_policy(sb, namespace))
}

/// Allows the request or answers 403 Forbidden with upstream's message.
pub fn check(sb: &Sandbox, user: &Identity, attrs: &Attributes) -> ApiResult<()> {
    let decision = decide(sb, user, attrs);
    if decision.allowed { Ok(()) } else { Err(forbidden(user, attrs, &decision.reason)) }
}

/// Authenticates one HTTP request, applies its impersonation headers, and authorizes it;
/// answers who it acts as.
pub fn admit(
    sb: &Sandbox,
    method: &Method,
    uri: &Uri,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> ApiResult<Identity> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let user = authenticate(sb, authorization)?;
    let user = impersonation::apply(user, headers, |caller, attrs| decide(sb, caller, attrs))?;
    check(sb, &user, &Attributes::from_request(method.as_str(), uri.path(), query))?;
    Ok(user)
}

/// The 403 upstream answers: `pods is forbidden: User "…" cannot list resource "pods" in API
/// group "" in the namespace "default"`, with the authorizer's reason appended when it has one.
pub fn forbidden(user: &Identity, attrs: &Attributes, reason: &str) -> ApiError {
    let mut why = match &attrs.resource {
        None => format!("User {:?} cannot {} path {:?}", user.name, attrs.verb, attrs.path),
        Some(r) => {
            let scope = if r.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace {:?}", r.namespace)
            };
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
                user.name,
                attrs.verb,
                r.combined(),
                r.group
            )
        }
    };
    if !reason.is_empty() {
        why = format!("{why}: {reason}");
    }
    let Some(r) = attrs.resource.as_ref().filter(|r| !r.resource.is_empty() || !r.group.is_empty()) else {
        return ApiError::forbidden(html_safe(&format!("forbidden: {why}")));
    };
    let qualified = if r.group.is_empty() { r.resource.clone() } else { format!("{}.{}", r.resource, r.group) };
    let message = if r.name.is_empty() {
        format!("{qualified} is forbidden: {why}")
    } else {
        format!("{qualified} {:?} is forbidden: {why}", r.name)
    };
    let mut error = ApiError::forbidden(html_safe(&message));
    let mut details = serde_json::Map::new();
    for (key, value) in [("name", &r.name), ("group", &r.group), ("kind", &r.resource)] {
        if !value.is_empty() {
            details.insert(key.into(), json!(value));
        }
    }
    error.details = Some(Value::Object(details));
    error
}

/// Upstream escapes these three characters in Forbidden messages, which quote the request path.
fn html_safe(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The current time in Unix seconds.
pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;

    fn sa() -> Identity {
        Identity::service_account("default", "default", "uid")
    }

    #[test]
    fn forbidden_messages_read_like_upstreams() {
        let cases = [
            (
                Attributes::resource("list", "", "pods", "default", ""),
                concat!(
                    r#"pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" "#,
                    r#"in API group "" in the namespace "default""#
                ),
            ),
            (
                Attributes::resource("list", "", "namespaces", "", ""),
                concat!(
                    r#"namespaces is forbidden: User "system:serviceaccount:default:default" cannot list resource "#,
                    r#""namespaces" in API group "" at the cluster scope"#
                ),
            ),
            (
                Attributes::resource("get", "apps", "deployments", "default", "web"),
                concat!(
                    r#"deployments.apps "web" is forbidden: User "system:serviceaccount:default:default" cannot get "#,
                    r#"resource "deployments" in API group "apps" in the namespace "default""#
                ),
            ),
            (
                Attributes::resource("create", "", "pods/exec", "default", "web"),
                concat!(
                    r#"pods "web" is forbidden: User "system:serviceaccount:default:default" cannot create resource "#,
                    r#""pods/exec" in API group "" in the namespace "default""#
                ),
            ),
            (
                Attributes::non_resource("get", "/metrics"),
                r#"forbidden: User "system:serviceaccount:default:default" cannot get path "/metrics""#,
            ),
        ];
        for (attrs, expected) in cases {
            let err = forbidden(&sa(), &attrs, "");
            assert_eq!((err.reason, err.message.as_str()), (Reason::Forbidden, expected));
        }
    }

    #[test]
    fn a_forbidden_status_names_the_object_in_its_details() {
        let err = forbidden(&sa(), &Attributes::resource("get", "apps", "deployments", "default", "web"), "");
        assert_eq!(err.details.clone().unwrap(), json!({"name": "web", "group": "apps", "kind": "deployments"}));
        let err = forbidden(&sa(), &Attributes::resource("list", "", "pods", "default", ""), "");
        assert_eq!(err.details.clone().unwrap(), json!({"kind": "pods"}));
    }

    #[test]
    fn the_reason_follows_the_message() {
        let err = forbidden(
            &sa(),
            &Attributes::resource("list", "", "pods", "default", ""),
            "RBAC: role.rbac.authorization.k8s.io \"x\" not found",
        );
        assert!(
            err.message.ends_with("in the namespace \"default\": RBAC: role.rbac.authorization.k8s.io \"x\" not found")
        );
    }

    fn admit_get(sb: &Sandbox, path: &str, token: Option<&str>) -> ApiResult<Identity> {
        let mut headers = HeaderMap::new();
        if let Some(token) = token {
            headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        }
        let query: Vec<(String, String)> = path
            .split_once('?')
            .map(|(_, q)| q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
            .unwrap_or_default();
        admit(sb, &Method::GET, &path.parse().unwrap(), &query, &headers)
    }

    #[test]
    fn callers_without_a_token_read_only_the_public_paths() {
        let (_dir, sb) = crate::testing::sandbox();
        assert_eq!(admit_get(&sb, "/version", None).unwrap().name, "system:anonymous");
        assert_eq!(admit_get(&sb, "/healthz", None).unwrap().name, "system:anonymous");
        let err = admit_get(&sb, "/api", None).unwrap_err();
        assert_eq!(
            (err.reason, err.message.as_str()),
            (Reason::Forbidden, r#"forbidden: User "system:anonymous" cannot get path "/api""#)
        );
        assert_eq!(admit_get(&sb, "/api", Some("wrong")).unwrap_err().reason, Reason::Unauthorized);
        let admin = sb.admin_token().to_string();
        assert_eq!(admit_get(&sb, "/api/v1/namespaces/default/pods", Some(&admin)).unwrap(), Identity::admin());
    }

    #[test]
    fn a_service_account_token_reads_discovery_but_not_pods() {
        let (_dir, sb) = crate::testing::sandbox();
        let token = service_account_token(&sb, "default", "default", None).unwrap();
        assert!(admit_get(&sb, "/apis", Some(&token)).is_ok());
        let err = admit_get(&sb, "/api/v1/namespaces/default/pods?watch=true", Some(&token)).unwrap_err();
        assert!(
            err.message.starts_with(
                "pods is forbidden: User \"system:serviceaccount:default:default\" cannot watch resource \"pods\""
            ),
            "{}",
            err.message
        );
    }

    #[test]
    fn identities_carry_upstreams_groups() {
        assert_eq!(Identity::admin().groups, ["system:masters", "system:authenticated"]);
        assert_eq!(Identity::anonymous().groups, ["system:unauthenticated"]);
        let info = sa().user_info();
        assert_eq!(info["username"], "system:serviceaccount:default:default");
        assert_eq!(info["uid"], "uid");
        assert!(info.get("extra").is_none());
    }
}

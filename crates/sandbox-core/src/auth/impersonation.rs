//! Impersonation (`kubectl --as=… --as-group=…`): acting as another user when RBAC allows the
//! `impersonate` verb on that user, its groups or its ServiceAccount, as upstream's filter does.

use super::{Attributes, Identity, forbidden};
use crate::errors::{ApiError, ApiResult};
use http::HeaderMap;

/// What a request asks to act as, read from its `Impersonate-*` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `Impersonate-User`.
    pub user: Option<String>,
    /// Every `Impersonate-Group`.
    pub groups: Vec<String>,
    /// `Impersonate-Uid`.
    pub uid: Option<String>,
    /// Every `Impersonate-Extra-<key>`: the key (lower-cased, as HTTP headers are) and its values.
    pub extra: std::collections::BTreeMap<String, Vec<String>>,
}

impl Request {
    /// The impersonation a request asks for, if any.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let all = |name: &str| -> Vec<String> {
            headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
        };
        let mut extra = std::collections::BTreeMap::new();
        for name in headers.keys() {
            if let Some(key) = name.as_str().strip_prefix("impersonate-extra-") {
                extra.insert(key.to_string(), all(name.as_str()));
            }
        }
        let request = Self {
            user: all("impersonate-user").into_iter().next(),
            groups: all("impersonate-group"),
            uid: all("impersonate-uid").into_iter().next(),
            extra,
        };
        (request != Self::default()).then_some(request)
    }

    /// The checks the caller must pass (one `impersonate` attribute set per thing it acts as),
    /// and the identity it then has.
    pub fn plan(&self) -> ApiResult<(Vec<Attributes>, Identity)> {
        let Some(name) = &self.user else {
            let mut asked: Vec<String> = self.groups.iter().map(|g| format!("group {g:?}")).collect();
            asked.extend(self.extra.keys().map(|k| format!("extra {k:?}")));
            asked.extend(self.uid.iter().map(|u| format!("uid {u:?}")));
            return Err(ApiError::bad_request(format!(
                "requested [{}] without impersonating a user",
                asked.join(", ")
            )));
        };
        let mut checks = Vec::new();
        let mut groups = self.groups.clone();
        match service_account(name) {
            Some((namespace, account)) => {
                checks.push(Attributes::resource("impersonate", "", "serviceaccounts", namespace, account));
                if groups.is_empty() {
                    groups = Identity::service_account(namespace, account, "").groups;
                }
            }
            None => checks.push(Attributes::resource("impersonate", "", "users", "", name)),
        }
        checks.extend(self.groups.iter().map(|g| Attributes::resource("impersonate", "", "groups", "", g)));
        for (key, values) in &self.extra {
            for value in values {
                let mut attrs = Attributes::resource("impersonate", "authentication.k8s.io", "userextras", "", value);
                if let Some(resource) = attrs.resource.as_mut() {
                    resource.subresource = key.clone();
                }
                checks.push(attrs);
            }
        }
        if let Some(uid) = &self.uid {
            checks.push(Attributes::resource("impersonate", "authentication.k8s.io", "uids", "", uid));
        }
        let unauthenticated = name == "system:anonymous";
        let marked = groups.iter().any(|g| g == "system:authenticated" || g == "system:unauthenticated");
        if !marked {
            groups.push(if unauthenticated { "system:unauthenticated" } else { "system:authenticated" }.to_string());
        }
        let identity = Identity {
            name: name.clone(),
            uid: self.uid.clone().unwrap_or_default(),
            groups,
            extra: self.extra.clone(),
        };
        Ok((checks, identity))
    }
}

/// `system:serviceaccount:<ns>:<name>` split into namespace and name.
fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    rest.split_once(':').filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
}

/// Applies the headers' impersonation for `caller`, deciding each check with `decide`.
pub fn apply(
    caller: Identity,
    headers: &HeaderMap,
    decide: impl Fn(&Identity, &Attributes) -> super::Decision,
) -> ApiResult<Identity> {
    let Some(request) = Request::from_headers(headers) else {
        return Ok(caller);
    };
    let (checks, identity) = request.plan()?;
    for attrs in &checks {
        let decision = decide(&caller, attrs);
        if !decision.allowed {
            return Err(forbidden(&caller, attrs, &decision.reason));
        }
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Decision, Policy, authorize};
    use crate::errors::Reason;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn nobody_may(_: &Identity, _: &Attributes) -> Decision {
        Decision { allowed: false, reason: String::new() }
    }

    #[test]
    fn the_admin_may_act_as_a_service_account_and_gets_its_groups() {
        let h = headers(&[("Impersonate-User", "system:serviceaccount:team:web")]);
        let who = apply(Identity::admin(), &h, |u, a| authorize(u, a, &Policy::default())).unwrap();
        assert_eq!(who.name, "system:serviceaccount:team:web");
        assert_eq!(who.groups, ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]);
    }

    #[test]
    fn a_user_with_groups_gets_them_and_system_authenticated() {
        let h = headers(&[("Impersonate-User", "jane"), ("Impersonate-Group", "devs"), ("Impersonate-Group", "ops")]);
        let who = apply(Identity::admin(), &h, |u, a| authorize(u, a, &Policy::default())).unwrap();
        assert_eq!(
            (who.name.as_str(), who.groups),
            ("jane", vec!["devs".to_string(), "ops".into(), "system:authenticated".into()])
        );
    }

    #[test]
    fn impersonating_without_permission_is_forbidden_as_upstream_words_it() {
        let caller = Identity::service_account("default", "default", "");
        let err = apply(caller.clone(), &headers(&[("Impersonate-User", "jane")]), nobody_may).unwrap_err();
        assert_eq!(
            err.message,
            "users \"jane\" is forbidden: User \"system:serviceaccount:default:default\" cannot impersonate resource \
                \"users\" in API group \"\" at the cluster scope"
        );
        let err =
            apply(caller, &headers(&[("Impersonate-User", "system:serviceaccount:kube-system:default")]), nobody_may)
                .unwrap_err();
        assert_eq!(
            err.message,
            "serviceaccounts \"default\" is forbidden: User \"system:serviceaccount:default:default\" cannot \
                impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"kube-system\""
        );
    }

    #[test]
    fn groups_without_a_user_are_a_bad_request_and_no_headers_change_nothing() {
        let err = apply(Identity::admin(), &headers(&[("Impersonate-Group", "devs")]), nobody_may).unwrap_err();
        assert_eq!(err.reason, Reason::BadRequest);
        assert_eq!(apply(Identity::admin(), &HeaderMap::new(), nobody_may).unwrap(), Identity::admin());
    }
}

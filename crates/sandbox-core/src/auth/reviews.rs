//! The review APIs, answered and never stored: SelfSubjectAccessReview (`kubectl auth can-i`),
//! SelfSubjectRulesReview (`kubectl auth can-i --list`) and SelfSubjectReview (`kubectl auth whoami`).

use super::authorizer::{Rule, rules_for};
use super::{Attributes, Identity, decide, load_policy};
use crate::Sandbox;
use crate::errors::{ApiError, ApiResult, FieldError};
use crate::registry::ResourceType;
use serde_json::{Value, json};

/// The reviews answered here, by group and plural.
const REVIEWS: [(&str, &str); 3] = [
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
];

/// Whether the resource type is a review, answered by [`review`] instead of being stored.
pub fn is_review(rt: &ResourceType) -> bool {
    REVIEWS.iter().any(|(group, plural)| rt.group == *group && rt.plural == *plural)
}

/// Answers a review posted by `user`: the body with its `status` filled in.
pub fn review(sb: &Sandbox, user: &Identity, rt: &ResourceType, mut body: Value) -> ApiResult<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!("the request body must be a {} object", rt.kind)));
    }
    crate::lifecycle::check_types(rt, &body)?;
    body["apiVersion"] = json!(rt.api_version());
    body["kind"] = json!(rt.kind);
    body["metadata"] = json!({"creationTimestamp": null});
    let status = match rt.plural.as_str() {
        "selfsubjectaccessreviews" => access_review(sb, user, rt, &body["spec"])?,
        "selfsubjectrulesreviews" => rules_review(sb, user, &body["spec"])?,
        "selfsubjectreviews" => json!({"userInfo": user.user_info()}),
        _ => return Err(ApiError::method_not_allowed("POST", rt)),
    };
    body["status"] = status;
    Ok(body)
}

/// `can-i`: the decision for the attributes in the spec.
fn access_review(sb: &Sandbox, user: &Identity, rt: &ResourceType, spec: &Value) -> ApiResult<Value> {
    let resource = &spec["resourceAttributes"];
    let non_resource = &spec["nonResourceAttributes"];
    let attrs = match (resource.is_object(), non_resource.is_object()) {
        (true, false) => {
            let field = |key: &str| resource[key].as_str().unwrap_or_default().to_string();
            let mut attrs = Attributes::resource(
                &field("verb"),
                &field("group"),
                &field("resource"),
                &field("namespace"),
                &field("name"),
            );
            if let Some(r) = attrs.resource.as_mut() {
                r.subresource = field("subresource");
                r.version = field("version");
            }
            attrs
        }
        (false, true) => {
            let field = |key: &str| non_resource[key].as_str().unwrap_or_default().to_string();
            Attributes::non_resource(&field("verb"), &field("path"))
        }
        (true, true) => {
            let error = FieldError::invalid(
                "spec.nonResourceAttributes",
                non_resource.clone(),
                "cannot be specified in combination with resourceAttributes",
            );
            return Err(ApiError::invalid(rt, "", &[error]));
        }
        (false, false) => {
            let error = FieldError::invalid(
                "spec.resourceAttributes",
                Value::Null,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            );
            return Err(ApiError::invalid(rt, "", &[error]));
        }
    };
    let decision = decide(sb, user, &attrs);
    let mut status = json!({"allowed": decision.allowed});
    if !decision.reason.is_empty() {
        status["reason"] = json!(decision.reason);
    }
    Ok(status)
}

/// `can-i --list`: every rule the caller holds in the namespace.
fn rules_review(sb: &Sandbox, user: &Identity, spec: &Value) -> ApiResult<Value> {
    let namespace = spec["namespace"].as_str().unwrap_or_default();
    if namespace.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let (rules, errors) = rules_for(user, namespace, &load_policy(sb, namespace));
    let resource_rules: Vec<Value> = rules.iter().filter(|r| !r.resources.is_empty()).map(resource_rule).collect();
    let non_resource_rules: Vec<Value> = rules
        .iter()
        .filter(|r| !r.non_resource_urls.is_empty())
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    let mut status = json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
        "incomplete": !errors.is_empty()});
    if !errors.is_empty() {
        status["evaluationError"] = json!(errors.join(", "));
    }
    Ok(status)
}

fn resource_rule(rule: &Rule) -> Value {
    let mut value = json!({"verbs": rule.verbs, "apiGroups": rule.api_groups, "resources": rule.resources});
    if !rule.resource_names.is_empty() {
        value["resourceNames"] = json!(rule.resource_names);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;
    use crate::registry::Registry;
    use crate::registry::builtin_type;

    use crate::testing::sandbox;

    fn rt(plural: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.plural == plural).unwrap()
    }

    fn can_i(sb: &Sandbox, user: &Identity, attributes: Value) -> bool {
        let body = json!({"spec": {"resourceAttributes": attributes}});
        let answer = review(sb, user, rt("selfsubjectaccessreviews"), body).unwrap();
        assert_eq!(answer["kind"], "SelfSubjectAccessReview");
        answer["status"]["allowed"].as_bool().unwrap()
    }

    #[test]
    fn can_i_answers_for_the_caller() {
        let (_dir, sb) = sandbox();
        let attributes = json!({"verb": "create", "group": "apps", "resource": "deployments", "namespace": "default"});
        assert!(can_i(&sb, &Identity::admin(), attributes.clone()));
        let sa = Identity::service_account("default", "default", "");
        assert!(!can_i(&sb, &sa, attributes.clone()));
        let bindings = builtin_type("rbac.authorization.k8s.io", "rolebindings");
        let binding = json!({"metadata": {"name": "edit"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole", "name": "edit"},
                             "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]});
        sb.create(bindings, Some("default"), binding, Default::default()).unwrap();
        assert!(can_i(&sb, &sa, attributes));
    }

    #[test]
    fn a_review_without_attributes_is_invalid() {
        let (_dir, sb) = sandbox();
        let err = review(&sb, &Identity::admin(), rt("selfsubjectaccessreviews"), json!({"spec": {}})).unwrap_err();
        assert_eq!(err.reason, Reason::Invalid);
        assert!(
            err.message.contains("exactly one of nonResourceAttributes or resourceAttributes must be specified"),
            "{}",
            err.message
        );
    }

    #[test]
    fn whoami_reports_the_callers_user_info() {
        let (_dir, sb) = sandbox();
        let answer = review(&sb, &Identity::admin(), rt("selfsubjectreviews"), json!({})).unwrap();
        assert_eq!(
            answer["status"]["userInfo"],
            json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]})
        );
    }

    #[test]
    fn the_rules_review_lists_discovery_for_a_plain_service_account() {
        let (_dir, sb) = sandbox();
        let sa = Identity::service_account("default", "default", "");
        let answer =
            review(&sb, &sa, rt("selfsubjectrulesreviews"), json!({"spec": {"namespace": "default"}})).unwrap();
        let status = &answer["status"];
        assert_eq!(status["incomplete"], false);
        assert!(
            status["nonResourceRules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["nonResourceURLs"].as_array().unwrap().contains(&json!("/api")))
        );
        assert!(status["resourceRules"].as_array().unwrap().iter().all(|r| r["apiGroups"] != json!([""])));
    }
}

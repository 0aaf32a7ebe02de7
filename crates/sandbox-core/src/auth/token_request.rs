//! Issuing ServiceAccount tokens: the one the kubelet mounts into pods, and the TokenRequest API
//! (`POST …/serviceaccounts/{name}/token`, which `kubectl create token` calls).

use super::now;
use super::tokens::{API_AUDIENCE, Claims, Reference};
use crate::Sandbox;
use crate::errors::{ApiError, ApiResult, FieldError};
use crate::object;
use crate::time;
use serde_json::{Value, json};

/// How long a kubelet-mounted token lives: upstream extends the kubelet's tokens to a year.
const MOUNTED_TOKEN_SECONDS: i64 = 365 * 24 * 3600;
/// The TokenRequest default when `expirationSeconds` is not given.
const DEFAULT_SECONDS: i64 = 3600;
/// The shortest and longest durations a TokenRequest may ask for.
const MIN_SECONDS: i64 = 600;
const MAX_SECONDS: i64 = 1 << 32;

/// A token for a ServiceAccount, bound to a pod when one is named, as the kubelet mounts at
/// `/var/run/secrets/kubernetes.io/serviceaccount/token`. It stops working when the
/// ServiceAccount (or the pod) is deleted. Errors are 404 when either does not exist.
pub fn service_account_token(
    sandbox: &Sandbox,
    namespace: &str,
    sa: &str,
    pod: Option<&str>,
) -> Result<String, ApiError> {
    let account = reference(sandbox, "ServiceAccount", namespace, sa)?;
    let mut claims = Claims::new(namespace, account, now(), MOUNTED_TOKEN_SECONDS, vec![API_AUDIENCE.into()]);
    if let Some(pod) = pod {
        claims.kubernetes.pod = Some(reference(sandbox, "Pod", namespace, pod)?);
    }
    Ok(sandbox.signing_key().sign(&claims))
}

/// The uid of a core object in `namespace`, or its 404.
fn reference(sandbox: &Sandbox, kind: &str, namespace: &str, name: &str) -> ApiResult<Reference> {
    let rt = sandbox
        .registry()
        .by_kind("v1", kind)
        .ok_or_else(|| ApiError::internal(format!("the kind {kind} is not served")))?;
    let object = sandbox.get(rt, Some(namespace), name).ok_or_else(|| ApiError::not_found(rt, name))?;
    let uid = object::uid(&object).to_string();
    Ok(Reference { name: name.to_string(), uid })
}

/// Answers a TokenRequest for ServiceAccount `name`: checks the spec as upstream does, signs a
/// token and returns the request with its status filled in.
pub fn create_token(sandbox: &Sandbox, namespace: &str, name: &str, mut request: Value) -> ApiResult<Value> {
    check_kind(&mut request)?;
    check_shape(&request)?;
    let account = reference(sandbox, "ServiceAccount", namespace, name)?;
    let spec = &request["spec"];
    let seconds = match &spec["expirationSeconds"] {
        Value::Null => DEFAULT_SECONDS,
        value => {
            value.as_i64().ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be a whole number"))?
        }
    };
    check_duration(seconds)?;
    let audiences: Vec<String> = match spec["audiences"].as_array() {
        Some(list) if !list.is_empty() => list.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
        _ => vec![API_AUDIENCE.to_string()],
    };
    let issued = now();
    let mut claims = Claims::new(namespace, account, issued, seconds, audiences.clone());
    let bound = spec["boundObjectRef"].clone();
    if bound.is_object() {
        bind(sandbox, namespace, &bound, &mut claims)?;
    }
    let token = sandbox.signing_key().sign(&claims);
    let expires = jiff::Timestamp::from_second(claims.exp).map(time::rfc3339).unwrap_or_default();
    Ok(json!({
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
        "spec": {"audiences": audiences, "expirationSeconds": seconds,
            "boundObjectRef": if bound.is_object() { bound } else { Value::Null }},
        "status": {"token": token, "expirationTimestamp": expires},
    }))
}

fn check_kind(request: &mut Value) -> ApiResult<()> {
    if !request.is_object() {
        return Err(ApiError::bad_request("the request body must be a TokenRequest object"));
    }
    for (field, wanted) in [("apiVersion", "authentication.k8s.io/v1"), ("kind", "TokenRequest")] {
        match request[field].as_str() {
            None | Some("") => request[field] = json!(wanted),
            Some(v) if v == wanted => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} in the data ({v}) does not match the expected {field} ({wanted})"
                )));
            }
        }
    }
    Ok(())
}

/// The TokenRequest fields the server reads, with their types: decoding into them rejects a value
/// of the wrong type as upstream's decoder does (400), before anything reads the body.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // read for their types only; the fields are used from the JSON
struct Shape {
    #[serde(default)]
    spec: Option<SpecShape>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct SpecShape {
    #[serde(default)]
    audiences: Option<Vec<String>>,
    #[serde(default)]
    expiration_seconds: Option<i64>,
    #[serde(default)]
    bound_object_ref: Option<std::collections::BTreeMap<String, Option<String>>>,
}

fn check_shape(request: &Value) -> ApiResult<()> {
    serde_json::from_value::<Shape>(request.clone()).map(|_| ()).map_err(|e| {
        ApiError::bad_request(format!("TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {e}"))
    })
}

/// Upstream's limits, reported as an Invalid TokenRequest.
fn check_duration(seconds: i64) -> ApiResult<()> {
    let detail = if seconds < MIN_SECONDS {
        "may not specify a duration less than 10 minutes"
    } else if seconds > MAX_SECONDS {
        "may not specify a duration larger than 2^32 seconds"
    } else {
        return Ok(());
    };
    let error = FieldError::invalid("spec.expirationSeconds", json!(seconds), detail);
    let mut err = ApiError::unprocessable(format!("TokenRequest.authentication.k8s.io \"\" is invalid: {error}"));
    err.details = Some(json!({"group": "authentication.k8s.io", "kind": "TokenRequest",
        "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {seconds}: {detail}"),
            "field": "spec.expirationSeconds"}]}));
    Err(err)
}

/// Binds the token to a Pod or Secret of the namespace, which must exist (with the given uid).
fn bind(sandbox: &Sandbox, namespace: &str, bound: &Value, claims: &mut Claims) -> ApiResult<()> {
    let kind = bound["kind"].as_str().unwrap_or_default();
    let api_version = bound["apiVersion"].as_str().filter(|v| !v.is_empty()).unwrap_or("v1");
    let name = bound["name"].as_str().unwrap_or_default();
    if api_version != "v1" || !matches!(kind, "Pod" | "Secret") {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        return Err(ApiError::bad_request(format!(
            "cannot bind token to object of type {group}/{version}, Kind={kind}"
        )));
    }
    let target = reference(sandbox, kind, namespace, name)?;
    if let Some(uid) = bound["uid"].as_str().filter(|u| !u.is_empty() && *u != target.uid) {
        let rt = sandbox
            .registry()
            .by_kind("v1", kind)
            .ok_or_else(|| ApiError::internal(format!("the kind {kind} is not served")))?;
        return Err(ApiError::conflict(
            rt,
            name,
            &format!(
                "the UID in the bound object reference ({uid}) does not match the UID in record. The object might \
                    have been deleted and then recreated"
            ),
        ));
    }
    match kind {
        "Pod" => claims.kubernetes.pod = Some(target),
        _ => claims.kubernetes.secret = Some(target),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;

    use crate::testing::sandbox;

    #[test]
    fn a_token_request_returns_a_token_that_authenticates_as_the_service_account() {
        let (_dir, sb) = sandbox();
        let answer = create_token(&sb, "default", "default", json!({"spec": {}})).unwrap();
        assert_eq!(answer["spec"]["expirationSeconds"], 3600);
        assert_eq!(answer["spec"]["audiences"], json!([API_AUDIENCE]));
        let token = answer["status"]["token"].as_str().unwrap();
        let who = super::super::authenticate(&sb, Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(who.name, "system:serviceaccount:default:default");
    }

    #[test]
    fn a_short_duration_is_invalid_as_upstream_words_it() {
        let (_dir, sb) = sandbox();
        let err = create_token(&sb, "default", "default", json!({"spec": {"expirationSeconds": 60}})).unwrap_err();
        assert_eq!(err.reason, Reason::Invalid);
        assert_eq!(
            err.message,
            "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not \
                specify a duration less than 10 minutes"
        );
    }

    #[test]
    fn a_missing_service_account_is_not_found() {
        let (_dir, sb) = sandbox();
        let err = create_token(&sb, "default", "robot", json!({})).unwrap_err();
        assert_eq!(err.message, "serviceaccounts \"robot\" not found");
        assert!(service_account_token(&sb, "default", "robot", None).is_err());
    }

    #[test]
    fn a_token_for_a_deleted_and_recreated_service_account_is_refused() {
        let (_dir, sb) = sandbox();
        let rt = sb.registry().by_kind("v1", "ServiceAccount").unwrap();
        sb.create(rt, Some("default"), json!({"metadata": {"name": "robot"}}), Default::default()).unwrap();
        let token = service_account_token(&sb, "default", "robot", None).unwrap();
        let bearer = format!("Bearer {token}");
        assert!(super::super::authenticate(&sb, Some(&bearer)).is_ok());
        sb.delete(rt, Some("default"), "robot", &Default::default()).unwrap();
        assert_eq!(super::super::authenticate(&sb, Some(&bearer)).unwrap_err().reason, Reason::Unauthorized);
        sb.create(rt, Some("default"), json!({"metadata": {"name": "robot"}}), Default::default()).unwrap();
        assert_eq!(super::super::authenticate(&sb, Some(&bearer)).unwrap_err().reason, Reason::Unauthorized);
    }

    #[test]
    fn a_token_for_another_audience_does_not_open_the_api() {
        let (_dir, sb) = sandbox();
        let answer = create_token(&sb, "default", "default", json!({"spec": {"audiences": ["vault"]}})).unwrap();
        let token = answer["status"]["token"].as_str().unwrap();
        assert_eq!(
            super::super::authenticate(&sb, Some(&format!("Bearer {token}"))).unwrap_err().reason,
            Reason::Unauthorized
        );
    }

    #[test]
    fn binding_to_a_missing_pod_is_not_found_and_other_kinds_are_refused() {
        let (_dir, sb) = sandbox();
        let body = json!({"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}}});
        assert_eq!(create_token(&sb, "default", "default", body).unwrap_err().message, "pods \"web\" not found");
        let body = json!({"spec": {"boundObjectRef": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "web"}}});
        assert_eq!(create_token(&sb, "default", "default", body).unwrap_err().reason, Reason::BadRequest);
    }
}

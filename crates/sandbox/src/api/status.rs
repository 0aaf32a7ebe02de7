//! The one place an error becomes the wire's answer: a Kubernetes `Status` body with the HTTP code
//! of its reason. Everything below the HTTP layer speaks in [`Reason`]s, never in codes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_sandbox_core::errors::{ApiError, Reason};
use serde_json::{Value, json};

/// The HTTP code and the `reason` text of a Status for each reason, as upstream answers.
fn wire(reason: Reason) -> (StatusCode, &'static str) {
    match reason {
        Reason::NotFound => (StatusCode::NOT_FOUND, "NotFound"),
        Reason::AlreadyExists => (StatusCode::CONFLICT, "AlreadyExists"),
        Reason::Conflict => (StatusCode::CONFLICT, "Conflict"),
        Reason::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
        Reason::BadRequest => (StatusCode::BAD_REQUEST, "BadRequest"),
        Reason::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
        Reason::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        Reason::Expired => (StatusCode::GONE, "Expired"),
        Reason::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        Reason::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType"),
        Reason::NotAcceptable => (StatusCode::NOT_ACCEPTABLE, "NotAcceptable"),
        Reason::RequestEntityTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
        Reason::InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    }
}

/// The HTTP code an error answers with.
pub fn code(error: &ApiError) -> StatusCode {
    wire(error.reason).0
}

/// The `Status` object for an error, as JSON.
pub fn body(error: &ApiError) -> Value {
    let (code, reason) = wire(error.reason);
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": error.message, "reason": reason, "code": code.as_u16(),
    });
    if let Some(details) = &error.details {
        status["details"] = details.clone();
    }
    status
}

/// Renders the core's errors at the HTTP edge.
pub trait IntoStatus {
    /// The `Status` response for this error.
    fn into_status(self) -> Response;
}

impl IntoStatus for ApiError {
    fn into_status(self) -> Response {
        let bytes = serde_json::to_vec(&body(&self)).unwrap_or_default();
        (code(&self), [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_sandbox_core::registry::builtin_type;

    #[test]
    fn a_missing_object_is_a_404_status_naming_it() {
        let rt = builtin_type("apps", "deployments");
        let status = body(&ApiError::not_found(rt, "web"));
        assert_eq!((status["code"].clone(), status["reason"].clone()), (json!(404), json!("NotFound")));
        assert_eq!(status["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
    }

    #[test]
    fn races_are_409_and_a_patch_that_does_not_apply_is_422() {
        let rt = builtin_type("", "configmaps");
        assert_eq!(code(&ApiError::already_exists(rt, "x")), StatusCode::CONFLICT);
        assert_eq!(code(&ApiError::stale(rt, "x")), StatusCode::CONFLICT);
        assert_eq!(body(&ApiError::unprocessable("no"))["reason"], "Invalid");
        assert_eq!(code(&ApiError::unprocessable("no")), StatusCode::UNPROCESSABLE_ENTITY);
    }
}

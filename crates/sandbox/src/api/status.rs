//! The one place an error becomes the wire's answer: a Kubernetes `Status` body with its HTTP code.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_sandbox_core::errors::ApiError;

/// Renders the core's errors at the HTTP edge.
pub trait IntoStatus {
    /// The `Status` response for this error.
    fn into_status(self) -> Response;
}

impl IntoStatus for ApiError {
    fn into_status(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.status_body()).unwrap_or_default();
        (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

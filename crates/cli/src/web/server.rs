//! The HTTP server of web mode: a route table, the guard in front of it, and `run(listener, …)`
//! so that the command and the tests start it the same way.

use super::api;
use super::assets;
use super::guard::{Guard, Verdict};
use super::sessions::{Session, Sessions};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every request handler can reach.
pub struct WebState {
    /// The sessions, found by token.
    pub sessions: Sessions,
    /// The Host/Origin/token checks.
    pub guard: Guard,
}

/// The session a request was admitted for (put in the request's extensions by the guard).
#[derive(Clone)]
pub struct Admitted(pub Arc<Session>);

/// The routes: the API, then the UI's files for everything else.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/api/command", post(api::command))
        .route("/api/events", any(api::events))
        .fallback(get(files))
        .layer(middleware::from_fn_with_state(state.clone(), admit))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    state: Arc<WebState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// The guard as middleware: refuses, redirects with the cookie, or passes the request on with its
/// session; every answer carries the security headers.
async fn admit(State(state): State<Arc<WebState>>, mut request: Request, next: Next) -> Response {
    let verdict = state
        .guard
        .check(request.method(), request.uri(), request.headers(), |token| state.sessions.find(token).is_some());
    let mut response = match verdict {
        Verdict::Forbidden(what) => refusal(StatusCode::FORBIDDEN, what),
        Verdict::Unauthorized => refusal(StatusCode::UNAUTHORIZED, "token"),
        Verdict::SetCookie { token, location } => {
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
            if let Ok(cookie) = HeaderValue::from_str(&state.guard.cookie_header(&token)) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Verdict::Pass(token) => match state.sessions.find(&token) {
            Some(session) => {
                request.extensions_mut().insert(Admitted(session));
                next.run(request).await
            }
            None => refusal(StatusCode::UNAUTHORIZED, "token"),
        },
    };
    security_headers(response.headers_mut(), assets::CSP);
    response
}

/// The headers every answer carries (workshop mode's pages too, with their own policy).
pub(crate) fn security_headers(headers: &mut axum::http::HeaderMap, csp: &'static str) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A refusal that says, in both languages, what is wrong and what to do.
pub(crate) fn refusal(status: StatusCode, what: &str) -> Response {
    let text = match what {
        "host" => {
            "This server only answers to its own address (127.0.0.1 or localhost with its port).\n\
                   此服务器只响应它自己的地址（127.0.0.1 或 localhost 加端口）。\n"
        }
        "origin" => "Requests from other sites are refused.\n来自其他网站的请求会被拒绝。\n",
        _ => {
            "Open the address that `gitops-lab web` printed: it carries the session token.\n\
              请打开 `gitops-lab web` 打印的地址：其中带有会话令牌。\n"
        }
    };
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// The UI's files.
pub(crate) async fn files(request: Request) -> Response {
    assets::serve(request.uri().path(), request.headers())
}

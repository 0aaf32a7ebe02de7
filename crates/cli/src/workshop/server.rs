//! The workshop's HTTP server: web mode's API and UI for each learner, the join pages, the
//! instructor's board; one admission step in front that says who is asking.

use super::board;
use super::kube_proxy;
use super::pages;
use super::state::{Learner, Workshop};
use crate::web::api;
use crate::web::assets;
use crate::web::guard::Verdict;
use crate::web::server::{Admitted, files, refusal, security_headers};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::Listener;
use axum::{Extension, Json, Router};
use gitops_lab::protocol::Text;
use std::future::Future;
use std::sync::Arc;

/// Who the request was admitted for.
#[derive(Clone)]
pub enum Who {
    /// No valid token (the join pages only).
    Nobody,
    /// The instructor.
    Instructor,
    /// A learner.
    Learner(Arc<Learner>),
}

/// Which paths need whom.
#[derive(PartialEq, Eq)]
enum Area {
    Public,
    Learner,
    Instructor,
    Files,
}

fn area(path: &str) -> Area {
    match path {
        "/join" | "/api/join" => Area::Public,
        "/api/command" | "/api/events" | "/api/me" | "/api/kubeconfig" => Area::Learner,
        "/board" => Area::Instructor,
        p if p.starts_with("/api/board") => Area::Instructor,
        _ => Area::Files,
    }
}

/// The routes.
pub fn router(workshop: Arc<Workshop>) -> Router {
    Router::new()
        .route("/join", get(join_page).post(join_form))
        .route("/api/join", post(join_api))
        .route("/api/me", get(me))
        .route("/api/kubeconfig", get(kube_proxy::download))
        .route("/k8s/{*rest}", any(kube_proxy::proxy))
        .route("/api/command", post(api::command))
        .route("/api/events", any(api::events))
        .route("/board", get(board::page))
        .route("/api/board", get(board::snapshot))
        .route("/api/board/reset", post(board::reset))
        .route("/api/board/remove", post(board::remove))
        .route("/api/board/hint", post(board::hint))
        .route("/api/board/tree", get(board::tree))
        .route("/api/board/export.csv", get(board::export))
        .fallback(get(files))
        .layer(Extension(api::Heartbeat(workshop.settings.heartbeat)))
        .layer(middleware::from_fn_with_state(workshop.clone(), admit))
        .with_state(workshop)
}

/// Serves until `shutdown` resolves, over plain TCP or the TLS listener.
pub async fn run<L>(
    listener: L,
    workshop: Arc<Workshop>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router(workshop)).with_graceful_shutdown(shutdown).await
}

/// Web mode's guard (Host, Origin, token, cookie) decides first; then each area lets in only its
/// own people, with a message that says what to do instead.
async fn admit(State(workshop): State<Arc<Workshop>>, mut request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(kube_proxy::PREFIX) {
        // kubectl's own door: only a learner's kubectl token, checked by the proxy. No cookie is
        // read there, so the guard's Host and Origin checks (against DNS rebinding and cross-site
        // requests riding a cookie) have nothing to protect, and kubectl's upgrades send no Origin.
        return next.run(request).await;
    }
    // Set when a token shown was a removed learner's: they are told so, not "unknown link".
    let removed = std::cell::Cell::new(false);
    let verdict = workshop.guard.check(request.method(), request.uri(), request.headers(), |token| {
        let valid = workshop.is_instructor(token) || workshop.learner(token).is_some();
        if !valid && workshop.was_removed(token) {
            removed.set(true);
        }
        valid
    });
    let path = request.uri().path().to_string();
    if matches!(verdict, Verdict::Unauthorized) && removed.get() && area(&path) != Area::Public {
        let text = super::state::removed_text();
        let response = match area(&path) {
            Area::Files => pages::message(StatusCode::UNAUTHORIZED, &text),
            _ => plain(StatusCode::UNAUTHORIZED, &text),
        };
        return secured(response, &path);
    }
    let who = match verdict {
        Verdict::Forbidden(what) => return secured(refusal(StatusCode::FORBIDDEN, what), &path),
        Verdict::SetCookie { token, location } => return secured(set_cookie(&workshop, &token, &location), &path),
        Verdict::Pass(token) if workshop.is_instructor(&token) => Who::Instructor,
        Verdict::Pass(token) => workshop.learner(&token).map(Who::Learner).unwrap_or(Who::Nobody),
        Verdict::Unauthorized if has_query_token(request.uri()) && area(&path) != Area::Public => {
            return secured(pages::message(StatusCode::UNAUTHORIZED, &unknown_link()), &path);
        }
        Verdict::Unauthorized => Who::Nobody,
    };
    let refused = match (area(&path), &who) {
        (Area::Public, _) | (Area::Files, Who::Learner(_)) => None,
        (Area::Learner, Who::Learner(learner)) if path == "/api/command" => {
            let wait = learner.rate.take(std::time::Instant::now()).err();
            request.extensions_mut().insert(Admitted(learner.session.clone()));
            wait.map(slow_down)
        }
        (Area::Learner, Who::Learner(learner)) => {
            request.extensions_mut().insert(Admitted(learner.session.clone()));
            None
        }
        (Area::Instructor | Area::Files, Who::Instructor) if path == "/" => Some(redirect("/board")),
        (Area::Instructor | Area::Files, Who::Instructor) => None,
        (Area::Files, Who::Nobody) if path == "/" || path == "/index.html" => Some(redirect("/join")),
        (Area::Learner, Who::Instructor) => Some(plain(StatusCode::FORBIDDEN, &instructor_has_no_lab())),
        (Area::Instructor, Who::Learner(_)) => Some(plain(StatusCode::FORBIDDEN, &board_is_private())),
        (_, Who::Nobody) => Some(plain(StatusCode::UNAUTHORIZED, &unknown_link())),
    };
    request.extensions_mut().insert(who);
    let response = match refused {
        Some(response) => response,
        None => next.run(request).await,
    };
    secured(response, &path)
}

fn secured(mut response: Response, path: &str) -> Response {
    let csp = if area(path) == Area::Public || response.status() == StatusCode::UNAUTHORIZED {
        pages::PAGE_CSP
    } else {
        assets::CSP
    };
    security_headers(response.headers_mut(), csp);
    if csp == pages::PAGE_CSP {
        // Under `no-referrer` Chromium posts the join form with `Origin: null`, which the guard
        // refuses; `same-origin` still sends nothing to other sites.
        response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}

fn set_cookie(workshop: &Workshop, token: &str, location: &str) -> Response {
    let mut response = redirect(location);
    if let Ok(cookie) = HeaderValue::from_str(&workshop.guard.cookie_header(token)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

fn redirect(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location.to_string())]).into_response()
}

fn has_query_token(uri: &axum::http::Uri) -> bool {
    uri.query().is_some_and(|q| q.split('&').any(|pair| pair.starts_with("token=")))
}

/// A plain-text refusal in both languages (API clients and pages alike can read it).
fn plain(status: StatusCode, text: &Text) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n{}\n", text.en, text.zh))
        .into_response()
}

/// A command over the learner's rate: 429 with `Retry-After`, in the shape of a command's error
/// answer so the lab screen shows the sentence.
fn slow_down(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let view = gitops_lab::protocol::ErrorView::new(
        "slow-down",
        Text::new(
            format!(
                "Too many commands at once: the workshop runs them at a steady pace so that every learner gets a turn. Try again in {seconds} s; if a script is sending them in a loop, stop it."
            ),
            format!(
                "命令发送得太快了：工作坊按稳定的节奏执行命令，让每位学员都能轮到。请 {seconds} 秒后再试；如果有脚本在循环发送命令，请先停止它。"
            ),
        ),
    );
    let answer: gitops_lab::protocol::Response = Err(view);
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(answer)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn unknown_link() -> Text {
    Text::new(
        "This link does not open a session of this workshop: it may be mistyped, cut short, or from an earlier workshop. Open the personal link you were given, or join again at /join.",
        "此链接无法打开本工作坊的任何会话：它可能输错了、被截断了，或来自之前的工作坊。请打开你得到的个人链接，或在 /join 重新加入。",
    )
}

fn instructor_has_no_lab() -> Text {
    Text::new(
        "The instructor's link opens the board, not a lab session. To try the lab yourself, join at /join in another browser (or a private window).",
        "讲师链接打开的是看板，而不是实验会话。若想亲自体验实验室，请在另一个浏览器（或隐私窗口）中通过 /join 加入。",
    )
}

fn board_is_private() -> Text {
    Text::new("The board is for the instructor only; your own lab is at /.", "看板仅供讲师使用；你自己的实验室在 / 。")
}

/// The join form (a learner who already joined in this browser is shown their link again).
async fn join_page(State(workshop): State<Arc<Workshop>>, Extension(who): Extension<Who>) -> Response {
    match who {
        Who::Learner(learner) => pages::welcome(&learner.record.name, &workshop.link(&learner)),
        _ => pages::join(StatusCode::OK, None, ""),
    }
}

/// The join form posted: the welcome page with the cookie, or the form again with the reason.
async fn join_form(State(workshop): State<Arc<Workshop>>, body: Bytes) -> Response {
    let name =
        form_urlencoded::parse(&body).find(|(k, _)| k == "name").map(|(_, v)| v.into_owned()).unwrap_or_default();
    match workshop.join(&name) {
        Ok(learner) => with_cookie(&workshop, &learner, pages::welcome(&learner.record.name, &workshop.link(&learner))),
        Err(refused) => pages::join(refused.status, Some(&refused.message), &name),
    }
}

/// Body of `POST /api/join`.
#[derive(serde::Deserialize)]
pub struct JoinRequest {
    name: String,
}

/// Joining for API clients (the load test): `{"name": …}` → `{"id", "name", "token", "link"}`, or
/// `{"code", "message": {"en", "zh-CN"}}` with 400 (bad name) or 503 (please wait).
async fn join_api(State(workshop): State<Arc<Workshop>>, body: Bytes) -> Response {
    let request: JoinRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let message = Text::new(
                format!("Send {{\"name\": \"…\"}} as JSON ({error})."),
                format!("请以 JSON 发送 {{\"name\": \"…\"}}（{error}）。"),
            );
            return error_json(StatusCode::BAD_REQUEST, "bad-request", message);
        }
    };
    match workshop.join(&request.name) {
        Ok(learner) => {
            let answer = serde_json::json!({
                "id": learner.record.id, "name": learner.record.name,
                "token": learner.record.token, "link": workshop.link(&learner),
            });
            with_cookie(&workshop, &learner, Json(answer).into_response())
        }
        Err(refused) => {
            let code = if refused.status == StatusCode::SERVICE_UNAVAILABLE { "please-wait" } else { "bad-name" };
            error_json(refused.status, code, refused.message)
        }
    }
}

/// An error body the UI's and tests' clients read: a code and the message in both languages.
pub fn error_json(status: StatusCode, code: &str, message: Text) -> Response {
    (status, Json(serde_json::json!({ "code": code, "message": message }))).into_response()
}

fn with_cookie(workshop: &Workshop, learner: &Learner, mut response: Response) -> Response {
    if let Ok(cookie) = HeaderValue::from_str(&workshop.guard.cookie_header(&learner.record.token)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Who the learner is: id, name and personal link.
async fn me(State(workshop): State<Arc<Workshop>>, Extension(who): Extension<Who>) -> Response {
    match who {
        Who::Learner(learner) => Json(serde_json::json!({
            "id": learner.record.id, "name": learner.record.name, "link": workshop.link(&learner),
        }))
        .into_response(),
        _ => plain(StatusCode::UNAUTHORIZED, &unknown_link()),
    }
}

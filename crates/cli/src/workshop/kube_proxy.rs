//! The learner's own `kubectl` through the workshop server: a kubeconfig to download
//! (`GET /api/kubeconfig`) whose server is `BASE/k8s/LEARNER-ID` and whose token is the learner's
//! kubectl token, and the proxy behind that path. The proxy checks the token against the learner
//! named in the path, starts their sandbox if it is stopped, and forwards the request to it with
//! the sandbox's own credentials: plain requests and watches stream both ways, and upgrades
//! (exec, attach, port-forward; WebSocket or SPDY alike) are spliced byte for byte after the
//! sandbox's `101`.
//!
//! The kubectl token is derived from the learner's link token (a SHA-256 under a fixed label),
//! so it is stored with the learner without a new field, opens their sandbox only, and reveals
//! nothing of the link token (which opens their lab in a browser, and is refused here).

use super::state::{Learner, Workshop};
use super::upstream::{Sender, Upstream};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use gitops_lab::protocol::Text;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

/// The path prefix of the proxy.
pub const PREFIX: &str = "/k8s/";
/// The kubeconfig's cluster, user and context name (not the sandbox's own, so the two can sit in
/// one merged kubeconfig).
const CONTEXT: &str = "gitops-lab-workshop";
/// How long a request waits for a stopped sandbox to start and connect.
const START_WAIT: Duration = Duration::from_secs(60);

/// The learner's kubectl token: derived from their link token, never equal to it.
pub fn kubectl_token(link_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("gitops-lab kubectl\0{link_token}").as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The kubeconfig a learner downloads, carrying the workshop's CA when the workshop serves HTTPS
/// itself (behind a TLS-terminating proxy, the proxy's certificate is for the system to trust).
pub fn kubeconfig(base_url: &str, learner: &Learner, ca_pem: Option<&str>) -> String {
    let server = format!("{base_url}{PREFIX}{}", learner.record.id);
    let ca = match ca_pem.filter(|_| server.starts_with("https://")) {
        Some(pem) => {
            format!("\n    certificate-authority-data: {}", base64::engine::general_purpose::STANDARD.encode(pem))
        }
        None => String::new(),
    };
    let token = kubectl_token(&learner.record.token);
    format!(
        "# {name}'s sandbox through the workshop server / {name} 的沙箱（经由工作坊服务器）\n\
         apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}{ca}\n\
         users:\n- name: {CONTEXT}\n  user:\n    token: {token}\n\
         contexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: default\n\
         current-context: {CONTEXT}\npreferences: {{}}\n",
        name = learner.record.name.replace(['\n', '\r'], " "),
    )
}

/// `GET /api/kubeconfig` (a learner's cookie or link token): their kubeconfig as a download.
pub async fn download(State(workshop): State<Arc<Workshop>>, who: axum::Extension<super::server::Who>) -> Response {
    let super::server::Who::Learner(learner) = who.0 else {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", &no_token());
    };
    if !workshop.settings.base_url.starts_with("https://") {
        // client-go never sends a bearer token over plain http: such a kubeconfig would only
        // ever meet "the server has asked for the client to provide credentials".
        let text = Text::new(
            "kubectl sends its token only over HTTPS, and this workshop serves plain http. Ask your instructor to start it with --tls (on loopback) or on a network address (HTTPS by default), then download the kubeconfig again.",
            "kubectl 只通过 HTTPS 发送令牌，而本工作坊使用的是明文 http。请讲师用 --tls（本机回环地址）或在网络地址上（默认即 HTTPS）启动工作坊，然后重新下载 kubeconfig。",
        );
        return super::server::error_json(StatusCode::CONFLICT, "needs-https", text);
    }
    let text = kubeconfig(&workshop.settings.base_url, &learner, workshop.settings.ca_pem.as_deref());
    let disposition = format!("attachment; filename=\"kubeconfig-{}.yaml\"", learner.record.id);
    let mut response = ([(header::CONTENT_TYPE, "application/yaml; charset=utf-8")], text).into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Everything under `/k8s/`: the token must be the kubectl token of the learner the path names.
pub async fn proxy(State(workshop): State<Arc<Workshop>>, request: Request) -> Response {
    let Some((id, rest)) = split_path(request.uri()) else {
        let text = Text::new(
            "Use the kubeconfig from your lab (/api/kubeconfig): its server ends in /k8s/ and your learner id.",
            "请使用实验室提供的 kubeconfig（/api/kubeconfig）：其服务器地址以 /k8s/ 加你的学员 id 结尾。",
        );
        return status(StatusCode::NOT_FOUND, "NotFound", &text);
    };
    let learner = match authorize(&workshop, request.headers(), &id) {
        Ok(learner) => learner,
        Err(text) => return status(StatusCode::UNAUTHORIZED, "Unauthorized", &text),
    };
    // The same share as the learner's commands: a kubectl loop slows its own learner only. kubectl
    // waits out `Retry-After` on a 429 and tries again by itself (a watch counts once, at its start).
    if let Err(wait) = learner.rate.take(std::time::Instant::now()) {
        return too_many(wait);
    }
    match forward(&learner, rest, request).await {
        Ok(response) => response,
        Err(text) => status(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", &text),
    }
}

/// `/k8s/learner-3/api/v1/pods?watch=1` → `learner-3`, `/api/v1/pods?watch=1`.
fn split_path(uri: &Uri) -> Option<(String, String)> {
    let tail = uri.path().strip_prefix(PREFIX)?;
    let (id, path) = match tail.split_once('/') {
        Some((id, path)) => (id, format!("/{path}")),
        None => (tail, "/".to_string()),
    };
    if id.is_empty() {
        return None;
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some((id.to_string(), format!("{path}{query}")))
}

/// The learner whose kubectl token was sent, if the path names them; otherwise why not.
fn authorize(workshop: &Workshop, headers: &HeaderMap, id: &str) -> Result<Arc<Learner>, Text> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(no_token)?;
    // One hash of the presented token, looked up among the learners' (never a hash per learner).
    if let Some(owner) = workshop.learner_by_kubectl_digest(&digest(presented)) {
        if owner.record.id == id {
            return Ok(owner);
        }
        return Err(Text::new(
            format!(
                "This token does not open {id}'s sandbox: each learner's kubeconfig reaches their own sandbox only."
            ),
            format!("此令牌无法打开 {id} 的沙箱：每位学员的 kubeconfig 只能访问自己的沙箱。"),
        ));
    }
    if workshop.is_instructor(presented) {
        return Err(Text::new(
            "The instructor's token opens the board, not a cluster: it is not a kubectl credential. Join at /join and download that learner's kubeconfig to use kubectl.",
            "讲师令牌用于打开看板，而不是集群：它不是 kubectl 凭据。若要使用 kubectl，请在 /join 加入并下载该学员的 kubeconfig。",
        ));
    }
    if workshop.learner(presented).is_some() {
        return Err(Text::new(
            "This is a personal link's token, which opens the lab in a browser; kubectl needs the kubeconfig from your lab page (/api/kubeconfig).",
            "这是个人链接的令牌，用于在浏览器中打开实验室；kubectl 需要的是实验室页面上的 kubeconfig（/api/kubeconfig）。",
        ));
    }
    if workshop.was_removed(presented) {
        return Err(super::state::removed_text());
    }
    Err(Text::new(
        "This token opens no sandbox of this workshop: it may be mistyped, cut short, or from an earlier workshop. Download your kubeconfig again from your lab (/api/kubeconfig).",
        "此令牌无法打开本工作坊的任何沙箱：它可能输错了、被截断了，或来自之前的工作坊。请从你的实验室重新下载 kubeconfig（/api/kubeconfig）。",
    ))
}

/// The SHA-256 of a kubectl token: the key the workshop files each learner's under.
pub fn digest(kubectl_token: &str) -> [u8; 32] {
    let mut key = [0; 32];
    key.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, kubectl_token.as_bytes()).as_ref());
    key
}

fn no_token() -> Text {
    Text::new(
        "No token: use the kubeconfig from your lab page (/api/kubeconfig), which carries your own token.",
        "缺少令牌：请使用实验室页面上的 kubeconfig（/api/kubeconfig），其中带有你自己的令牌。",
    )
}

/// A Kubernetes `Status` (kubectl prints its message) in both languages.
fn status(code: StatusCode, reason: &str, text: &Text) -> Response {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{} / {}", text.en, text.zh), "reason": reason, "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}

/// 429 with `Retry-After`, as an API server's priority and fairness answers a client over its share.
fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let text = Text::new(
        format!(
            "Too many requests at once: the workshop serves every learner's kubectl at a steady pace. kubectl tries again by itself in {seconds} s; if a script sends requests in a loop, slow it down."
        ),
        format!(
            "请求发送得太快了：工作坊按稳定的节奏处理每位学员的 kubectl 请求。kubectl 会在 {seconds} 秒后自动重试；如果有脚本在循环发送请求，请放慢它。"
        ),
    );
    let mut response = status(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", &text);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Starts the learner's engine if needed (counting as their activity, and checking memory like a
/// return from idle), waits for its sandbox to be connected, and gives the learner's cached way
/// there (renewed when the sandbox restarted with new credentials).
async fn upstream(learner: &Learner) -> Result<Arc<Upstream>, Text> {
    let engine = learner.session.try_engine().await?;
    let mut watch = engine.connection().watch();
    let handle = tokio::time::timeout(START_WAIT, watch.wait_for(|h| h.is_some()))
        .await
        .ok()
        .and_then(|h| h.ok().and_then(|h| h.clone()))
        .ok_or_else(|| {
            Text::new(
                "Your sandbox did not start within a minute; try again, and tell your instructor if it keeps failing.",
                "你的沙箱在一分钟内没有启动；请重试，如果一直失败，请告诉讲师。",
            )
        })?;
    learner.upstream.get(&handle.kubeconfig, &handle.server).map_err(|e| unreachable(&e))
}

fn unreachable(detail: &str) -> Text {
    Text::new(
        format!("Your sandbox cannot be reached through the workshop ({detail}); try again in a moment."),
        format!("无法经由工作坊访问你的沙箱（{detail}）；请稍后重试。"),
    )
}

/// Sends the request to the sandbox over TLS (a kept-alive connection when one is idle) and
/// streams the answer back; a `101` splices the two connections together.
async fn forward(learner: &Learner, path: String, mut request: Request) -> Result<Response, Text> {
    let upstream = upstream(learner).await?;
    let client_upgrade = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>();
    let (mut parts, body) = request.into_parts();
    parts.uri = path.parse().map_err(|_| unreachable("bad path"))?;
    parts.version = axum::http::Version::HTTP_11;
    let upgrading = parts.headers.contains_key(header::UPGRADE);
    strip_hop_headers(&mut parts.headers, upgrading);
    parts.headers.insert(header::AUTHORIZATION, upstream.bearer.clone());
    if let Ok(host) = HeaderValue::from_str(&upstream.authority) {
        parts.headers.insert(header::HOST, host);
    }
    // A watch, a log follow or an open shell keeps the learner active while it lasts.
    let open = learner.session.socket_open();
    if upgrading {
        let mut sender = upstream.open().await.map_err(|e| unreachable(&e))?;
        let mut response =
            sender.send_request(Request::from_parts(parts, body)).await.map_err(|e| unreachable(&e.to_string()))?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let server_upgrade = hyper::upgrade::on(&mut response);
            let Some(client_upgrade) = client_upgrade else { return Err(unreachable("no upgrade from the client")) };
            tokio::spawn(async move {
                let _open = open;
                if let (Ok(client), Ok(server)) = (client_upgrade.await, server_upgrade.await) {
                    let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(server)).await;
                }
            });
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_headers(&mut parts.headers, false);
        return Ok(Response::from_parts(parts, Body::new(Held { body, _open: open, back: None })));
    }
    let (response, sender) = upstream.send(Request::from_parts(parts, body)).await.map_err(|e| unreachable(&e))?;
    let (mut parts, body) = response.into_parts();
    strip_hop_headers(&mut parts.headers, false);
    let back = Some((sender, upstream));
    Ok(Response::from_parts(parts, Body::new(Held { body, _open: open, back })))
}

/// Headers that belong to one connection, not the request (RFC 9110 §7.6.1); `Connection` and
/// `Upgrade` stay on an upgrade, which needs them end to end.
fn strip_hop_headers(headers: &mut HeaderMap, upgrading: bool) {
    for name in ["keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding"] {
        headers.remove(name);
    }
    if !upgrading {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

/// A response body that keeps the learner counted as active until it ends, then gives its
/// connection back to the learner's pool (a body dropped half read closes it instead).
struct Held {
    body: hyper::body::Incoming,
    _open: crate::web::sessions::SocketOpen,
    back: Option<(Sender, Arc<Upstream>)>,
}

impl Held {
    fn ended(&mut self) {
        if let Some((sender, upstream)) = self.back.take() {
            upstream.give_back(sender);
        }
    }
}

impl hyper::body::Body for Held {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) || self.body.is_end_stream() {
            self.ended();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_learner_and_keep_the_query() {
        let uri: Uri = "/k8s/learner-3/api/v1/pods?watch=1".parse().unwrap();
        assert_eq!(split_path(&uri), Some(("learner-3".into(), "/api/v1/pods?watch=1".into())));
        assert_eq!(split_path(&"/k8s/learner-3".parse().unwrap()), Some(("learner-3".into(), "/".into())));
        assert_eq!(split_path(&"/k8s/".parse().unwrap()), None);
    }

    #[test]
    fn the_kubectl_token_is_derived_not_the_link_token() {
        let token = kubectl_token("abc");
        assert_eq!(token.len(), 64);
        assert_ne!(token, "abc");
        assert_eq!(token, kubectl_token("abc"));
        assert_ne!(token, kubectl_token("abd"));
    }
}

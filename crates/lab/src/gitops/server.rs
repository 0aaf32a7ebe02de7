//! A read-only git smart-HTTP server for the learner's repositories, so that the real `git clone`,
//! libgit2, the sandbox's operator pods and minikube pods can all fetch them.
//!
//! The protocol itself is Git's own: every request is handed to `git http-backend` (the CGI
//! program shipped with git, found with `git --exec-path`), which serves `upload-pack` (clone and
//! fetch). Pushes (`receive-pack`) are refused here, before the backend sees them, with a sentence
//! the git client prints. The entry point is [`run`]`(listener, root, shutdown)`, so tests bind
//! port 0 and the engine binds loopback (or, for minikube, the host address its pods reach).

use crate::error::{Error, Result};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use gitops_lab_protocol::Text;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The largest request body accepted (a fetch negotiation of a large history stays far below).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What every request needs: the repositories' root and the backend program.
struct Served {
    root: PathBuf,
    backend: PathBuf,
}

/// Finds `git-http-backend` in git's exec path.
pub fn find_backend() -> Result<PathBuf> {
    let output = std::process::Command::new("git").arg("--exec-path").output();
    let exec_path = match output {
        Ok(out) if out.status.success() => PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()),
        _ => return Err(missing_git("git")),
    };
    let backend = exec_path.join(format!("git-http-backend{}", std::env::consts::EXE_SUFFIX));
    if backend.is_file() { Ok(backend) } else { Err(missing_git(&backend.display().to_string())) }
}

fn missing_git(what: &str) -> Error {
    Error::explained(
        "git-missing",
        Text::new(
            format!("The lab's git server needs git's http-backend, and {what} cannot be found."),
            format!("实验室的 git 服务器需要 git 的 http-backend，但找不到 {what}。"),
        ),
        Some(Text::new(
            "Install git (on Debian or Ubuntu: sudo apt-get install git), then restart the lab.",
            "请安装 git（Debian 或 Ubuntu 上：sudo apt-get install git），然后重启实验室。",
        )),
    )
}

/// Serves the repositories under `root` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    root: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let served = Arc::new(Served { root, backend: find_backend()? });
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let served = served.clone();
        async move { answer(&served, request).await }
    });
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| Error::io(Path::new(&addr), e))
}

async fn answer(served: &Served, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    if path.ends_with("/git-receive-pack") || query.split('&').any(|p| p == "service=git-receive-pack") {
        return plain(StatusCode::FORBIDDEN, PUSH_REFUSED);
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "The lab's git server answers only GET and POST.\n");
    }
    let Some(path_info) = backend_path(&path) else {
        return plain(StatusCode::NOT_FOUND, "No such repository on the lab's git server.\n");
    };
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.\n"),
    };
    match run_backend(served, parts.method.as_str(), &path_info, &query, &parts.headers, body).await {
        Ok(response) => response,
        Err(message) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{message}\n")),
    }
}

/// What `git push` prints after `remote: `; git shows plain-text error bodies to the user.
const PUSH_REFUSED: &str = "This git server is read-only: the lab serves its repositories for clone and fetch only.\n\
To change a repository, commit in the lab, or with git in the repository's own folder under the lab's data directory.\n\
这个 git 服务器是只读的：实验室只提供克隆和拉取。要修改仓库，请在实验室中提交，或在实验室数据目录下该仓库的文件夹中用 git 提交。\n";

/// The backend's `PATH_INFO`: `/config.git/info/refs` and `/config/info/refs` both name the
/// repository `config` (non-bare, so git finds `config/.git` itself). `None` for `..` tricks.
fn backend_path(path: &str) -> Option<String> {
    if path.split('/').any(|part| part == ".." || part == ".git") {
        return None;
    }
    let mut parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let first = parts.first_mut()?;
    if first.is_empty() {
        return None;
    }
    *first = first.strip_suffix(".git").unwrap_or(first);
    Some(format!("/{}", parts.join("/")))
}

async fn run_backend(
    served: &Served,
    method: &str,
    path_info: &str,
    query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, String> {
    let header =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut command = tokio::process::Command::new(&served.backend);
    command
        .env("GIT_PROJECT_ROOT", &served.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header(header::CONTENT_ENCODING))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Protocol v2, which current git clients ask for with this header.
    if let Some(protocol) = headers.get("git-protocol").and_then(|v| v.to_str().ok()) {
        command.env("GIT_PROTOCOL", protocol);
    }
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", served.backend.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    // Write the body while the backend reads it; it may answer before reading everything.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.map_err(|e| format!("git http-backend failed: {e}"))?;
    let _ = writer.await;
    parse_cgi(&output.stdout)
        .ok_or_else(|| format!("git http-backend gave no answer: {}", String::from_utf8_lossy(&output.stderr).trim()))
}

/// A CGI answer (`Status:` and other headers, a blank line, the body) as an HTTP response.
fn parse_cgi(output: &[u8]) -> Option<Response<Body>> {
    let (head_len, sep_len) = find_blank_line(output)?;
    let head = std::str::from_utf8(&output[..head_len]).ok()?;
    let mut response = Response::builder().status(StatusCode::OK);
    for line in head.lines() {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next()?.parse::<u16>().ok()?;
            response = response.status(code);
        } else if let Ok(value) = HeaderValue::from_str(value) {
            response = response.header(name.trim(), value);
        }
    }
    response.body(Body::from(output[head_len + sep_len..].to_vec())).ok()
}

/// Where the header block ends: its length and the separator's (`\r\n\r\n` or `\n\n`).
fn find_blank_line(output: &[u8]) -> Option<(usize, usize)> {
    let crlf = output.windows(4).position(|w| w == b"\r\n\r\n").map(|at| (at, 4));
    let lf = output.windows(2).position(|w| w == b"\n\n").map(|at| (at, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The git server as the engine runs it: started on a listener, stopped on shutdown.
pub struct GitServer {
    addr: SocketAddr,
    host: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl GitServer {
    /// Serves `root` on `listener`. `public_host` is the host name clone URLs use instead of the
    /// bound address (e.g. `host.minikube.internal` when bound on minikube's network).
    pub fn start(listener: TcpListener, root: PathBuf, public_host: Option<String>) -> Result<GitServer> {
        find_backend()?;
        let addr = listener.local_addr().map_err(|e| Error::io(Path::new("git server"), e))?;
        let host = match public_host {
            Some(host) => format!("{host}:{}", addr.port()),
            None => addr.to_string(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, root, async move {
            let _ = stopped.await;
        }));
        Ok(GitServer { addr, host, stop: Some(stop), task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The clone URL of a repository: `http://127.0.0.1:PORT/config`.
    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}", self.host)
    }

    /// Stops accepting, lets running requests finish, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_map_with_or_without_the_git_suffix_and_refuse_tricks() {
        assert_eq!(backend_path("/config.git/info/refs").as_deref(), Some("/config/info/refs"));
        assert_eq!(backend_path("/config/git-upload-pack").as_deref(), Some("/config/git-upload-pack"));
        assert_eq!(backend_path("/../etc/info/refs"), None);
        assert_eq!(backend_path("/config/.git/config"), None);
        assert_eq!(backend_path("/"), None);
    }

    #[test]
    fn a_cgi_answer_becomes_a_response_with_its_status_and_headers() {
        let response = parse_cgi(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope").unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain");
        let ok = parse_cgi(b"Content-Type: application/x-git-upload-pack-advertisement\n\n0000").unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(parse_cgi(b"no header end").is_none());
    }
}

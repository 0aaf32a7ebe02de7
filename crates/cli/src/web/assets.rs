//! The UI's files, embedded at build time (see `build.rs`), served with caching and gzip.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    /// The path under the site's root, without a leading `/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its `ETag` (a content hash).
    pub etag: &'static str,
    /// The bytes.
    pub raw: &'static [u8],
    /// The bytes, gzip-compressed.
    pub gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// The Content-Security-Policy of every page: scripts only from the server itself (plus compiling
/// its wasm), connections only back to it. Styles may be inline because the terminal (xterm.js)
/// writes its own style elements.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Serves `path` (`index.html` for `/`), or the page that explains how to build the UI.
pub fn serve(path: &str, request: &HeaderMap) -> Response {
    if ASSETS.is_empty() {
        return not_built();
    }
    let path = match path.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "not found / 未找到\n").into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Names are not content-hashed: revalidate each time (a 304 costs one loopback round trip).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if request.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(asset.etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    let accepts_gzip = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if accepts_gzip && asset.gzip.len() < asset.raw.len() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, asset.gzip).into_response()
    } else {
        (headers, asset.raw).into_response()
    }
}

/// The page served when the binary was built before the UI.
fn not_built() -> Response {
    let page = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>GitOps Lab</title>\
<h1>The lab's UI is not built into this binary</h1>\
<p>Build it and the binary again with <code>scripts/lab</code> (or <code>ui/build.sh</code>, then \
<code>cargo build -p gitops-lab</code>). The engine is running: the API under <code>/api/</code> answers.</p>\
<h1 lang=\"zh-CN\">此程序中没有内置实验室界面</h1>\
<p lang=\"zh-CN\">请用 <code>scripts/lab</code> 重新构建（或先运行 <code>ui/build.sh</code>，再运行 \
<code>cargo build -p gitops-lab</code>）。引擎已在运行，<code>/api/</code> 下的接口可以使用。</p></html>";
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    (StatusCode::SERVICE_UNAVAILABLE, headers, page).into_response()
}

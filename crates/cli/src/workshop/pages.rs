//! The workshop's own small pages, server-rendered and script-free: the join form, the welcome
//! page with the learner's personal link, and the messages for refused links. Both languages on
//! every page (a learner may not have chosen one yet).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_lab::protocol::Text;

/// The policy of these pages: no scripts at all, inline styles, forms posting back to the server.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;max-width:40rem;margin:3rem auto;\
padding:0 1rem;line-height:1.5}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}\
button{font-size:1.1rem;margin-top:.8rem;padding:.4rem 1.2rem}.error{color:#b00020;border-left:4px solid;\
padding-left:.6rem}code{word-break:break-all;background:#8882;padding:.1rem .3rem}\
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8ab4f8}.error{color:#ff8a80}}";

/// The join form, with the reason the last name was refused (if any) and the name typed.
pub fn join(status: StatusCode, refusal: Option<&Text>, typed: &str) -> Response {
    let error = refusal
        .map(|text| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"join-error\">{}<br><span lang=\"zh-CN\">{}</span></p>",
                escape(&text.en),
                escape(&text.zh)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Join the workshop <span lang=\"zh-CN\">加入工作坊</span></h1>\
<p>Type the name your instructor will see on the board. You get a personal link that opens your own lab from any browser.</p>\
<p lang=\"zh-CN\">请输入讲师在看板上看到的名字。你会得到一个个人链接，在任何浏览器中打开它都能回到你自己的实验室。</p>\
{error}<form method=\"post\" action=\"/join\"><label for=\"name\">Your name / 你的名字</label>\
<input id=\"name\" name=\"name\" maxlength=\"200\" autocomplete=\"name\" autofocus value=\"{}\">\
<button type=\"submit\">Join / 加入</button></form>",
        escape(typed)
    );
    page(status, "Join · 加入", &body)
}

/// The page after joining: the personal link to keep, and the way into the lab.
pub fn welcome(name: &str, link: &str) -> Response {
    let body = format!(
        "<h1>Welcome, {name} <span lang=\"zh-CN\">欢迎，{name}</span></h1>\
<p>This is your personal link. Keep it (bookmark it or copy it somewhere): it opens your own lab, with your progress, from any browser. Do not share it.</p>\
<p lang=\"zh-CN\">这是你的个人链接。请保存好（加入书签或复制下来）：在任何浏览器中打开它，都会回到你自己的实验室和进度。请勿分享。</p>\
<p><code id=\"personal-link\">{link}</code></p>\
<p><a id=\"open-lab\" href=\"/\">Open my lab → <span lang=\"zh-CN\">打开我的实验室 →</span></a></p>\
<p><a id=\"kubeconfig\" href=\"/api/kubeconfig\" download>Download my kubeconfig <span lang=\"zh-CN\">下载我的 kubeconfig</span></a>: \
your own kubectl then reaches your sandbox through this server (<code>kubectl --kubeconfig FILE get pods</code>). \
<span lang=\"zh-CN\">之后你自己的 kubectl 即可经由本服务器访问你的沙箱（<code>kubectl --kubeconfig 文件 get pods</code>）。</span></p>",
        name = escape(name),
        link = escape(link)
    );
    page(StatusCode::OK, "Welcome · 欢迎", &body)
}

/// A refusal as a page: what happened and what to do, in both languages.
pub fn message(status: StatusCode, text: &Text) -> Response {
    let body = format!(
        "<h1>GitOps Lab</h1><p class=\"error\" role=\"alert\">{}</p><p class=\"error\" lang=\"zh-CN\">{}</p>\
<p><a href=\"/join\">Join the workshop / 加入工作坊</a></p>",
        escape(&text.en),
        escape(&text.zh)
    );
    page(status, "GitOps Lab", &body)
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
<style>{STYLE}</style></head><body>{body}</body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_inject_markup() {
        assert_eq!(escape("<b onclick='x'>\"&"), "&lt;b onclick=&#39;x&#39;&gt;&quot;&amp;");
    }
}

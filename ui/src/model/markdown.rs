//! Exercise text (Markdown) to HTML for the step view. Raw HTML in the source is shown as text,
//! never interpreted, so an exercise file cannot inject markup or scripts into the page.

use pulldown_cmark::{Event, Options, Parser, html};

/// Renders Markdown (tables and strikethrough included) to HTML with raw HTML escaped.
pub fn to_html(markdown: &str) -> String {
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
            other => other,
        });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    neutralise_links(out)
}

/// Links may only lead to http(s) pages or anchors: a `javascript:` URL becomes `#`.
fn neutralise_links(html: String) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(start) = rest.find("href=\"") {
        let (before, after) = rest.split_at(start + 6);
        out.push_str(before);
        let end = after.find('"').unwrap_or(after.len());
        let url = &after[..end];
        let lower = url.to_ascii_lowercase();
        let safe = lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with('#');
        out.push_str(if safe { url } else { "#" });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_code_and_emphasis() {
        let html = to_html("Run `kubectl get pods` **now**.");
        assert!(html.contains("<code>kubectl get pods</code>"));
        assert!(html.contains("<strong>now</strong>"));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html("<script>alert(1)</script> and <b>x</b>");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn javascript_links_are_neutralised() {
        assert!(to_html("[x](javascript:alert(1))").contains("href=\"#\""));
        assert!(to_html("[docs](https://kubernetes.io/)").contains("href=\"https://kubernetes.io/\""));
    }
}

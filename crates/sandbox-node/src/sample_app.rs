//! The sample app's behaviour: every GET answers with the image's tag, so a CI bump shows.

use super::http::{Request, Responder, Response};

/// The sample app, answering with its tag.
pub struct SampleApp {
    /// The image's tag.
    pub tag: String,
}

impl Responder for SampleApp {
    fn respond(&self, request: &Request) -> Response {
        let headers = vec![("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())];
        match request.method.as_str() {
            "GET" | "HEAD" => Response { status: 200, headers, body: format!("{}\n", self.tag).into_bytes() },
            _ => Response { status: 405, headers, body: b"method not allowed\n".to_vec() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;

    #[test]
    fn every_path_answers_with_the_tag() {
        let app = SampleApp { tag: "v0.2".into() };
        let request = parse_head(b"GET /anything HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(app.respond(&request).body, b"v0.2\n");
        let request = parse_head(b"DELETE / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(app.respond(&request).status, 405);
    }
}

//! A cluster component's HTTP side (CoreDNS, etcd, the control plane, kube-proxy): the fixed
//! health and metrics answers its image row declares for one port, so the probes kubeadm and
//! CoreDNS's manifests declare pass; any other path is Go's 404.

use super::http::{Request, Responder, Response};

/// The answers of one port of a daemon.
pub struct Daemon {
    /// (path, body) pairs, filled in when the container started.
    pub answers: Vec<(String, String)>,
}

impl Responder for Daemon {
    fn respond(&self, request: &Request) -> Response {
        let headers = vec![("Content-Type".to_string(), "text/plain; charset=utf-8".to_string())];
        let path = request.target.split('?').next().unwrap_or_default();
        match self.answers.iter().find(|(p, _)| p == path) {
            Some((_, body)) => Response { status: 200, headers, body: body.clone().into_bytes() },
            None => Response { status: 404, headers, body: b"404 page not found\n".to_vec() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;

    #[test]
    fn a_declared_path_answers_with_its_body_whatever_the_query() {
        let daemon = Daemon { answers: vec![("/health".into(), "{\"health\":\"true\"}".into())] };
        let request = parse_head(b"GET /health?exclude=NOSPACE&serializable=true HTTP/1.1\r\n\r\n").unwrap();
        let response = daemon.respond(&request);
        assert_eq!((response.status, response.body.as_slice()), (200, b"{\"health\":\"true\"}".as_slice()));
        let request = parse_head(b"GET /ready HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(daemon.respond(&request).status, 404);
    }
}

//! A small HTTP/1.1 server loop for simulated containers (nginx, the sample app): parses requests
//! from a byte stream, asks a responder, writes responses, keeps connections alive.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Request heads larger than this get 400, as nginx's large header buffers would.
const MAX_HEAD: usize = 32 * 1024;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The path without the query, percent-decoded.
    pub fn path(&self) -> String {
        let raw = self.target.split(['?', '#']).next().unwrap_or("/");
        percent_decode(raw)
    }

    fn keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        match self.version.as_str() {
            "HTTP/1.0" => connection == "keep-alive",
            _ => connection != "close",
        }
    }
}

/// A response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers besides Content-Length, Connection and Date.
    pub headers: Vec<(String, String)>,
    /// The body (not sent for HEAD).
    pub body: Vec<u8>,
}

/// Answers requests.
pub trait Responder: Send + Sync {
    /// The response to a request.
    fn respond(&self, request: &Request) -> Response;
    /// Called after each response (access logs).
    fn logged(&self, _request: &Request, _response: &Response) {}
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reason phrase for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Not Allowed",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Parses a request head (up to and including the blank line).
pub fn parse_head(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next()?);
    if first.next().is_some() || !version.starts_with("HTTP/1.") || method.is_empty() {
        return None;
    }
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once(':').map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect::<Option<Vec<_>>>()?;
    Some(Request { method: method.into(), target: target.into(), version: version.into(), headers })
}

/// The bytes of a response, head and (unless HEAD) body.
pub fn render(request_method: &str, response: &Response, keep_alive: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
    // nginx's order: Server, Date, Content-Type, Content-Length, Last-Modified, Connection, the rest.
    let mut headers = response.headers.clone();
    headers.insert(headers.iter().position(|(n, _)| n == "Server").map_or(0, |i| i + 1), ("Date".into(), date));
    let after = |headers: &Vec<(String, String)>, names: &[&str]| {
        headers.iter().rposition(|(n, _)| names.contains(&n.as_str())).map_or(headers.len(), |i| i + 1)
    };
    let at = after(&headers, &["Server", "Date", "Content-Type"]);
    headers.insert(at, ("Content-Length".into(), response.body.len().to_string()));
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let at = after(&headers, &["Content-Length", "Last-Modified"]);
    headers.insert(at, ("Connection".into(), connection.into()));
    for (name, value) in &headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if request_method != "HEAD" {
        bytes.extend_from_slice(&response.body);
    }
    bytes
}

/// Serves one connection until the client closes it or asks to.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, responder: &dyn Responder) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buffer.len() > MAX_HEAD {
                let bad = Response { status: 400, headers: Vec::new(), body: Vec::new() };
                let _ = stream.write_all(&render("GET", &bad, false)).await;
                return;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head: Vec<u8> = buffer.drain(..head_end).collect();
        let Some(request) = parse_head(&head) else {
            let bad = Response {
                status: 400,
                headers: Vec::new(),
                body: b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n</html>\r\n".to_vec(),
            };
            let _ = stream.write_all(&render("GET", &bad, false)).await;
            return;
        };
        // Bodies are read and ignored: these servers only answer GET and HEAD.
        let mut body_left = request.header("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        while body_left > 0 {
            if buffer.is_empty() {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            let take = body_left.min(buffer.len());
            buffer.drain(..take);
            body_left -= take;
        }
        let response = responder.respond(&request);
        let keep_alive = request.keep_alive();
        if stream.write_all(&render(&request.method, &response, keep_alive)).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
        responder.logged(&request, &response);
        if !keep_alive {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Responder for Echo {
        fn respond(&self, request: &Request) -> Response {
            Response { status: 200, headers: vec![("Server".into(), "echo".into())], body: request.path().into_bytes() }
        }
    }

    #[test]
    fn heads_parse_with_lowercased_header_names() {
        let r = parse_head(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), r.path().as_str()), ("GET", "/a b"));
        assert_eq!(r.header("user-agent"), Some("curl/8"));
        assert!(parse_head(b"garbage\r\n\r\n").is_none());
    }

    #[tokio::test]
    async fn a_connection_serves_several_requests_then_closes_on_request() {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(async move { serve(server, &Echo).await });
        client
            .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nHEAD /two HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        client.read_to_string(&mut text).await.unwrap();
        task.await.unwrap();
        assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
        assert!(text.contains("Content-Length: 4\r\nConnection: keep-alive\r\n\r\n/one"), "{text}");
        assert!(text.ends_with("Connection: close\r\n\r\n"), "HEAD has no body: {text}");
    }
}

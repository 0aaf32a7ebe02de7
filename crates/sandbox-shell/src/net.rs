//! The container's view of the cluster network, and a small HTTP/1.1 client over it for `wget`
//! and `curl`. Name lookups and connections go through the [`Network`] trait, which the node
//! implements (cluster DNS for Services, cluster IPs spread over ready endpoints, pod IPs); this
//! crate knows nothing of how.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A name the cluster DNS answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The fully qualified name that matched (`web.default.svc.cluster.local`), or the address
    /// itself when an address was looked up.
    pub name: String,
    /// The address it stands for.
    pub address: String,
}

/// Why a connection failed, as the kernel would report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// Nothing listens there, or a Service has no ready endpoint (kube-proxy rejects).
    Refused,
    /// Nothing answers at that address: the packets go nowhere.
    TimedOut,
}

/// How a simulated container reaches the cluster network (implemented by the node).
pub trait Network: Send + Sync {
    /// Looks `host` up as the pod's resolver does (search domains of its namespace; an address
    /// stands for itself); `None` is NXDOMAIN.
    fn resolve(&self, host: &str) -> Option<Resolved>;
    /// The fully qualified names the resolver tries for `host`, in order (for `nslookup`'s errors).
    fn search_names(&self, host: &str) -> Vec<String>;
    /// The cluster DNS server's address.
    fn dns_server(&self) -> String;
    /// Opens a TCP connection to `address:port`.
    fn connect(&self, address: &str, port: u16) -> Result<DuplexStream, ConnectError>;
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// The host as written.
    pub host: String,
    /// The port (80 by default).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlError {
    /// A scheme other than http (the simulated servers speak plain HTTP only).
    Scheme(String),
    /// Not a URL at all.
    Malformed,
}

impl Url {
    /// Parses a URL; a missing scheme means `http://`, as both wget and curl assume.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let rest = match text.split_once("://") {
            Some(("http", rest)) => rest,
            Some((scheme, _)) => return Err(UrlError::Scheme(scheme.to_string())),
            None => text,
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let path = if path.starts_with('?') { format!("/{path}") } else { path };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| UrlError::Malformed)?),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(UrlError::Malformed);
        }
        Ok(Self { host: host.to_string(), port, path })
    }

    /// `host` or `host:port` when the port is not 80, as the Host header carries it.
    pub fn host_header(&self) -> String {
        if self.port == 80 { self.host.clone() } else { format!("{}:{}", self.host, self.port) }
    }

    /// The last path segment, or `index.html` for a directory (wget's output file).
    pub fn file_name(&self) -> String {
        let path = self.path.split('?').next().unwrap_or("/");
        match path.rsplit('/').next() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "index.html".to_string(),
        }
    }
}

/// A response as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The header lines, as sent.
    pub headers: Vec<(String, String)>,
    /// The body (empty for HEAD).
    pub body: Vec<u8>,
}

/// Sends one request and reads the response; the connection is closed afterwards.
pub(crate) async fn exchange(
    mut stream: DuplexStream,
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
) -> Option<Response> {
    let mut head = format!("{method} {} HTTP/1.1\r\nHost: {}\r\n", url.path, url.host_header());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?.to_string();
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[end + 4..].to_vec();
    let length =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok());
    let wanted = if method == "HEAD" { Some(0) } else { length };
    while wanted.is_none_or(|w| body.len() < w) {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if let Some(w) = wanted {
        body.truncate(w);
    }
    Some(Response { status_line, status, headers, body })
}

/// What fetching a URL came to.
pub(crate) enum Fetched {
    /// The name did not resolve.
    BadAddress,
    /// The connection failed.
    Connect(ConnectError, String),
    /// No answer within the time limit.
    TimedOut,
    /// The server closed the connection without a valid answer.
    Broken,
    /// An answer, and the address the name resolved to.
    Answer(Response, String),
}

/// Resolves, connects and exchanges one request, within `limit` if given.
pub(crate) async fn fetch(
    net: &dyn Network,
    method: &str,
    url: &Url,
    headers: &[(&str, String)],
    limit: Option<Duration>,
) -> Fetched {
    let Some(resolved) = net.resolve(&url.host) else { return Fetched::BadAddress };
    let stream = match net.connect(&resolved.address, url.port) {
        Ok(stream) => stream,
        Err(ConnectError::TimedOut) => return Fetched::TimedOut,
        Err(e) => return Fetched::Connect(e, resolved.address),
    };
    let work = exchange(stream, method, url, headers);
    let answer = match limit {
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(answer) => answer,
            Err(_) => return Fetched::TimedOut,
        },
        None => work.await,
    };
    match answer {
        Some(response) => Fetched::Answer(response, resolved.address),
        None => Fetched::Broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_to_http_port_80_and_the_root() {
        let url = Url::parse("web").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("web", 80, "/"));
        let url = Url::parse("http://web.ns:8080/a/b.txt?x=1").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("web.ns", 8080, "/a/b.txt?x=1"));
        assert_eq!(url.file_name(), "b.txt");
        assert_eq!(url.host_header(), "web.ns:8080");
        assert_eq!(Url::parse("https://web"), Err(UrlError::Scheme("https".into())));
        assert_eq!(Url::parse("http://:80/"), Err(UrlError::Malformed));
    }
}

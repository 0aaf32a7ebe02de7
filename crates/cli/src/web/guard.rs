//! Who may talk to web mode: the Host and Origin checks and the session token.
//!
//! Every request passes [`check`] before routing. The Host header must name the server by a
//! loopback name or an allowed host (a DNS-rebinding page cannot reach it); an Origin, when sent,
//! must be the server itself, and the WebSocket must send one (no cross-site requests). The token
//! arrives once in the URL (`/?token=…`), is swapped for an HttpOnly, SameSite=Strict cookie and a
//! redirect that drops it from the address bar; API clients may send `Authorization: Bearer`.

use axum::http::{HeaderMap, Method, Uri, header};

/// What to do with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through for the session with this token.
    Pass(String),
    /// The token came in the URL of a page load: set the cookie and redirect to `location`.
    SetCookie {
        /// The token.
        token: String,
        /// Where to go (the same path, without the token).
        location: String,
    },
    /// Refuse: the host or origin is foreign (403).
    Forbidden(&'static str),
    /// Refuse: no valid token (401).
    Unauthorized,
}

/// The names the server answers to, and how tokens are recognised.
#[derive(Clone, Debug)]
pub struct Guard {
    /// `host:port` values accepted in the Host header.
    hosts: Vec<String>,
    /// `scheme://host:port` values accepted in the Origin header.
    origins: Vec<String>,
    /// The cookie's name (carries the port: browsers share cookies between ports of a host).
    cookie: String,
    /// Whether the cookie is marked `Secure` (the pages are reached over HTTPS).
    secure: bool,
}

impl Guard {
    /// A guard for a server on `port`, answering to the loopback names and `extra` host names.
    pub fn new(port: u16, listen_ip: std::net::IpAddr, extra: &[String]) -> Guard {
        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string(), "[::1]".to_string()];
        if !listen_ip.is_unspecified() && !listen_ip.is_loopback() {
            names.push(match listen_ip {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            });
        }
        names.extend(extra.iter().map(|name| name.to_ascii_lowercase()));
        let mut hosts: Vec<String> = names.iter().map(|name| format!("{name}:{port}")).collect();
        if port == 80 {
            // Browsers leave the default port out of the Host header.
            hosts.extend(names);
        }
        let origins = hosts.iter().map(|host| format!("http://{host}")).collect();
        Guard { hosts, origins, cookie: format!("gitops_lab_{port}"), secure: false }
    }

    /// The same names served over HTTPS: pages then send `https://` origins, and the cookie is
    /// marked `Secure`.
    pub fn over_https(mut self) -> Guard {
        // On 443, browsers leave the port out as they do for 80 over HTTP.
        let bare: Vec<String> = self.hosts.iter().filter_map(|h| h.strip_suffix(":443")).map(String::from).collect();
        self.hosts.extend(bare);
        self.origins = self.hosts.iter().map(|host| format!("https://{host}")).collect();
        self.secure = true;
        self
    }

    /// Also answers to `public_url` (`https://lab.example.org`, a reverse proxy or Ingress in
    /// front): its host in the Host header (proxies pass it on) and its origin. An `https` address
    /// marks the cookie `Secure`. Returns why the address is unusable.
    pub fn with_public_url(mut self, public_url: &str) -> Result<Guard, String> {
        let (scheme, rest) = public_url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .ok_or("it must start with http:// or https://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
        if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
            return Err("it must name a host, like https://lab.example.org".into());
        }
        // Browsers and proxies leave the scheme's default port out of Host and Origin.
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let authority = authority.strip_suffix(default_port).unwrap_or(&authority).to_string();
        self.origins.push(format!("{scheme}://{authority}"));
        self.hosts.push(authority);
        self.secure |= scheme == "https";
        Ok(self)
    }

    /// The `Set-Cookie` value for a token.
    pub fn cookie_header(&self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{}={token}; HttpOnly; SameSite=Strict; Path=/{secure}", self.cookie)
    }

    /// Judges a request. `valid` says whether a token belongs to a session.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap, valid: impl Fn(&str) -> bool) -> Verdict {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return Verdict::Forbidden("host");
        }
        let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
        let websocket = headers.get(header::UPGRADE).is_some();
        match origin {
            Some(origin) if !self.origins.contains(&origin.to_ascii_lowercase()) => {
                return Verdict::Forbidden("origin");
            }
            None if websocket => return Verdict::Forbidden("origin"),
            _ => {}
        }
        if headers.get("sec-fetch-site").and_then(|h| h.to_str().ok()) == Some("cross-site") {
            return Verdict::Forbidden("origin");
        }
        if let Some(token) = query_token(uri).filter(|t| valid(t)) {
            return if *method == Method::GET && !uri.path().starts_with("/api/") {
                Verdict::SetCookie { token, location: uri.path().to_string() }
            } else {
                Verdict::Pass(token)
            };
        }
        let presented = self.cookie_token(headers).into_iter().chain(bearer_token(headers));
        for token in presented {
            if valid(&token) {
                return Verdict::Pass(token);
            }
        }
        Verdict::Unauthorized
    }

    fn cookie_token(&self, headers: &HeaderMap) -> Vec<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == self.cookie)
            .map(|(_, value)| value.to_string())
            .collect()
    }
}

fn query_token(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "token")
        .map(|(_, v)| v.to_string())
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// Compares two tokens in time that does not depend on where they first differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> Guard {
        Guard::new(7420, "127.0.0.1".parse().unwrap(), &[])
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn judge(method: Method, uri: &str, pairs: &[(&'static str, &str)]) -> Verdict {
        guard().check(&method, &uri.parse().unwrap(), &headers(pairs), |t| same_token(t, "secret"))
    }

    #[test]
    fn a_token_in_the_url_becomes_a_cookie_and_a_redirect() {
        assert_eq!(
            judge(Method::GET, "/?token=secret", &[("host", "127.0.0.1:7420")]),
            Verdict::SetCookie { token: "secret".into(), location: "/".into() }
        );
        assert!(guard().cookie_header("secret").contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn the_cookie_or_a_bearer_token_lets_requests_through() {
        let cookie = [("host", "localhost:7420"), ("cookie", "other=1; gitops_lab_7420=secret")];
        assert_eq!(judge(Method::POST, "/api/command", &cookie), Verdict::Pass("secret".into()));
        let bearer = [("host", "127.0.0.1:7420"), ("authorization", "Bearer secret")];
        assert_eq!(judge(Method::POST, "/api/command", &bearer), Verdict::Pass("secret".into()));
    }

    #[test]
    fn requests_without_a_valid_token_are_unauthorized() {
        assert_eq!(judge(Method::GET, "/", &[("host", "127.0.0.1:7420")]), Verdict::Unauthorized);
        assert_eq!(judge(Method::GET, "/?token=guess", &[("host", "127.0.0.1:7420")]), Verdict::Unauthorized);
        let wrong_port_cookie = [("host", "127.0.0.1:7420"), ("cookie", "gitops_lab_9999=secret")];
        assert_eq!(judge(Method::GET, "/", &wrong_port_cookie), Verdict::Unauthorized);
    }

    #[test]
    fn a_foreign_host_is_refused_even_with_the_token() {
        let rebinding = [("host", "evil.example:7420"), ("cookie", "gitops_lab_7420=secret")];
        assert_eq!(judge(Method::GET, "/", &rebinding), Verdict::Forbidden("host"));
        assert_eq!(judge(Method::GET, "/", &[("host", "127.0.0.1:80")]), Verdict::Forbidden("host"));
        assert_eq!(judge(Method::GET, "/", &[]), Verdict::Forbidden("host"));
    }

    #[test]
    fn a_foreign_origin_is_refused_even_with_the_cookie() {
        let cross =
            [("host", "127.0.0.1:7420"), ("origin", "http://evil.example"), ("cookie", "gitops_lab_7420=secret")];
        assert_eq!(judge(Method::POST, "/api/command", &cross), Verdict::Forbidden("origin"));
        let same =
            [("host", "127.0.0.1:7420"), ("origin", "http://127.0.0.1:7420"), ("cookie", "gitops_lab_7420=secret")];
        assert_eq!(judge(Method::POST, "/api/command", &same), Verdict::Pass("secret".into()));
        let fetch_site =
            [("host", "127.0.0.1:7420"), ("sec-fetch-site", "cross-site"), ("cookie", "gitops_lab_7420=secret")];
        assert_eq!(judge(Method::GET, "/", &fetch_site), Verdict::Forbidden("origin"));
    }

    #[test]
    fn a_websocket_must_name_its_origin() {
        let no_origin = [("host", "127.0.0.1:7420"), ("upgrade", "websocket"), ("cookie", "gitops_lab_7420=secret")];
        assert_eq!(judge(Method::GET, "/api/events", &no_origin), Verdict::Forbidden("origin"));
    }

    #[test]
    fn extra_hosts_and_a_specific_listen_address_are_accepted() {
        let guard = Guard::new(80, "10.1.2.3".parse().unwrap(), &["Lab.Local".into()]);
        let check =
            |host: &str| guard.check(&Method::GET, &"/".parse().unwrap(), &headers(&[("host", host)]), |_| false);
        assert_eq!(check("10.1.2.3:80"), Verdict::Unauthorized);
        assert_eq!(check("lab.local:80"), Verdict::Unauthorized);
        assert_eq!(check("10.9.9.9:80"), Verdict::Forbidden("host"));
    }

    #[test]
    fn over_https_only_https_origins_pass_and_the_cookie_is_secure() {
        let served = guard().over_https();
        let judge = |origin: &str| {
            let pairs = [("host", "127.0.0.1:7420"), ("origin", origin), ("cookie", "gitops_lab_7420=secret")];
            served.check(&Method::POST, &"/api/command".parse().unwrap(), &headers(&pairs), |t| t == "secret")
        };
        assert_eq!(judge("https://127.0.0.1:7420"), Verdict::Pass("secret".into()));
        assert_eq!(judge("http://127.0.0.1:7420"), Verdict::Forbidden("origin"));
        assert_eq!(judge("https://evil.example"), Verdict::Forbidden("origin"));
        assert!(served.cookie_header("secret").ends_with("; Secure"));
    }

    #[test]
    fn a_public_url_adds_its_host_and_origin() {
        let served = guard().with_public_url("https://Lab.Example.org:443/workshop").unwrap();
        let judge = |host: &str, origin: &str| {
            let pairs = [("host", host), ("origin", origin), ("upgrade", "websocket"), ("authorization", "Bearer s")];
            served.check(&Method::GET, &"/api/events".parse().unwrap(), &headers(&pairs), |t| t == "s")
        };
        assert_eq!(judge("lab.example.org", "https://lab.example.org"), Verdict::Pass("s".into()));
        assert_eq!(judge("lab.example.org", "http://lab.example.org"), Verdict::Forbidden("origin"));
        assert_eq!(judge("lab.example.org", "https://evil.example"), Verdict::Forbidden("origin"));
        assert_eq!(judge("127.0.0.1:7420", "http://127.0.0.1:7420"), Verdict::Pass("s".into()));
        assert!(served.cookie_header("s").ends_with("; Secure"));
        assert!(guard().with_public_url("lab.example.org").is_err());
        assert!(guard().with_public_url("https:///x").is_err());
        assert!(guard().with_public_url("ftp://lab").is_err());
    }

    #[test]
    fn token_comparison_needs_equal_length_and_bytes() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
    }
}

//! The nginx behaviour: static files from `/usr/share/nginx/html` in the container's filesystem,
//! with nginx's status codes, error pages, headers and combined-format access log.

use super::http::{Request, Responder, Response, reason};
use super::images::ImageTable;
use super::runtime::LogRun;
use gitops_sandbox_shell::vfs::Filesystem;
use std::sync::Arc;

/// The document root of the image's default server.
pub const ROOT: &str = "/usr/share/nginx/html";

/// nginx's default server.
pub struct Nginx {
    /// The container's filesystem.
    pub fs: Filesystem,
    /// `nginx/<version>`, for the Server header and error pages.
    pub server: String,
    /// MIME types.
    pub table: &'static ImageTable,
    /// Where access log lines go (the container's stdout).
    pub log: Arc<LogRun>,
    /// When the files were "written" (the container's start), for Last-Modified and ETag.
    pub modified: jiff::Timestamp,
}

impl Nginx {
    fn error(&self, status: u16) -> Response {
        let title = format!("{status} {}", reason(status));
        let body = format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
             <hr><center>{}</center>\r\n</body>\r\n</html>\r\n",
            self.server
        );
        Response { status, headers: self.headers("text/html"), body: body.into_bytes() }
    }

    fn headers(&self, content_type: &str) -> Vec<(String, String)> {
        vec![("Server".into(), self.server.clone()), ("Content-Type".into(), content_type.into())]
    }

    fn file(&self, path: &str, bytes: Vec<u8>) -> Response {
        let mut headers = self.headers(self.table.mime_type(path));
        let modified = self.modified.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.push(("Last-Modified".into(), modified));
        headers.push(("ETag".into(), format!("\"{:x}-{:x}\"", self.modified.as_second(), bytes.len())));
        headers.push(("Accept-Ranges".into(), "bytes".into()));
        Response { status: 200, headers, body: bytes }
    }
}

/// Resolves `..` and `.` in a request path; `None` when it climbs above the root.
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if path.ends_with('/') && out != "/" {
        out.push('/');
    }
    Some(out)
}

impl Responder for Nginx {
    fn respond(&self, request: &Request) -> Response {
        if request.method != "GET" && request.method != "HEAD" {
            return self.error(405);
        }
        let Some(path) = normalise(&request.path()) else { return self.error(400) };
        let full = format!("{ROOT}{path}");
        if path.ends_with('/') {
            return match self.fs.is_dir(&full) {
                Some(true) => match self.fs.read(&format!("{full}index.html")) {
                    Ok(bytes) => self.file("index.html", bytes),
                    // A directory without an index is forbidden while autoindex is off.
                    Err(_) => self.error(403),
                },
                _ => self.error(404),
            };
        }
        match self.fs.is_dir(&full) {
            Some(true) => {
                let host = request.header("host").unwrap_or("localhost");
                // nginx builds the redirect from the Host name without the client's port.
                let host = host
                    .rsplit_once(':')
                    .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(host, |(h, _)| h);
                let mut response = self.error(301);
                response.headers.push(("Location".into(), format!("http://{host}{path}/")));
                response
            }
            Some(false) => match self.fs.read(&full) {
                Ok(bytes) => self.file(&path, bytes),
                Err(_) => self.error(403),
            },
            None => self.error(404),
        }
    }

    fn logged(&self, request: &Request, response: &Response) {
        let time =
            jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).strftime("%d/%b/%Y:%H:%M:%S %z").to_string();
        let sent = if request.method == "HEAD" { 0 } else { response.body.len() };
        let quoted = |name: &str| request.header(name).unwrap_or("-").to_string();
        self.log.line(&format!(
            "127.0.0.1 - - [{time}] \"{} {} {}\" {} {sent} \"{}\" \"{}\" \"{}\"",
            request.method,
            request.target,
            request.version,
            response.status,
            quoted("referer"),
            quoted("user-agent"),
            quoted("x-forwarded-for"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_head;
    use gitops_sandbox_shell::vfs::Volume;

    fn nginx() -> Nginx {
        let mut fs = Filesystem::new(Volume::empty());
        fs.mount(
            ROOT,
            Volume::with_files([
                ("index.html", b"<pre>moo</pre>".to_vec()),
                ("css/site.css", b"p{}".to_vec()),
                ("empty/.x", vec![]),
            ]),
            false,
        );
        fs.remove(&format!("{ROOT}/empty/.x"), false).unwrap();
        Nginx {
            fs,
            server: "nginx/1.11".into(),
            table: crate::images::table(),
            log: LogRun::new(),
            modified: jiff::Timestamp::now(),
        }
    }

    fn get(n: &Nginx, line: &str) -> Response {
        let head = format!("{line} HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n");
        let request = parse_head(head.as_bytes()).unwrap();
        let response = n.respond(&request);
        n.logged(&request, &response);
        response
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_index_is_served_with_nginx_headers() {
        let n = nginx();
        let r = get(&n, "GET /");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"<pre>moo</pre>"[..]));
        assert_eq!(header(&r, "Server"), Some("nginx/1.11"));
        assert_eq!(header(&r, "Content-Type"), Some("text/html"));
        assert_eq!(header(&get(&n, "GET /css/site.css"), "Content-Type"), Some("text/css"));
    }

    #[test]
    fn headers_come_in_the_order_nginx_writes_them() {
        let n = nginx();
        let bytes = crate::http::render("GET", &get(&n, "GET /"), true);
        let head = String::from_utf8_lossy(&bytes).to_string();
        let names: Vec<&str> =
            head.lines().skip(1).take_while(|l| !l.is_empty()).filter_map(|l| l.split(':').next()).collect();
        assert_eq!(
            names,
            [
                "Server",
                "Date",
                "Content-Type",
                "Content-Length",
                "Last-Modified",
                "Connection",
                "ETag",
                "Accept-Ranges"
            ]
        );
    }

    #[test]
    fn directories_without_a_slash_redirect_and_without_an_index_are_forbidden() {
        let n = nginx();
        let r = get(&n, "GET /css");
        assert_eq!(r.status, 301);
        assert_eq!(header(&r, "Location"), Some("http://localhost/css/"));
        let r = get(&n, "GET /empty/");
        assert_eq!(r.status, 403);
        assert!(String::from_utf8_lossy(&r.body).contains("<center><h1>403 Forbidden</h1></center>"));
    }

    #[test]
    fn missing_files_and_other_methods_get_nginx_error_pages() {
        let n = nginx();
        let r = get(&n, "GET /nope.html");
        assert_eq!(r.status, 404);
        assert!(String::from_utf8_lossy(&r.body).contains("<hr><center>nginx/1.11</center>"));
        assert_eq!(get(&n, "POST /").status, 405);
        assert_eq!(get(&n, "GET /../../etc/passwd").status, 400);
    }

    #[test]
    fn each_request_writes_a_combined_access_log_line() {
        let n = nginx();
        get(&n, "GET /");
        let (lines, _) = n.log.snapshot();
        let line = String::from_utf8_lossy(&lines[0].text).to_string();
        assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
        assert!(line.ends_with("\"GET / HTTP/1.1\" 200 14 \"-\" \"curl/8.5.0\" \"-\"\n"), "{line}");
    }
}

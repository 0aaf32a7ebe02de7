//! A plain HTTP/1.1 client over TLS that sends requests byte for byte as written (malformed ones
//! included) and tells a dropped connection apart from an answer: what the malformed-request
//! corpus needs and a library client would refuse to send.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls;

type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// One answer: status code, lower-cased headers and the body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower-cased) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection to one server, reopened when the server closes it.
pub struct RawClient {
    host: String,
    config: Arc<rustls::ClientConfig>,
    stream: Option<BufReader<Stream>>,
}

impl RawClient {
    /// A client for `server` (`https://127.0.0.1:PORT`) trusting the CA in `ca_pem`.
    pub fn new(server: &str, ca_pem: &[u8]) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.expect("the CA parses")).expect("the CA is usable");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let host = server.trim_start_matches("https://").to_string();
        Self { host, config: Arc::new(config), stream: None }
    }

    /// A client for `sandbox` and its admin token, both read from the kubeconfig it wrote.
    pub fn admin(sandbox: &super::Sandbox) -> (Self, String) {
        use base64::Engine;
        let text = std::fs::read_to_string(&sandbox.kubeconfig).expect("the kubeconfig reads");
        let doc: serde_json::Value = serde_norway::from_str(&text).expect("the kubeconfig parses");
        let token = doc["users"][0]["user"]["token"].as_str().expect("a token").to_string();
        let ca = doc["clusters"][0]["cluster"]["certificate-authority-data"].as_str().expect("a CA");
        let ca = base64::engine::general_purpose::STANDARD.decode(ca).expect("a base64 CA");
        (Self::new(&sandbox.server, &ca), token)
    }

    fn connect(&self) -> Result<BufReader<Stream>, String> {
        let tcp = TcpStream::connect(&self.host).map_err(|e| format!("cannot connect: {e}"))?;
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let name = ServerName::try_from("127.0.0.1").expect("an IP name");
        let connection = rustls::ClientConnection::new(self.config.clone(), name).map_err(|e| e.to_string())?;
        Ok(BufReader::new(rustls::StreamOwned::new(connection, tcp)))
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the answer. `Err` means the
    /// connection broke without an answer, on a fresh connection too.
    pub fn send(&mut self, request: &[u8]) -> Result<Answer, String> {
        let reused = self.stream.is_some();
        match self.try_send(request) {
            Ok(answer) => Ok(answer),
            // A kept-alive connection the server has closed meanwhile: try once on a new one.
            Err(_) if reused => {
                self.stream = None;
                self.try_send(request)
            }
            Err(e) => Err(e),
        }
    }

    fn try_send(&mut self, request: &[u8]) -> Result<Answer, String> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect()?,
        };
        stream.get_mut().write_all(request).map_err(|e| format!("write failed: {e}"))?;
        stream.get_mut().flush().map_err(|e| format!("flush failed: {e}"))?;
        let answer = read_answer(&mut stream)?;
        let closing = answer.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if !closing {
            self.stream = Some(stream);
        }
        Ok(answer)
    }
}

fn read_line(stream: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    let n = stream.read_until(b'\n', &mut line).map_err(|e| format!("read failed: {e}"))?;
    if n == 0 {
        return Err("the connection closed without an answer".into());
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

fn read_answer(stream: &mut impl BufRead) -> Result<Answer, String> {
    let status_line = read_line(stream)?;
    let status =
        status_line.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or(format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(stream)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut answer = Answer { status, headers, body: Vec::new() };
    if answer.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let size = usize::from_str_radix(read_line(stream)?.split(';').next().unwrap_or("0"), 16)
                .map_err(|e| e.to_string())?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).map_err(|e| format!("read failed: {e}"))?;
            if size == 0 {
                break;
            }
            answer.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let length = answer.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        answer.body = vec![0; length];
        stream.read_exact(&mut answer.body).map_err(|e| format!("read failed: {e}"))?;
    }
    Ok(answer)
}

//! What the kubectl door needs to reach one learner's sandbox, kept per learner instead of made
//! per request: the sandbox's address, its admin token as a ready header, a TLS client trusting
//! only its CA, and a few idle keep-alive connections to it. Before, every proxied request re-read
//! and parsed the sandbox's kubeconfig, built a TLS configuration and paid a TCP and TLS handshake.
//!
//! The entry is keyed by the sandbox's kubeconfig (path, size, modification time) and server URL,
//! so a sandbox that restarts with new credentials or on a new port gets a new entry; idle
//! connections a restarted sandbox closed are found closed and dropped. An upgrade (exec, attach,
//! port-forward) takes a connection of its own, never a pooled one: it becomes the upgraded stream.

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response};
use base64::Engine as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Idle connections kept per learner: kubectl sends a few requests at once (discovery), rarely more.
const MAX_IDLE: usize = 4;

/// Identifies one start of a sandbox: its kubeconfig as written and the URL it serves.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Key {
    server: String,
    kubeconfig: std::path::PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

/// One learner's way to their sandbox while it keeps its credentials and address.
pub struct Upstream {
    key: Key,
    /// `127.0.0.1:PORT`.
    pub authority: String,
    /// `Bearer TOKEN` with the sandbox's admin token.
    pub bearer: HeaderValue,
    name: rustls_pki_types::ServerName<'static>,
    connector: tokio_rustls::TlsConnector,
    idle: Mutex<Vec<SendRequest<Body>>>,
    /// TLS handshakes made so far (new connections), for the log and tests.
    handshakes: AtomicU64,
}

/// A learner's cached [`Upstream`] (empty until their first kubectl request).
#[derive(Default)]
pub struct UpstreamCache {
    current: Mutex<Option<Arc<Upstream>>>,
}

impl UpstreamCache {
    /// The entry for the sandbox this kubeconfig and server describe: the cached one when they
    /// are unchanged, else a new one read from the file (one `stat` per request otherwise).
    pub fn get(&self, kubeconfig: &Path, server: &str) -> Result<Arc<Upstream>, String> {
        let meta = std::fs::metadata(kubeconfig).map_err(|e| e.to_string())?;
        let key = Key {
            server: server.to_string(),
            kubeconfig: kubeconfig.to_path_buf(),
            len: meta.len(),
            modified: meta.modified().ok(),
        };
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(upstream) = current.as_ref().filter(|u| u.key == key) {
            return Ok(upstream.clone());
        }
        let upstream = Arc::new(Upstream::read(key)?);
        *current = Some(upstream.clone());
        Ok(upstream)
    }

    /// Forgets the entry and its idle connections (the learner was reset, stopped or removed).
    pub fn clear(&self) {
        self.current.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// TLS handshakes of the current entry.
    #[cfg(test)]
    fn handshakes(&self) -> u64 {
        self.current.lock().unwrap().as_ref().map_or(0, |u| u.handshakes.load(Ordering::Relaxed))
    }
}

impl Upstream {
    /// Reads the sandbox's kubeconfig: its server, CA and admin token.
    fn read(key: Key) -> Result<Upstream, String> {
        let text = std::fs::read_to_string(&key.kubeconfig).map_err(|e| e.to_string())?;
        let field = |name: &str| text.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()));
        let server = field("server:").ok_or("no server in the sandbox's kubeconfig")?;
        let ca = field("certificate-authority-data:").ok_or("no CA in the sandbox's kubeconfig")?;
        let ca = base64::engine::general_purpose::STANDARD.decode(ca).map_err(|e| e.to_string())?;
        let token = field("token:").ok_or("no token in the sandbox's kubeconfig")?;
        let authority = server.strip_prefix("https://").unwrap_or(&server).trim_end_matches('/').to_string();
        let host = authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(&authority);
        let name = rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|e| e.to_string())?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| "a token that is no header")?;
        Ok(Upstream {
            key,
            authority,
            bearer,
            name,
            connector: tokio_rustls::TlsConnector::from(Arc::new(client_config(&ca)?)),
            idle: Mutex::new(Vec::new()),
            handshakes: AtomicU64::new(0),
        })
    }

    /// Sends a request: over an idle connection when one is open (an empty-bodied request that
    /// meets a connection the sandbox just closed is sent again on a new one), else a new one.
    /// Returns the answer and the connection, to [`Upstream::give_back`] once the body is read.
    pub async fn send(&self, request: Request<Body>) -> Result<(Response<hyper::body::Incoming>, Sender), String> {
        let empty = hyper::body::Body::is_end_stream(request.body());
        if let Some(mut sender) = self.take_idle().await {
            if !empty {
                let answer = sender.send_request(request).await.map_err(|e| e.to_string())?;
                return Ok((answer, Sender(Some(sender))));
            }
            let (parts, _) = request.into_parts();
            let again = Request::from_parts(parts.clone(), Body::empty());
            match sender.send_request(Request::from_parts(parts, Body::empty())).await {
                Ok(answer) => return Ok((answer, Sender(Some(sender)))),
                Err(error) if error.is_canceled() || error.is_closed() || error.is_incomplete_message() => {
                    let mut fresh = self.open().await?;
                    let answer = fresh.send_request(again).await.map_err(|e| e.to_string())?;
                    return Ok((answer, Sender(Some(fresh))));
                }
                Err(error) => return Err(error.to_string()),
            }
        }
        let mut sender = self.open().await?;
        let answer = sender.send_request(request).await.map_err(|e| e.to_string())?;
        Ok((answer, Sender(Some(sender))))
    }

    /// A connection of its own, for an upgrade.
    pub async fn open(&self) -> Result<SendRequest<Body>, String> {
        let tcp = tokio::net::TcpStream::connect(&self.authority).await.map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let tls = self.connector.connect(self.name.clone(), tcp).await.map_err(|e| e.to_string())?;
        let count = self.handshakes.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_power_of_two() && count >= 8 {
            // More than the pool's few: many requests at once, or connections the sandbox drops.
            eprintln!("kubectl door to {}: {count} TLS connections so far", self.authority);
        }
        let (sender, connection) =
            hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection.with_upgrades());
        Ok(sender)
    }

    async fn take_idle(&self) -> Option<SendRequest<Body>> {
        loop {
            let mut sender = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// Keeps a connection whose answer was read to the end, for the next request.
    pub fn give_back(&self, mut sender: Sender) {
        let Some(sender) = sender.0.take() else { return };
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !sender.is_closed() && idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}

/// A connection in use; dropped (closed) unless given back.
pub struct Sender(Option<SendRequest<Body>>);

/// A TLS client trusting only the sandbox's CA.
fn client_config(ca_pem: &[u8]) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    Ok(tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real sandbox served in this test, and its kubeconfig.
    async fn sandbox(dir: &Path) -> (std::path::PathBuf, String, tokio::task::JoinHandle<()>) {
        let sandbox = Arc::new(gitops_sandbox::Sandbox::open(&dir.join("data")).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let path = dir.join("kubeconfig");
        gitops_sandbox::kubeconfig::write(&path, &url, &sandbox.certificates().ca_pem, sandbox.admin_token()).unwrap();
        let serving = tokio::spawn(async move {
            let _ = gitops_sandbox::server::run(listener, sandbox, std::future::pending()).await;
        });
        (path, url, serving)
    }

    async fn get(upstream: &Upstream, path: &str) -> u16 {
        let request = Request::get(path)
            .header(axum::http::header::AUTHORIZATION, upstream.bearer.clone())
            .header(axum::http::header::HOST, &upstream.authority)
            .body(Body::empty())
            .unwrap();
        let (answer, sender) = upstream.send(request).await.unwrap();
        let status = answer.status().as_u16();
        axum::body::to_bytes(Body::new(answer.into_body()), usize::MAX).await.unwrap();
        upstream.give_back(sender);
        status
    }

    #[tokio::test]
    async fn sequential_requests_share_one_connection_and_a_rewritten_kubeconfig_renews_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (path, url, serving) = sandbox(dir.path()).await;
        let cache = UpstreamCache::default();
        for _ in 0..10 {
            let upstream = cache.get(&path, &url).unwrap();
            assert_eq!(get(&upstream, "/api/v1/namespaces/default/configmaps").await, 200);
        }
        assert_eq!(cache.handshakes(), 1, "ten requests, one TLS handshake");
        let first = cache.get(&path, &url).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.get(&path, &url).unwrap()), "unchanged: the same entry");
        // A restart writes the kubeconfig again (here: one byte longer), which is a new entry.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n")).unwrap();
        let second = cache.get(&path, &url).unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        cache.clear();
        assert_eq!(cache.handshakes(), 0);
        serving.abort();
    }
}

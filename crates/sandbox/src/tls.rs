//! The sandbox's certificates and TLS listener: a CA made once per data directory, a serving
//! certificate for loopback signed by it, and a listener that finishes handshakes off the accept loop.
//!
//! HTTPS is not optional: kubectl refuses to send a bearer token over plain HTTP, and the
//! ServiceAccount tokens of later exercises need the same path.

use axum::serve::Listener;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why certificates could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("cannot use the certificate file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Generating or parsing a certificate failed.
    #[error("cannot prepare the sandbox's certificates: {0} (delete the pki folder in the data directory to make new ones)")]
    Certificate(String),
}

fn cert_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Certificate(e.to_string())
}

/// The PEM texts the sandbox serves with, and the CA that clients trust.
pub struct Certificates {
    /// The CA certificate, written into kubeconfigs (and later into pods).
    pub ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

/// Names the serving certificate is valid for.
const SERVER_NAMES: [&str; 6] = ["localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"];

impl Certificates {
    /// Loads the certificates from `dir`, or makes and stores them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let file = |name: &str| dir.join(name);
        let read = |name: &str| std::fs::read_to_string(file(name));
        if let (Ok(ca_pem), Ok(server_cert_pem), Ok(server_key_pem)) = (read("ca.crt"), read("server.crt"), read("server.key")) {
            return Ok(Self { ca_pem, server_cert_pem, server_key_pem });
        }
        let made = Self::generate()?;
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| TlsError::File { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for (name, text) in [("ca.crt", &made.ca_pem), ("server.crt", &made.server_cert_pem), ("server.key", &made.server_key_pem)] {
            let tmp = file(&format!("{name}.tmp"));
            std::fs::write(&tmp, text).map_err(io(&tmp))?;
            std::fs::rename(&tmp, file(name)).map_err(io(&file(name)))?;
        }
        Ok(made)
    }

    fn generate() -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate().map_err(cert_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        ca_params.distinguished_name.push(DnType::CommonName, "gitops-lab-sandbox-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error)?;
        let issuer = Issuer::new(ca_params, &ca_key);
        let server_key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(SERVER_NAMES.map(String::from).to_vec()).map_err(cert_error)?;
        params.distinguished_name.push(DnType::CommonName, "gitops-lab-sandbox");
        let server_cert = params.signed_by(&server_key, &issuer).map_err(cert_error)?;
        Ok(Self { ca_pem: ca_cert.pem(), server_cert_pem: server_cert.pem(), server_key_pem: server_key.serialize_pem() })
    }

    /// A TLS acceptor serving HTTP/1.1 (kubectl's exec and port-forward upgrade HTTP/1.1 connections).
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(self.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(cert_error)?;
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).map_err(cert_error)?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(cert_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(cert_error)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener yielding finished TLS connections; handshakes run in their own tasks so one slow
/// client never holds up the others.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(pair) => pair,
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                if sender.is_closed() {
                    break;
                }
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        let _ = sender.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept task only ends when the server is gone; never hand out a connection again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Certificates::load_or_create(dir.path()).unwrap();
        let second = Certificates::load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        first.acceptor().expect("a usable acceptor");
    }
}

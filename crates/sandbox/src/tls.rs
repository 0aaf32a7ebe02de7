//! The sandbox's TLS listener: handshakes finish off the accept loop, with a serving certificate
//! from the data directory's CA ([`Certificates`]).
//!
//! HTTPS is not optional: kubectl refuses to send a bearer token over plain HTTP, and the
//! ServiceAccount tokens of later exercises need the same path.
//!
//! A sandbox normally makes its own CA and token; [`Given`] takes them from files instead (the
//! workshop runs each learner's sandbox in a Pod with credentials it made and already trusts),
//! checked before anything is written: readable, PEM, the key fits the certificate, the CA
//! signed it.

use axum::serve::Listener;
use gitops_sandbox_core::pki::{Certificates, PkiError};
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

fn cert_error(e: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(e.to_string())
}

/// A TLS acceptor serving `certificates` over HTTP/1.1 (kubectl's exec and port-forward upgrade
/// HTTP/1.1 connections).
pub fn acceptor(certificates: &Certificates) -> Result<TlsAcceptor, PkiError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(certificates.server_cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(cert_error)?;
    let key = PrivateKeyDer::from_pem_slice(certificates.server_key_pem.as_bytes()).map_err(cert_error)?;
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

/// Credentials made elsewhere, as `sandbox serve --ca-cert/--tls-cert/--tls-key/--token-file`
/// name them.
pub struct Given<'a> {
    /// The CA certificate clients trust (PEM).
    pub ca_cert: &'a Path,
    /// The serving certificate (PEM), signed by the CA.
    pub tls_cert: &'a Path,
    /// The serving certificate's private key (PEM).
    pub tls_key: &'a Path,
    /// A file holding the admin bearer token.
    pub token_file: &'a Path,
}

/// Why given credentials were refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum GivenError {
    /// A file is missing or unreadable.
    #[error("cannot read {flag} {path}: {source} (give a readable file, or leave out all four credential flags)")]
    Unreadable {
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file does not hold what its flag needs.
    #[error("{flag} {path}: {problem}")]
    Invalid {
        /// The flag that named it.
        flag: &'static str,
        /// The file.
        path: String,
        /// What is wrong, and what would be right.
        problem: String,
    },
    /// Writing them into the data directory failed.
    #[error(transparent)]
    Store(#[from] PkiError),
    /// Writing the token into the data directory failed.
    #[error("cannot write the admin token into {path}: {source}")]
    Token {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Given<'_> {
    /// Reads and checks the four files, then puts them where the sandbox in `data_dir` looks
    /// (its `pki` folder and `admin-token`), replacing the ones it made before.
    pub fn install(&self, data_dir: &Path) -> Result<(), GivenError> {
        let (certificates, token) = self.check()?;
        certificates.save(&data_dir.join("pki"))?;
        let path = data_dir.join("admin-token");
        let failed = |source| GivenError::Token { path: path.display().to_string(), source };
        let tmp = data_dir.join("admin-token.tmp");
        std::fs::write(&tmp, &token).map_err(failed)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
        }
        std::fs::rename(&tmp, &path).map_err(failed)
    }

    /// The certificates and token, when the files are readable and fit together.
    pub fn check(&self) -> Result<(Certificates, String), GivenError> {
        let read = |flag: &'static str, path: &Path| {
            std::fs::read_to_string(path).map_err(|source| GivenError::Unreadable {
                flag,
                path: path.display().to_string(),
                source,
            })
        };
        let invalid = |flag: &'static str, path: &Path, problem: String| GivenError::Invalid {
            flag,
            path: path.display().to_string(),
            problem,
        };
        let ca_pem = read("--ca-cert", self.ca_cert)?;
        let server_cert_pem = read("--tls-cert", self.tls_cert)?;
        let server_key_pem = read("--tls-key", self.tls_key)?;
        let token = read("--token-file", self.token_file)?.trim().to_string();
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            let problem = "the token must be one non-empty word (no spaces or line breaks inside)";
            return Err(invalid("--token-file", self.token_file, problem.into()));
        }
        let ca = first_certificate(&ca_pem).map_err(|p| invalid("--ca-cert", self.ca_cert, p))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|c: &Vec<_>| !c.is_empty())
            .ok_or_else(|| invalid("--tls-cert", self.tls_cert, "not a PEM certificate".into()))?;
        let key = PrivateKeyDer::from_pem_slice(server_key_pem.as_bytes())
            .map_err(|_| invalid("--tls-key", self.tls_key, "not a PEM private key".into()))?;
        let provider = tokio_rustls::rustls::crypto::ring::default_provider();
        tokio_rustls::rustls::sign::CertifiedKey::from_der(chain.clone(), key, &provider).map_err(|e| {
            invalid("--tls-key", self.tls_key, format!("this key does not belong to the --tls-cert certificate ({e})"))
        })?;
        signed_by(&ca, &chain, &provider).map_err(|e| {
            let problem =
                format!("the certificate is not signed by the --ca-cert CA ({e}); give the CA that issued it");
            invalid("--tls-cert", self.tls_cert, problem)
        })?;
        Ok((Certificates { ca_pem, server_cert_pem, server_key_pem }, token))
    }
}

fn first_certificate(pem: &str) -> Result<CertificateDer<'static>, String> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| "not a PEM certificate".to_string())
}

/// Whether the chain's first certificate is signed by (a chain up to) `ca`, whatever names it has.
fn signed_by(
    ca: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    provider: &tokio_rustls::rustls::crypto::CryptoProvider,
) -> Result<(), tokio_rustls::rustls::Error> {
    use tokio_rustls::rustls::{RootCertStore, client, server::ParsedCertificate};
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let end_entity = ParsedCertificate::try_from(&chain[0])?;
    let now = rustls_pki_types::UnixTime::now();
    let algorithms = provider.signature_verification_algorithms.all;
    client::verify_server_cert_signed_by_trust_anchor(&end_entity, &roots, &chain[1..], now, algorithms)
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
    fn the_stored_certificates_make_an_acceptor() {
        let dir = tempfile::tempdir().unwrap();
        let certificates = Certificates::load_or_create(dir.path()).unwrap();
        acceptor(&certificates).expect("a usable acceptor");
    }

    fn write_given(dir: &Path, certificates: &Certificates, token: &str) {
        std::fs::write(dir.join("ca.crt"), &certificates.ca_pem).unwrap();
        std::fs::write(dir.join("tls.crt"), &certificates.server_cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), &certificates.server_key_pem).unwrap();
        std::fs::write(dir.join("token"), token).unwrap();
    }

    fn given(dir: &Path) -> Given<'_> {
        // Leaked paths keep the test short; they live until the test process ends.
        let leak = |name: &str| -> &'static Path { Box::leak(dir.join(name).into_boxed_path()) };
        Given {
            ca_cert: leak("ca.crt"),
            tls_cert: leak("tls.crt"),
            tls_key: leak("tls.key"),
            token_file: leak("token"),
        }
    }

    #[test]
    fn given_credentials_are_installed_and_mismatches_refused() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["sandbox.ns.svc".to_string()];
        let made = Certificates::generate_for(&names).unwrap();
        write_given(dir.path(), &made, "abc123\n");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        given(dir.path()).install(&data).unwrap();
        let installed = Certificates::load_or_create(&data.join("pki")).unwrap();
        assert_eq!(installed.server_cert_pem, made.server_cert_pem);
        assert_eq!(std::fs::read_to_string(data.join("admin-token")).unwrap(), "abc123");

        let other = Certificates::generate_for(&names).unwrap();
        let mixed = Certificates {
            server_key_pem: other.server_key_pem.clone(),
            ..Certificates::generate_for(&names).unwrap()
        };
        let mixed = Certificates { ca_pem: made.ca_pem.clone(), ..mixed };
        write_given(dir.path(), &mixed, "t");
        let error = given(dir.path()).check().err().expect("refused").to_string();
        assert!(error.starts_with("--tls-key") && error.contains("does not belong"), "{error}");

        let foreign = Certificates { ca_pem: other.ca_pem.clone(), ..Certificates::generate_for(&names).unwrap() };
        write_given(dir.path(), &foreign, "t");
        let error = given(dir.path()).check().err().expect("refused").to_string();
        assert!(error.starts_with("--tls-cert") && error.contains("not signed by the --ca-cert CA"), "{error}");

        std::fs::remove_file(dir.path().join("token")).unwrap();
        let error = given(dir.path()).check().err().expect("refused").to_string();
        assert!(error.starts_with("cannot read --token-file"), "{error}");
    }
}

//! The sandbox's certificates: a CA made once per data directory, and a serving certificate for
//! loopback signed by it. The HTTP layer turns them into a TLS acceptor; the CA also goes into
//! kubeconfigs and every namespace's `kube-root-ca.crt`.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::Path;

/// Why certificates could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
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
    #[error(
        "cannot prepare the sandbox's certificates: {0} (delete the pki folder in the data directory to make new ones)"
    )]
    Certificate(String),
}

fn cert_error(e: impl std::fmt::Display) -> PkiError {
    PkiError::Certificate(e.to_string())
}

/// The PEM texts the sandbox serves with, and the CA that clients trust.
pub struct Certificates {
    /// The CA certificate, written into kubeconfigs (and later into pods).
    pub ca_pem: String,
    /// The serving certificate chain (PEM).
    pub server_cert_pem: String,
    /// The serving certificate's private key (PEM).
    pub server_key_pem: String,
}

/// Names the sandbox's own serving certificate is valid for (loopback and the in-cluster API names).
pub const SERVER_NAMES: [&str; 6] =
    ["localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"];

impl Certificates {
    /// Loads the certificates from `dir`, or makes and stores them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, PkiError> {
        let file = |name: &str| dir.join(name);
        let read = |name: &str| std::fs::read_to_string(file(name));
        if let (Ok(ca_pem), Ok(server_cert_pem), Ok(server_key_pem)) =
            (read("ca.crt"), read("server.crt"), read("server.key"))
        {
            return Ok(Self { ca_pem, server_cert_pem, server_key_pem });
        }
        let made = Self::generate_for(&SERVER_NAMES.map(String::from))?;
        made.save(dir)?;
        Ok(made)
    }

    /// Writes the three files into `dir` (each atomically), where [`Certificates::load_or_create`]
    /// finds them: how credentials made elsewhere (the workshop's, for a sandbox in a Pod) are
    /// put in place.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        let file = |name: &str| dir.join(name);
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| PkiError::File { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for (name, text) in
            [("ca.crt", &self.ca_pem), ("server.crt", &self.server_cert_pem), ("server.key", &self.server_key_pem)]
        {
            let tmp = file(&format!("{name}.tmp"));
            std::fs::write(&tmp, text).map_err(io(&tmp))?;
            std::fs::rename(&tmp, file(name)).map_err(io(&file(name)))?;
        }
        Ok(())
    }

    /// A new CA and a serving certificate it signs for `names` (DNS names or IP addresses).
    pub fn generate_for(names: &[String]) -> Result<Self, PkiError> {
        let ca_key = KeyPair::generate().map_err(cert_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        ca_params.distinguished_name.push(DnType::CommonName, "gitops-lab-sandbox-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_error)?;
        let issuer = Issuer::new(ca_params, &ca_key);
        let server_key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(cert_error)?;
        params.distinguished_name.push(DnType::CommonName, "gitops-lab-sandbox");
        let server_cert = params.signed_by(&server_key, &issuer).map_err(cert_error)?;
        Ok(Self {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        })
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
        assert_eq!(first.server_key_pem, second.server_key_pem);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}

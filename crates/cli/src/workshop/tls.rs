//! HTTPS for a workshop the room reaches over the network: the lab's own CA, made once and kept in
//! the data directory (so a class imports it once, and a restarted server keeps it), and a serving
//! certificate for the names learners type, issued again by the same CA whenever those names
//! change. Serving itself reuses the sandbox's TLS acceptor and listener.

use anyhow::Context;
use gitops_sandbox_core::pki::Certificates;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::{Path, PathBuf};

/// The workshop's certificates, ready to serve.
pub struct WorkshopTls {
    /// The CA certificate learners import (`DIR/ca.crt`).
    pub ca_path: PathBuf,
    /// The CA's SHA-256 fingerprint, `AB:CD:…` (what browsers and `openssl x509 -fingerprint` show).
    pub fingerprint: String,
    /// The serving certificate and key, with the CA.
    pub certificates: Certificates,
}

const CA_NAME: &str = "GitOps Lab workshop CA";

/// Loads or makes the CA in `dir`, and a serving certificate valid for `names` (host names and IP
/// addresses; IPv6 without brackets).
pub fn prepare(dir: &Path, names: &[String]) -> anyhow::Result<WorkshopTls> {
    std::fs::create_dir_all(dir).with_context(|| cannot_write(dir))?;
    let (ca_path, key_path) = (dir.join("ca.crt"), dir.join("ca.key"));
    let (ca_pem, ca_key) = match (std::fs::read_to_string(&ca_path), std::fs::read_to_string(&key_path)) {
        (Ok(pem), Ok(key)) => (pem, KeyPair::from_pem(&key).with_context(|| broken(&key_path))?),
        _ => {
            let key = KeyPair::generate()?;
            let pem = ca_params().self_signed(&key)?.pem();
            write_private(&key_path, &key.serialize_pem())?;
            write(&ca_path, &pem)?;
            (pem, key)
        }
    };
    let wanted = names.join("\n");
    let names_path = dir.join("server.names");
    let stored = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let (server_cert_pem, server_key_pem) = match (stored("server.names"), stored("server.crt"), stored("server.key")) {
        (Some(had), Some(cert), Some(key)) if had == wanted => (cert, key),
        _ => {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(names.to_vec())?;
            params.distinguished_name.push(DnType::CommonName, "gitops-lab workshop");
            let cert = params.signed_by(&key, &Issuer::new(ca_params(), &ca_key))?.pem();
            write_private(&dir.join("server.key"), &key.serialize_pem())?;
            write(&dir.join("server.crt"), &cert)?;
            write(&names_path, &wanted)?;
            (cert, key.serialize_pem())
        }
    };
    let der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).with_context(|| broken(&ca_path))?;
    Ok(WorkshopTls {
        ca_path,
        fingerprint: fingerprint(&der),
        certificates: Certificates { ca_pem, server_cert_pem, server_key_pem },
    })
}

/// The CA's fixed description: the same every time, so a certificate issued later by the stored
/// key names the issuer the learners imported.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

/// `AB:CD:…`: the SHA-256 of the certificate's DER bytes in upper-case hex pairs.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":")
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| cannot_write(&tmp))?;
    std::fs::rename(&tmp, path).with_context(|| cannot_write(path))
}

/// Writes a private key readable by this user only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(|| cannot_write(path))?;
    }
    Ok(())
}

fn cannot_write(path: &Path) -> String {
    format!("cannot write the workshop's certificates in {0} / 无法在 {0} 写入工作坊证书", path.display())
}

fn broken(path: &Path) -> String {
    format!(
        "{0} is not a usable certificate or key: delete the folder {1} to make a new CA (learners then import it again) / {0} 不是可用的证书或密钥：删除文件夹 {1} 以生成新的 CA（学员需重新导入）",
        path.display(),
        path.parent().unwrap_or(path).display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_kept_and_the_server_certificate_follows_the_names() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(dir.path(), &["127.0.0.1".into(), "lab.local".into()]).unwrap();
        let again = prepare(dir.path(), &["127.0.0.1".into(), "lab.local".into()]).unwrap();
        assert_eq!(first.certificates.ca_pem, again.certificates.ca_pem);
        assert_eq!(first.certificates.server_cert_pem, again.certificates.server_cert_pem);
        let renamed = prepare(dir.path(), &["10.0.0.5".into()]).unwrap();
        assert_eq!(first.fingerprint, renamed.fingerprint, "the same CA");
        assert_ne!(first.certificates.server_cert_pem, renamed.certificates.server_cert_pem);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        gitops_sandbox::tls::acceptor(&renamed.certificates).expect("a usable acceptor");
    }

    #[test]
    fn a_damaged_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path(), &["127.0.0.1".into()]).unwrap();
        std::fs::write(dir.path().join("ca.key"), "not a key").unwrap();
        let error = format!("{:#}", prepare(dir.path(), &["127.0.0.1".into()]).err().unwrap());
        assert!(error.contains("ca.key is not a usable certificate or key") && error.contains("delete"), "{error}");
    }
}

//! The kubeconfig a sandbox writes so that kubectl and kube-rs find it: one cluster, user and
//! context, all named `gitops-lab-sandbox`, and set as the current context.

use base64::Engine;
use std::path::Path;

/// The name used for the cluster, the user and the context.
pub const CONTEXT: &str = "gitops-lab-sandbox";

/// The kubeconfig text for a server URL, the CA that signed its certificate, and a bearer token.
pub fn render(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\n    \
         certificate-authority-data: {ca}\n\
         users:\n- name: {CONTEXT}\n  user:\n    token: {token}\n\
         contexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    \
         namespace: default\n\
         current-context: {CONTEXT}\npreferences: {{}}\n"
    )
}

/// Writes the kubeconfig atomically (a temporary file renamed into place), readable by the user only.
pub fn write(path: &Path, server: &str, ca_pem: &str, token: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, render(server, ca_pem, token))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_one_context_and_selects_it() {
        let text = render("https://127.0.0.1:1234", "CA", "secret");
        let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(doc["current-context"], CONTEXT);
        assert_eq!(doc["clusters"][0]["cluster"]["server"], "https://127.0.0.1:1234");
        assert_eq!(doc["clusters"][0]["cluster"]["certificate-authority-data"], "Q0E=");
        assert_eq!(doc["users"][0]["user"]["token"], "secret");
    }
}

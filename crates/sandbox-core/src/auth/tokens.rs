//! ServiceAccount tokens: JWTs signed with the sandbox's HMAC key, verified without stored state.
//!
//! The claims follow upstream's bound tokens (`sub`, `aud`, `exp`, and a `kubernetes.io` section
//! naming the namespace, the ServiceAccount and, when bound, the pod, each with its uid), so a
//! learner decoding one sees what a real cluster issues. Only the algorithm differs (HS256 instead
//! of RS256): nobody outside the sandbox needs to verify them.

use super::Identity;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The issuer and default audience, as a cluster built by kubeadm names itself.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// Why a token was not accepted (every case answers 401 Unauthorized).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header and payload.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The signature does not match the header and payload.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` has passed (or `nbf` has not yet come).
    #[error("the token has expired or is not yet valid")]
    Expired,
    /// The token is for another audience or issuer.
    #[error("the token is not meant for this API server")]
    WrongAudience,
    /// The ServiceAccount or pod it names is gone (or was recreated with another uid).
    #[error("the token names {0}, which no longer exists")]
    Revoked(String),
}

/// The secret that signs and verifies tokens, kept in the sandbox's data directory.
pub struct SigningKey {
    key: hmac::Key,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// A key from raw secret bytes.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// Reads the key file, or writes a new random one (mode 0600) when it is missing or empty.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return Ok(Self::from_secret(text.trim().as_bytes()));
        }
        // Two v4 uuids give 244 random bits, plenty for an HMAC key.
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &secret)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(Self::from_secret(secret.as_bytes()))
    }

    /// Signs claims into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let tag = hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Checks the signature, algorithm, time window, issuer and audience; returns the claims.
    /// Whether the objects they name still exist is the caller's question ([`Claims::check_live`]).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed);
        let signature = decode(signature)?;
        let signed = &token[..header.len() + 1 + payload.len()];
        hmac::verify(&self.key, signed.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Malformed);
        }
        let claims: Claims = serde_json::from_slice(&decode(payload)?).map_err(|_| TokenError::Malformed)?;
        if now >= claims.exp || now < claims.nbf {
            return Err(TokenError::Expired);
        }
        if claims.iss != API_AUDIENCE || !claims.aud.iter().any(|a| a == API_AUDIENCE) {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }
}

/// A token's payload, with upstream's claim names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Audiences; the API server accepts tokens that include [`API_AUDIENCE`].
    pub aud: Vec<String>,
    /// Expiry, in Unix seconds.
    pub exp: i64,
    /// Issued at, in Unix seconds.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// A unique id, reported as the credential id.
    pub jti: String,
    /// Not valid before, in Unix seconds.
    pub nbf: i64,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
    /// What the token is bound to.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Binding,
}

/// The `kubernetes.io` claim: the ServiceAccount and the optional pod, by name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub serviceaccount: Reference,
    /// The pod the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Reference>,
    /// A Secret the token is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Reference>,
}

/// An object named by name and uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The object's name.
    pub name: String,
    /// The object's uid when the token was issued.
    pub uid: String,
}

impl Claims {
    /// Claims for a ServiceAccount, valid from `now` for `seconds`, for the given audiences.
    pub fn new(namespace: &str, account: Reference, now: i64, seconds: i64, aud: Vec<String>) -> Self {
        Self {
            sub: super::service_account_username(namespace, &account.name),
            aud,
            exp: now + seconds,
            iat: now,
            nbf: now,
            iss: API_AUDIENCE.to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: Binding { namespace: namespace.to_string(), serviceaccount: account, pod: None, secret: None },
        }
    }

    /// Checks that each object the token names still exists with the same uid; `lookup(kind, name)`
    /// answers the current uid of an object in the token's namespace.
    pub fn check_live(&self, lookup: impl Fn(&str, &str) -> Option<String>) -> Result<(), TokenError> {
        let bound = &self.kubernetes;
        let named = [
            ("ServiceAccount", Some(&bound.serviceaccount)),
            ("Pod", bound.pod.as_ref()),
            ("Secret", bound.secret.as_ref()),
        ];
        for (kind, reference) in named {
            let Some(reference) = reference else { continue };
            if lookup(kind, &reference.name).as_deref() != Some(reference.uid.as_str()) {
                return Err(TokenError::Revoked(format!("{kind} {}/{}", bound.namespace, reference.name)));
            }
        }
        Ok(())
    }

    /// The user the token authenticates as, with upstream's groups and extra fields.
    pub fn identity(&self) -> Identity {
        let bound = &self.kubernetes;
        let mut identity =
            Identity::service_account(&bound.namespace, &bound.serviceaccount.name, &bound.serviceaccount.uid);
        let extra = &mut identity.extra;
        extra.insert("authentication.kubernetes.io/credential-id".into(), vec![format!("JTI={}", self.jti)]);
        if let Some(pod) = &bound.pod {
            extra.insert("authentication.kubernetes.io/pod-name".into(), vec![pod.name.clone()]);
            extra.insert("authentication.kubernetes.io/pod-uid".into(), vec![pod.uid.clone()]);
        }
        identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn key() -> SigningKey {
        SigningKey::from_secret(b"test secret")
    }

    fn claims() -> Claims {
        let account = Reference { name: "default".into(), uid: "sa-uid".into() };
        Claims::new("default", account, NOW, 3600, vec![API_AUDIENCE.into()])
    }

    #[test]
    fn a_signed_token_verifies_and_names_its_service_account() {
        let token = key().sign(&claims());
        assert_eq!(token.split('.').count(), 3);
        let back = key().verify(&token, NOW + 10).unwrap();
        assert_eq!(back, claims_with_jti(&back.jti));
        let who = back.identity();
        assert_eq!(who.name, "system:serviceaccount:default:default");
        assert_eq!(who.groups, ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]);
        assert_eq!(who.uid, "sa-uid");
    }

    fn claims_with_jti(jti: &str) -> Claims {
        Claims { jti: jti.to_string(), ..claims() }
    }

    #[test]
    fn a_changed_payload_fails_the_signature() {
        let token = key().sign(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged.kubernetes.namespace = "kube-system".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
        assert_eq!(key().verify(&tampered, NOW).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn another_key_does_not_verify() {
        let token = SigningKey::from_secret(b"other").sign(&claims());
        assert_eq!(key().verify(&token, NOW).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let token = key().sign(&claims());
        assert_eq!(key().verify(&token, NOW + 3600).unwrap_err(), TokenError::Expired);
        assert_eq!(key().verify(&token, NOW - 1).unwrap_err(), TokenError::Expired);
    }

    #[test]
    fn a_token_for_another_audience_is_refused() {
        let mut other = claims();
        other.aud = vec!["vault".into()];
        let token = key().sign(&other);
        assert_eq!(key().verify(&token, NOW).unwrap_err(), TokenError::WrongAudience);
    }

    #[test]
    fn garbage_is_malformed() {
        for text in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
            assert!(key().verify(text, NOW).is_err(), "{text}");
        }
    }

    #[test]
    fn a_recreated_service_account_revokes_the_token() {
        let c = claims();
        assert!(c.check_live(|_, _| Some("sa-uid".into())).is_ok());
        let err = c.check_live(|_, _| Some("new-uid".into())).unwrap_err();
        assert_eq!(err, TokenError::Revoked("ServiceAccount default/default".into()));
        assert!(c.check_live(|_, _| None).is_err());
    }

    #[test]
    fn a_deleted_pod_revokes_a_pod_bound_token() {
        let mut c = claims();
        c.kubernetes.pod = Some(Reference { name: "web".into(), uid: "pod-uid".into() });
        let alive = |kind: &str, _: &str| Some(if kind == "Pod" { "pod-uid" } else { "sa-uid" }.to_string());
        assert!(c.check_live(alive).is_ok());
        let pod_gone = |kind: &str, _: &str| (kind != "Pod").then(|| "sa-uid".to_string());
        assert!(matches!(c.check_live(pod_gone), Err(TokenError::Revoked(what)) if what == "Pod default/web"));
        assert_eq!(c.identity().extra["authentication.kubernetes.io/pod-name"], ["web"]);
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service-account-key");
        let token = SigningKey::load_or_create(&path).unwrap().sign(&claims());
        assert!(SigningKey::load_or_create(&path).unwrap().verify(&token, NOW).is_ok());
    }
}

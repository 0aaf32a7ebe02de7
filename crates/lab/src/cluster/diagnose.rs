//! Explains Kubernetes API failures in plain words, with the next thing to try.
//!
//! A kube-rs error is classified once, here, by meaning (unreachable, TLS, unauthorized, forbidden,
//! invalid, …) from the API's `Status` or the chain of causes; every other module only passes errors on.

use gitops_lab_protocol::{ErrorView, Text};

/// What kind of failure a kube-rs error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens at the server's address, or the network does not reach it.
    Unreachable,
    /// The TLS handshake failed (unknown CA, wrong host name).
    Tls,
    /// The kubeconfig's credentials could not be obtained: its login helper (exec plugin) failed,
    /// most often because the login expired, or its token file cannot be read.
    Credentials,
    /// The server did not accept the credentials (401), or they could not be obtained.
    Unauthorized,
    /// The credentials are valid but RBAC does not allow the request (403).
    Forbidden,
    /// The object does not exist (404).
    NotFound,
    /// The object exists, or changed under us (409).
    Conflict,
    /// The server rejected the object (422, 400).
    Invalid,
    /// The request took too long.
    Timeout,
    /// Anything else.
    Other,
}

/// Classifies an error by meaning.
pub fn classify(error: &kube::Error) -> Failure {
    if let kube::Error::Api(status) = error {
        return match status.code {
            401 => Failure::Unauthorized,
            403 => Failure::Forbidden,
            404 => Failure::NotFound,
            409 => Failure::Conflict,
            400 | 422 => Failure::Invalid,
            504 => Failure::Timeout,
            _ => Failure::Other,
        };
    }
    if matches!(error, kube::Error::Auth(_)) || auth_error(error).is_some() {
        return Failure::Credentials;
    }
    let chain = cause_chain(error).to_ascii_lowercase();
    if chain.contains("certificate") || chain.contains("tls") || chain.contains("handshake") {
        Failure::Tls
    } else if chain.contains("timed out") || chain.contains("timeout") || chain.contains("elapsed") {
        Failure::Timeout
    } else if chain.contains("connection refused")
        || chain.contains("connect error")
        || chain.contains("error trying to connect")
        || chain.contains("dns error")
        || chain.contains("no route to host")
        || chain.contains("network is unreachable")
        || chain.contains("connection reset")
        || chain.contains("broken pipe")
        || chain.contains("unexpected eof")
        || chain.contains("connection closed")
    {
        Failure::Unreachable
    } else {
        Failure::Other
    }
}

/// The error and its causes in one line.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The credential failure inside an error, wherever kube-rs wrapped it.
fn auth_error(error: &kube::Error) -> Option<&kube::client::AuthError> {
    if let kube::Error::Auth(auth) = error {
        return Some(auth);
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(auth) = cause.downcast_ref::<kube::client::AuthError>() {
            return Some(auth);
        }
        source = cause.source();
    }
    None
}

/// Why the credentials could not be had, in plain words (the login helper's own message when it ran).
fn credentials_problem(error: &kube::Error) -> Text {
    use kube::client::AuthError as A;
    match auth_error(error) {
        Some(A::AuthExecRun { cmd, out }) => {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message").to_string();
            let code = out.status.code().map_or_else(|| "a signal".to_string(), |c| c.to_string());
            Text::new(
                format!("the kubeconfig's login helper `{cmd}` failed (exit {code}): {said}"),
                format!("kubeconfig 的登录辅助程序 `{cmd}` 运行失败（退出码 {code}）：{said}"),
            )
        }
        Some(A::AuthExecStart(cause)) => Text::new(
            format!("the kubeconfig's login helper cannot be started: {cause}"),
            format!("无法启动 kubeconfig 的登录辅助程序：{cause}"),
        ),
        Some(A::ReadTokenFile(cause, path)) => Text::new(
            format!("the token file {} cannot be read: {cause}", path.display()),
            format!("无法读取令牌文件 {}：{cause}", path.display()),
        ),
        Some(other) => Text::same(other.to_string()),
        None => Text::same(cause_chain(error)),
    }
}

/// What exactly went wrong in a TLS handshake, from rustls' words in the chain.
fn tls_problem(chain: &str) -> (Text, Text) {
    // BadSignature: a CA of the same name but another key signed it, as after a cluster was recreated.
    if ["UnknownIssuer", "unknown issuer", "BadSignature"].iter().any(|cause| chain.contains(cause)) {
        (
            Text::new(
                "its certificate is signed by a CA that the kubeconfig does not trust (the kubeconfig's certificate-authority is for another cluster)",
                "它的证书由 kubeconfig 不信任的 CA 签发（kubeconfig 中的 certificate-authority 属于另一个集群）",
            ),
            Text::new(
                "The cluster may have been recreated, or the kubeconfig mixes two clusters: fetch a fresh kubeconfig (for minikube: `minikube update-context`; for the sandbox: restart the lab), then reconnect.",
                "集群可能已被重建，或 kubeconfig 混用了两个集群的信息：请获取新的 kubeconfig（minikube 可运行 `minikube update-context`；沙盒集群请重启实验室），然后重新连接。",
            ),
        )
    } else if chain.contains("NotValidForName") || chain.contains("not valid for name") {
        (
            Text::new(
                "its certificate is not valid for the address in the kubeconfig",
                "它的证书对 kubeconfig 中的地址无效",
            ),
            Text::new(
                "Use the server address the cluster's certificate was made for (check `server:` in the kubeconfig), then reconnect.",
                "请使用集群证书所对应的服务器地址（检查 kubeconfig 中的 `server:`），然后重新连接。",
            ),
        )
    } else if chain.contains("Expired") || chain.contains("expired") {
        (
            Text::new("its certificate has expired", "它的证书已过期"),
            Text::new(
                "Renew the cluster's certificates (for minikube: `minikube start` renews them), or check this machine's clock.",
                "请更新集群证书（minikube 运行 `minikube start` 即可更新），或检查本机时钟。",
            ),
        )
    } else {
        (
            Text::new("its certificate is not the one the kubeconfig trusts", "它的证书不是 kubeconfig 所信任的那一个"),
            Text::new(
                "The cluster may have been recreated: refresh the kubeconfig (for minikube: `minikube update-context`).",
                "集群可能已被重建：请更新 kubeconfig（minikube 可运行 `minikube update-context`）。",
            ),
        )
    }
}

/// The server's own message for an API error, as kubectl prints it after `Error from server (Reason):`.
pub fn server_message(error: &kube::Error) -> Option<String> {
    match error {
        kube::Error::Api(status) => Some(status.message.clone()),
        _ => None,
    }
}

/// The learner's view of a kube-rs error: what happened and what to try next.
pub fn explain_kube_error(error: &kube::Error) -> ErrorView {
    let detail = cause_chain(error);
    let server = server_message(error).unwrap_or_else(|| detail.clone());
    let (code, message, hint) = match classify(error) {
        Failure::Unreachable => (
            "unreachable",
            Text::new(
                "The cluster's API server cannot be reached: nothing answers at its address.",
                "无法连接到集群的 API 服务器：它的地址上没有任何响应。",
            ),
            Text::new(
                "Check that the cluster is running (for minikube: `minikube status`), then reconnect from the cluster bar.",
                "请确认集群正在运行（minikube 可运行 `minikube status`），然后在集群栏中重新连接。",
            ),
        ),
        Failure::Tls => {
            let (what, hint) = tls_problem(&detail);
            (
                "tls",
                Text::new(
                    format!("The secure connection to the API server failed: {}.", what.en),
                    format!("与 API 服务器的安全连接失败：{}。", what.zh),
                ),
                hint,
            )
        }
        Failure::Credentials => {
            let why = credentials_problem(error);
            (
                "credentials",
                Text::new(
                    format!("Your credentials for this cluster could not be obtained: {}", why.en),
                    format!("无法获取你在该集群上的凭据：{}", why.zh),
                ),
                Text::new(
                    "Your login has most likely expired: log in again with the tool your cluster uses (for example `aws sso login`, `gcloud auth login`, `az login`, `oc login`), then reconnect from the cluster bar.",
                    "你的登录很可能已过期：请用集群所用的工具重新登录（例如 `aws sso login`、`gcloud auth login`、`az login`、`oc login`），然后在集群栏中重新连接。",
                ),
            )
        }
        Failure::Unauthorized => (
            "unauthorized",
            Text::new(
                "The API server rejected your credentials (401 Unauthorized): the token or client certificate in the kubeconfig is wrong, revoked or expired.",
                "API 服务器拒绝了你的凭据（401 Unauthorized）：kubeconfig 中的令牌或客户端证书有误、已被吊销或已过期。",
            ),
            Text::new(
                "Get fresh credentials (log in again with your cluster's tool, or ask its administrator for a new token), then reconnect.",
                "请获取新的凭据（用集群自带的工具重新登录，或向管理员申请新的令牌），然后重新连接。",
            ),
        ),
        Failure::Forbidden => (
            "forbidden",
            Text::new(format!("The cluster refused: {server}"), format!("集群拒绝了该操作：{server}")),
            Text::new(
                "Your account's RBAC permissions are too narrow for this step. Ask the cluster's administrator for a Role that allows it, or use the sandbox.",
                "你的账号的 RBAC 权限不足以完成这一步。请向集群管理员申请允许该操作的 Role，或改用沙盒集群。",
            ),
        ),
        Failure::NotFound => (
            "not-found",
            Text::new(format!("Not found: {server}"), format!("找不到对象：{server}")),
            Text::new(
                "Check the name and the namespace, or create the object first.",
                "请检查名称和命名空间，或先创建该对象。",
            ),
        ),
        Failure::Conflict => (
            "conflict",
            Text::new(format!("Conflict: {server}"), format!("冲突：{server}")),
            Text::new(
                "Someone changed or created the object at the same time: run the step again.",
                "有人同时修改或创建了该对象：请再次运行这一步。",
            ),
        ),
        Failure::Invalid => (
            "invalid",
            Text::new(
                format!("The API server rejected the object: {server}"),
                format!("API 服务器拒绝了该对象：{server}"),
            ),
            Text::new("Fix the field named in the message and try again.", "请修改消息中指出的字段后重试。"),
        ),
        Failure::Timeout => (
            "timeout",
            Text::new("The API server did not answer in time.", "API 服务器未能及时响应。"),
            Text::new(
                "The cluster may be overloaded or still starting: wait a moment and try again.",
                "集群可能负载过高或仍在启动：请稍等片刻再试。",
            ),
        ),
        Failure::Other => (
            "kubernetes",
            Text::new(format!("The request failed: {server}"), format!("请求失败：{server}")),
            Text::new(
                "Try again; if it keeps failing, reconnect to the cluster.",
                "请重试；若仍然失败，请重新连接集群。",
            ),
        ),
    };
    ErrorView::new(code, message).with_hint(hint).with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, message: &str) -> kube::Error {
        let status = kube::core::Status::failure(message, "Reason").with_code(code);
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn api_errors_are_classified_by_code() {
        assert_eq!(classify(&api(403, "forbidden")), Failure::Forbidden);
        assert_eq!(classify(&api(401, "no")), Failure::Unauthorized);
        assert_eq!(classify(&api(404, "x")), Failure::NotFound);
        assert_eq!(classify(&api(422, "x")), Failure::Invalid);
    }

    #[test]
    fn tls_failures_name_what_was_wrong_with_the_certificate() {
        let (what, hint) = tls_problem("invalid peer certificate: UnknownIssuer");
        assert!(what.en.contains("does not trust") && hint.en.contains("update-context"));
        assert!(tls_problem("invalid peer certificate: BadSignature").0.en.contains("does not trust"));
        assert!(tls_problem("invalid peer certificate: NotValidForName").0.en.contains("not valid for the address"));
        assert!(tls_problem("invalid peer certificate: Expired").0.en.contains("expired"));
    }

    #[test]
    fn a_failed_login_helper_is_named_with_its_message() {
        let out = std::process::Command::new("sh").args(["-c", "echo 'token expired' >&2; exit 3"]).output().unwrap();
        let error = kube::Error::Auth(kube::client::AuthError::AuthExecRun {
            cmd: "aws eks get-token".into(),
            out: Box::new(out),
        });
        assert_eq!(classify(&error), Failure::Credentials);
        let view = explain_kube_error(&error);
        assert_eq!(view.code, "credentials");
        assert!(view.message.en.contains("`aws eks get-token` failed (exit 3): token expired"), "{:?}", view.message);
        assert!(view.hint.unwrap().en.contains("log in again"));
    }

    #[test]
    fn a_forbidden_answer_names_rbac_and_keeps_the_servers_message() {
        let view = explain_kube_error(&api(403, r#"pods is forbidden: User "x" cannot list resource "pods""#));
        assert_eq!(view.code, "forbidden");
        assert!(view.message.en.contains("cannot list resource"));
        assert!(view.hint.unwrap().en.contains("RBAC"));
    }
}

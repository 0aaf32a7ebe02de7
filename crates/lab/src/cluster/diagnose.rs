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
    if matches!(error, kube::Error::Auth(_)) {
        return Failure::Unauthorized;
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
            Text::new("The cluster's API server cannot be reached.", "无法连接到集群的 API 服务器。"),
            Text::new(
                "Check that the cluster is running (for minikube: `minikube status`), then reconnect from the cluster bar.",
                "请确认集群正在运行（minikube 可运行 `minikube status`），然后在集群栏中重新连接。",
            ),
        ),
        Failure::Tls => (
            "tls",
            Text::new(
                "The secure connection to the API server failed: its certificate is not the one the kubeconfig trusts.",
                "与 API 服务器的安全连接失败：它的证书不是 kubeconfig 所信任的那一个。",
            ),
            Text::new(
                "The cluster may have been recreated: refresh the kubeconfig (for minikube: `minikube update-context`).",
                "集群可能已被重建：请更新 kubeconfig（minikube 可运行 `minikube update-context`）。",
            ),
        ),
        Failure::Unauthorized => (
            "unauthorized",
            Text::new(
                "The API server did not accept your credentials (they may have expired).",
                "API 服务器不接受你的凭据（它们可能已过期）。",
            ),
            Text::new(
                "Log in again with your cluster's tool (for cloud clusters, refresh the credentials in the kubeconfig), then reconnect.",
                "请用集群自带的工具重新登录（云上集群需刷新 kubeconfig 中的凭据），然后重新连接。",
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
    fn a_forbidden_answer_names_rbac_and_keeps_the_servers_message() {
        let view = explain_kube_error(&api(403, r#"pods is forbidden: User "x" cannot list resource "pods""#));
        assert_eq!(view.code, "forbidden");
        assert!(view.message.en.contains("cannot list resource"));
        assert!(view.hint.unwrap().en.contains("RBAC"));
    }
}

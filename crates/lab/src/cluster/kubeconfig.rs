//! Kubeconfig files: finding the learner's, listing its contexts, and building a client for one.

use super::ClusterHandle;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ClusterChoice, Text};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::{Path, PathBuf};

/// One context of a kubeconfig, for the cluster bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextInfo {
    /// The context's name.
    pub name: String,
    /// The API server it points at, if the file says.
    pub server: Option<String>,
    /// Its namespace, if set.
    pub namespace: Option<String>,
    /// Whether it is the file's current context.
    pub current: bool,
}

/// The learner's kubeconfig: the given file, else the first of `$KUBECONFIG`, else `~/.kube/config`.
pub fn user_kubeconfig(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty())
        && let Some(first) = std::env::split_paths(&list).find(|p| p.is_file())
    {
        return Ok(first);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).ok_or_else(no_kubeconfig)?;
    Ok(home.join(".kube").join("config"))
}

fn no_kubeconfig() -> Error {
    Error::explained(
        "no-kubeconfig",
        Text::new("No kubeconfig file was found.", "找不到 kubeconfig 文件。"),
        Some(Text::new(
            "Set KUBECONFIG to your cluster's kubeconfig (minikube writes ~/.kube/config when it starts), or use the sandbox.",
            "请把 KUBECONFIG 设为你的集群的 kubeconfig（minikube 启动时会写入 ~/.kube/config），或改用沙盒集群。",
        )),
    )
}

fn read(path: &Path) -> Result<Kubeconfig> {
    if !path.is_file() {
        return Err(Error::explained(
            "no-kubeconfig",
            Text::new(
                format!("The kubeconfig file {} does not exist.", path.display()),
                format!("kubeconfig 文件 {} 不存在。", path.display()),
            ),
            Some(Text::new(
                "Start your cluster first (it writes the file), or set KUBECONFIG to the right file.",
                "请先启动集群（它会写入该文件），或把 KUBECONFIG 设为正确的文件。",
            )),
        ));
    }
    Kubeconfig::read_from(path).map_err(|error| {
        Error::explained(
            "bad-kubeconfig",
            Text::new(
                format!("The kubeconfig file {} cannot be read: {error}", path.display()),
                format!("无法读取 kubeconfig 文件 {}：{error}", path.display()),
            ),
            Some(Text::new(
                "Check the file with `kubectl config view`, or point KUBECONFIG at another one.",
                "请用 `kubectl config view` 检查该文件，或把 KUBECONFIG 指向另一个文件。",
            )),
        )
    })
}

/// The contexts of a kubeconfig file.
pub fn list_contexts(path: &Path) -> Result<Vec<ContextInfo>> {
    let config = read(path)?;
    let current = config.current_context.clone();
    Ok(config
        .contexts
        .iter()
        .map(|named| {
            let context = named.context.as_ref();
            let cluster_name = context.map(|c| c.cluster.clone()).unwrap_or_default();
            let server = config
                .clusters
                .iter()
                .find(|c| c.name == cluster_name)
                .and_then(|c| c.cluster.as_ref())
                .and_then(|c| c.server.clone());
            ContextInfo {
                name: named.name.clone(),
                server,
                namespace: context.and_then(|c| c.namespace.clone()),
                current: current.as_deref() == Some(named.name.as_str()),
            }
        })
        .collect())
}

/// A client for `context` of the kubeconfig at `path` (its current context when `None`).
pub async fn connect(choice: ClusterChoice, path: &Path, context: Option<&str>) -> Result<ClusterHandle> {
    let config = read(path)?;
    if let Some(name) = context
        && !config.contexts.iter().any(|c| c.name == name)
    {
        let known: Vec<_> = config.contexts.iter().map(|c| c.name.as_str()).collect();
        let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return Err(Error::explained(
            "no-context",
            Text::new(
                format!("The kubeconfig {} has no context named \"{name}\" (it has: {known}).", path.display()),
                format!("kubeconfig {} 中没有名为“{name}”的上下文（已有：{known}）。", path.display()),
            ),
            Some(Text::new(
                "Pick one of the listed contexts; for minikube, start it first so that it adds its context.",
                "请选择列出的上下文之一；若使用 minikube，请先启动它，它会添加自己的上下文。",
            )),
        ));
    }
    let options = KubeConfigOptions { context: context.map(String::from), ..KubeConfigOptions::default() };
    let kube_config = kube::Config::from_custom_kubeconfig(config, &options).await.map_err(|error| {
        Error::explained(
            "bad-kubeconfig",
            Text::new(
                format!("The kubeconfig {} cannot be used: {error}", path.display()),
                format!("无法使用 kubeconfig {}：{error}", path.display()),
            ),
            Some(Text::new(
                "Check the context's cluster and user entries with `kubectl config view`.",
                "请用 `kubectl config view` 检查该上下文的 cluster 与 user 条目。",
            )),
        )
    })?;
    let server = kube_config.cluster_url.to_string().trim_end_matches('/').to_string();
    let default_namespace = kube_config.default_namespace.clone();
    let client = kube::Client::try_from(kube_config)?;
    Ok(ClusterHandle {
        client,
        choice,
        server,
        default_namespace,
        kubeconfig: path.to_path_buf(),
        context: context.map(String::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_CONTEXTS: &str = r#"
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: one, user: u, namespace: team}
- name: b
  context: {cluster: one, user: u}
"#;

    #[test]
    fn contexts_are_listed_with_server_namespace_and_current() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, TWO_CONTEXTS).unwrap();
        let contexts = list_contexts(&path).unwrap();
        assert_eq!(contexts.len(), 2);
        assert_eq!(contexts[0].name, "a");
        assert_eq!(contexts[0].namespace.as_deref(), Some("team"));
        assert_eq!(contexts[0].server.as_deref(), Some("https://127.0.0.1:1"));
        assert!(!contexts[0].current && contexts[1].current);
    }

    #[tokio::test]
    async fn an_unknown_context_is_named_with_the_ones_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, TWO_CONTEXTS).unwrap();
        let error = connect(ClusterChoice::Minikube, &path, Some("minikube")).await.unwrap_err().view();
        assert_eq!(error.code, "no-context");
        assert!(error.message.en.contains("\"minikube\"") && error.message.en.contains("a, b"), "{}", error.message.en);
    }

    #[tokio::test]
    async fn a_missing_file_says_which_file() {
        let error = connect(ClusterChoice::Minikube, Path::new("/nonexistent/kc"), None).await.unwrap_err().view();
        assert_eq!(error.code, "no-kubeconfig");
        assert!(error.message.en.contains("/nonexistent/kc"));
    }
}

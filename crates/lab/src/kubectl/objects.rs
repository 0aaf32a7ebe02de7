//! The objects a command line names: `TYPE/NAME`, `TYPE NAME…`, or the objects of `-f FILE`.

use super::Kubectl;
use super::manifest::Manifest;
use super::rest::Target;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ErrorView, Text};

impl Kubectl {
    /// The targets of `kubectl VERB ARGS…`: `deployment/web`, `pod a b`, or `deployment web`.
    pub async fn targets(&self, args: &[String], namespace: Option<&str>) -> Result<Vec<Target>> {
        let Some(first) = args.first() else {
            return Err(usage(
                "you must name a resource, e.g. deployment/web or pod nginx",
                "必须指定资源，例如 deployment/web 或 pod nginx",
            ));
        };
        let mut targets = Vec::new();
        if first.contains('/') {
            for arg in args {
                let Some((kind, name)) = arg.split_once('/') else {
                    return Err(usage(
                        &format!(
                            "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'), got \"{arg}\""
                        ),
                        &format!("使用 资源/名称 形式时，不要再单独写资源类型（出错的参数：“{arg}”）"),
                    ));
                };
                targets.push(self.target_of(kind, name, namespace).await?);
            }
        } else {
            if args.len() < 2 {
                return Err(usage(
                    &format!("resource(s) were provided, but no name was specified for \"{first}\""),
                    &format!("指定了资源类型“{first}”，但没有给出名称"),
                ));
            }
            for name in &args[1..] {
                targets.push(self.target_of(first, name, namespace).await?);
            }
        }
        Ok(targets)
    }

    /// One object by type name and object name.
    pub async fn target_of(&self, kind: &str, name: &str, namespace: Option<&str>) -> Result<Target> {
        let found = self.resolver.resolve_type(&self.client, kind).await?;
        let namespace = found.namespaced.then(|| namespace.unwrap_or(&self.default_namespace).to_string());
        Ok(Target { resource: found.resource, namespace, name: name.to_string() })
    }

    /// The object a manifest describes (namespace defaulted).
    pub async fn target_of_manifest(&self, manifest: &Manifest) -> Result<Target> {
        Ok(self.prepare(manifest).await?.0)
    }
}

/// A command line that cannot be carried out as written.
pub fn usage(english: &str, chinese: &str) -> Error {
    let mut view = ErrorView::new("usage", Text::new(english, chinese)).with_hint(Text::new(
        "Check the command against `kubectl help`; the lab understands the commands of chapter 2.",
        "请对照 `kubectl help` 检查命令；实验室支持第 2 章用到的命令。",
    ));
    view.detail = Some(format!("error: {english}"));
    Error::from(view)
}

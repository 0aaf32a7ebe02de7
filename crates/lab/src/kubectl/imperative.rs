//! kubectl's imperative verbs on existing objects: delete, scale, annotate, label and patch, each
//! with kubectl's request and kubectl's output.

use super::Kubectl;
use super::output::{CommandOutput, record_kube_error};
use super::rest::{self, PatchType, Target};
use crate::error::Result;
use serde_json::{Map, Value, json};

/// `annotate` or `label`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaField {
    /// `metadata.annotations`.
    Annotations,
    /// `metadata.labels`.
    Labels,
}

impl MetaField {
    fn key(self) -> &'static str {
        match self {
            MetaField::Annotations => "annotations",
            MetaField::Labels => "labels",
        }
    }

    fn done(self) -> &'static str {
        match self {
            MetaField::Annotations => "annotated",
            MetaField::Labels => "labeled",
        }
    }
}

impl Kubectl {
    /// `kubectl delete`: prints `pod "nginx" deleted` for each, and waits until each is gone when `wait`.
    pub async fn delete(&self, targets: &[Target], propagation: &str, wait: bool) -> CommandOutput {
        let mut output = CommandOutput::default();
        for target in targets {
            match rest::delete(&self.client, target, propagation).await {
                Ok(_) => {
                    output.out(format!("{} deleted", target.kubectl_quoted()));
                    if wait {
                        self.wait_gone(target).await;
                    }
                }
                Err(crate::Error::Kube(error)) => record_kube_error(&mut output, &error, None),
                Err(other) => output.fail_with(&other),
            }
        }
        output
    }

    /// `kubectl scale --replicas=N`.
    pub async fn scale(&self, targets: &[Target], replicas: i64) -> CommandOutput {
        let body = json!({"spec": {"replicas": replicas}});
        let mut output = CommandOutput::default();
        for target in targets {
            match rest::patch(&self.client, target, Some("scale"), PatchType::Merge, &body, &[]).await {
                Ok(_) => output.out(format!("{} scaled", target.kubectl_name())),
                Err(crate::Error::Kube(error)) => record_kube_error(&mut output, &error, None),
                Err(other) => output.fail_with(&other),
            }
        }
        output
    }

    /// `kubectl annotate` / `kubectl label` with `KEY=VALUE` and `KEY-` arguments.
    pub async fn set_meta(
        &self,
        field: MetaField,
        targets: &[Target],
        pairs: &[String],
        overwrite: bool,
    ) -> CommandOutput {
        let mut output = CommandOutput::default();
        let changes = match parse_pairs(pairs) {
            Ok(changes) => changes,
            Err(error) => {
                output.fail_with(&error);
                return output;
            }
        };
        for target in targets {
            if let Err(error) = self.set_meta_one(field, target, &changes, overwrite, &mut output).await {
                output.fail_with(&error);
            }
        }
        output
    }

    async fn set_meta_one(
        &self,
        field: MetaField,
        target: &Target,
        changes: &[(String, Option<String>)],
        overwrite: bool,
        output: &mut CommandOutput,
    ) -> Result<()> {
        let Some(live) = rest::get(&self.client, target).await? else {
            let status =
                kube::core::Status::failure(&format!("{} not found", target.kubectl_quoted_plural()), "NotFound")
                    .with_code(404);
            record_kube_error(output, &kube::Error::Api(Box::new(status)), None);
            return Ok(());
        };
        let existing = live.pointer(&format!("/metadata/{}", field.key())).and_then(Value::as_object);
        if !overwrite {
            let clashes: Vec<String> = changes
                .iter()
                .filter_map(|(key, value)| {
                    let old = existing?.get(key)?.as_str()?;
                    (value.as_deref().is_some_and(|v| v != old)).then(|| format!("'{key}' already has a value ({old})"))
                })
                .collect();
            if !clashes.is_empty() {
                let line = match field {
                    MetaField::Annotations => format!(
                        "error: --overwrite is false but found the following declared annotation(s): {}",
                        clashes.join(", ")
                    ),
                    MetaField::Labels => format!("error: {}, and --overwrite is false", clashes.join(", ")),
                };
                output.fail(line, overwrite_refused(field));
                return Ok(());
            }
        }
        let mut map = Map::new();
        for (key, value) in changes {
            map.insert(key.clone(), value.clone().map(Value::String).unwrap_or(Value::Null));
        }
        let body = json!({"metadata": {field.key(): map}});
        let manager = match field {
            MetaField::Annotations => "kubectl-annotate",
            MetaField::Labels => "kubectl-label",
        };
        match rest::patch(&self.client, target, None, PatchType::Merge, &body, &[("fieldManager", manager)]).await {
            Ok(_) => output.out(format!("{} {}", target.kubectl_name(), field.done())),
            Err(crate::Error::Kube(error)) => record_kube_error(output, &error, None),
            Err(other) => return Err(other),
        }
        Ok(())
    }

    /// `kubectl patch -p PATCH [--type strategic|merge|json]`.
    pub async fn patch(&self, targets: &[Target], patch: &Value, kind: PatchType) -> CommandOutput {
        let mut output = CommandOutput::default();
        for target in targets {
            let before = rest::get(&self.client, target).await.ok().flatten();
            match rest::patch(&self.client, target, None, kind, patch, &[("fieldManager", "kubectl-patch")]).await {
                Ok(after) => {
                    let unchanged = before.as_ref().and_then(|b| b.pointer("/metadata/resourceVersion"))
                        == after.pointer("/metadata/resourceVersion");
                    let note = if unchanged { " (no change)" } else { "" };
                    output.out(format!("{} patched{note}", target.kubectl_name()));
                }
                Err(crate::Error::Kube(error)) => record_kube_error(&mut output, &error, None),
                Err(other) => output.fail_with(&other),
            }
        }
        output
    }

    /// Waits until the object is gone (kubectl's default `--wait`), at most a minute.
    pub async fn wait_gone(&self, target: &Target) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let api: kube::Api<kube::core::DynamicObject> = match &target.namespace {
            Some(ns) => kube::Api::namespaced_with(self.client.clone(), ns, &target.resource),
            None => kube::Api::all_with(self.client.clone(), &target.resource),
        };
        let condition = |object: Option<&kube::core::DynamicObject>| object.is_none();
        let _ =
            tokio::time::timeout_at(deadline, kube::runtime::wait::await_condition(api, &target.name, condition)).await;
    }
}

impl Target {
    /// kubectl's NotFound wording: `deployments.apps "web"`.
    pub fn kubectl_quoted_plural(&self) -> String {
        match self.resource.group.as_str() {
            "" => format!("{} \"{}\"", self.resource.plural, self.name),
            group => format!("{}.{group} \"{}\"", self.resource.plural, self.name),
        }
    }
}

/// `KEY=VALUE` sets, `KEY-` removes.
fn parse_pairs(pairs: &[String]) -> Result<Vec<(String, Option<String>)>> {
    pairs
        .iter()
        .map(|pair| {
            if let Some((key, value)) = pair.split_once('=') {
                Ok((key.to_string(), Some(value.to_string())))
            } else if let Some(key) = pair.strip_suffix('-') {
                Ok((key.to_string(), None))
            } else {
                Err(super::objects::usage(
                    &format!("invalid argument \"{pair}\": expected KEY=VALUE to set or KEY- to remove"),
                    &format!("参数“{pair}”无效：应为 KEY=VALUE（设置）或 KEY-（删除）"),
                ))
            }
        })
        .collect()
}

fn overwrite_refused(field: MetaField) -> gitops_lab_protocol::ErrorView {
    use gitops_lab_protocol::{ErrorView, Text};
    let (en, zh) = match field {
        MetaField::Annotations => (
            "The annotation already has another value, and kubectl does not overwrite it without --overwrite.",
            "该注解已有不同的值，没有 --overwrite 时 kubectl 不会覆盖它。",
        ),
        MetaField::Labels => (
            "The label already has another value, and kubectl does not overwrite it without --overwrite.",
            "该标签已有不同的值，没有 --overwrite 时 kubectl 不会覆盖它。",
        ),
    };
    ErrorView::new("overwrite", Text::new(en, zh)).with_hint(Text::new(
        "Add --overwrite to replace the value. This is why running an imperative script twice fails: each command assumes the state the previous run left behind.",
        "加上 --overwrite 即可替换该值。这也是命令式脚本第二次运行会失败的原因：每条命令都假设了上一次运行留下的状态。",
    ))
}

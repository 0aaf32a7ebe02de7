//! kubectl's create and replace: `create -f`, the `create deployment|namespace|configmap`
//! generators, and `replace -f` (which, like kubectl, leaves no last-applied annotation).

use super::Kubectl;
use super::manifest::Manifest;
use super::output::{CommandOutput, record_kube_error};
use super::rest::{self, Target};
use crate::error::Result;
use kube::core::ApiResource;
use serde_json::{Map, Value, json};

impl Kubectl {
    /// `kubectl create -f`: each object POSTed as written (no annotation).
    pub async fn create_from(&self, manifests: &[Manifest], extra_labels: &Map<String, Value>) -> CommandOutput {
        let mut output = CommandOutput::default();
        for manifest in manifests {
            let (target, mut object) = match self.prepare(manifest).await {
                Ok(found) => found,
                Err(error) => {
                    output.fail_with(&error);
                    continue;
                }
            };
            merge_labels(&mut object, extra_labels);
            match rest::create(
                &self.client,
                &target,
                &object,
                &[("fieldManager", "kubectl-create"), ("fieldValidation", "Strict")],
            )
            .await
            {
                Ok(_) => output.out(format!("{} created", target.kubectl_name())),
                Err(crate::Error::Kube(error)) => {
                    record_kube_error(&mut output, &error, Some(("creating", &manifest.source)))
                }
                Err(other) => output.fail_with(&other),
            }
        }
        output
    }

    /// `kubectl replace -f`: each object PUT whole, at the live resourceVersion.
    pub async fn replace_from(&self, manifests: &[Manifest]) -> CommandOutput {
        let mut output = CommandOutput::default();
        for manifest in manifests {
            if let Err(error) = self.replace_one(manifest, &mut output).await {
                output.fail_with(&error);
            }
        }
        output
    }

    async fn replace_one(&self, manifest: &Manifest, output: &mut CommandOutput) -> Result<()> {
        let (target, mut object) = self.prepare(manifest).await?;
        if let Some(live) = rest::get(&self.client, &target).await?
            && let (Some(version), Some(meta)) = (
                live.pointer("/metadata/resourceVersion").cloned(),
                object.get_mut("metadata").and_then(Value::as_object_mut),
            )
        {
            meta.entry("resourceVersion").or_insert(version);
        }
        match rest::replace(
            &self.client,
            &target,
            &object,
            &[("fieldManager", "kubectl-replace"), ("fieldValidation", "Strict")],
        )
        .await
        {
            Ok(_) => output.out(format!("{} replaced", target.kubectl_name())),
            Err(crate::Error::Kube(error)) => record_kube_error(output, &error, Some(("replacing", &manifest.source))),
            Err(other) => return Err(other),
        }
        Ok(())
    }

    /// `kubectl create deployment NAME --image=IMAGE [--replicas=N] [--port=P]`, with kubectl's object.
    pub async fn create_deployment(
        &self,
        name: &str,
        image: &str,
        replicas: i64,
        port: Option<i64>,
        namespace: Option<&str>,
        extra_labels: &Map<String, Value>,
    ) -> CommandOutput {
        let mut container = json!({"name": container_name(image), "image": image, "resources": {}});
        if let Some(port) = port {
            container["ports"] = json!([{"containerPort": port}]);
        }
        let mut object = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                "strategy": {}
            },
            "status": {}
        });
        merge_labels(&mut object, extra_labels);
        let resource = ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
        };
        let namespace = Some(namespace.unwrap_or(&self.default_namespace).to_string());
        self.create_generated(Target { resource, namespace, name: name.into() }, object, Some("deployment")).await
    }

    /// `kubectl create namespace NAME`.
    pub async fn create_namespace(&self, name: &str, extra_labels: &Map<String, Value>) -> CommandOutput {
        let mut object =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}, "status": {}});
        merge_labels(&mut object, extra_labels);
        let resource = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
        };
        self.create_generated(Target { resource, namespace: None, name: name.into() }, object, None).await
    }

    /// `kubectl create configmap NAME --from-literal=K=V --from-file=[K=]PATH` (files already read).
    pub async fn create_configmap(
        &self,
        name: &str,
        data: Vec<(String, String)>,
        namespace: Option<&str>,
        extra_labels: &Map<String, Value>,
    ) -> CommandOutput {
        let data: Map<String, Value> = data.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data});
        merge_labels(&mut object, extra_labels);
        let resource = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
        };
        let namespace = Some(namespace.unwrap_or(&self.default_namespace).to_string());
        self.create_generated(Target { resource, namespace, name: name.into() }, object, Some("configmap")).await
    }

    /// POSTs a generated object; `wrapped` is the kind kubectl names in `failed to create KIND: …`
    /// (its deployment and configmap generators wrap the server's error, its namespace one does not).
    async fn create_generated(&self, target: Target, object: Value, wrapped: Option<&str>) -> CommandOutput {
        let mut output = CommandOutput::default();
        match rest::create(
            &self.client,
            &target,
            &object,
            &[("fieldManager", "kubectl-create"), ("fieldValidation", "Strict")],
        )
        .await
        {
            Ok(_) => output.out(format!("{} created", target.kubectl_name())),
            Err(crate::Error::Kube(kube::Error::Api(status))) if wrapped.is_some() => {
                let line = format!("error: failed to create {}: {}", wrapped.unwrap_or_default(), status.message);
                output.fail(line, crate::cluster::diagnose::explain_kube_error(&kube::Error::Api(status)));
            }
            Err(crate::Error::Kube(error)) => record_kube_error(&mut output, &error, None),
            Err(other) => output.fail_with(&other),
        }
        output
    }
}

/// kubectl's container name for an image: the last path segment without tag or digest.
pub fn container_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let name = last.split(['@', ':']).next().unwrap_or(last);
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' }).collect()
}

/// Adds labels to an object's metadata.
pub fn merge_labels(object: &mut Value, labels: &Map<String, Value>) {
    if labels.is_empty() {
        return;
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let entry = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            for (key, value) in labels {
                map.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_is_named_after_the_image_without_registry_or_tag() {
        assert_eq!(container_name("nginx:latest"), "nginx");
        assert_eq!(container_name("gitops-lab/sample-app:v1"), "sample-app");
        assert_eq!(container_name("registry.io:5000/team/app@sha256:abc"), "app");
    }
}

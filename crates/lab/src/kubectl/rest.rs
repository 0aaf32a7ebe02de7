//! Plain REST calls on one object, with the exact query parameters and content types kubectl uses
//! (kube-rs' typed parameters lack some, such as `fieldValidation` on create).

use crate::error::Result;
use gitops_lab_protocol::ObjectRef;
use kube::core::ApiResource;
use serde_json::Value;

/// One object's place in the API.
#[derive(Clone, Debug)]
pub struct Target {
    /// The resource serving it.
    pub resource: ApiResource,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

/// The body type of a PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
}

impl PatchType {
    fn content_type(self) -> &'static str {
        match self {
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        }
    }
}

impl Target {
    /// The object as the protocol names it.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.resource.api_version.clone(),
            kind: self.resource.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// kubectl's name for it: `deployment.apps/web`.
    pub fn kubectl_name(&self) -> String {
        self.object_ref().kubectl_name()
    }

    /// kubectl's quoted form for delete: `deployment.apps "web"`.
    pub fn kubectl_quoted(&self) -> String {
        let kind = self.resource.kind.to_ascii_lowercase();
        match self.resource.group.as_str() {
            "" => format!("{kind} \"{}\"", self.name),
            group => format!("{kind}.{group} \"{}\"", self.name),
        }
    }

    /// The collection's path: `/apis/apps/v1/namespaces/default/deployments`.
    pub fn collection_path(&self) -> String {
        let base = if self.resource.group.is_empty() {
            format!("/api/{}", self.resource.version)
        } else {
            format!("/apis/{}/{}", self.resource.group, self.resource.version)
        };
        match &self.namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.resource.plural),
            None => format!("{base}/{}", self.resource.plural),
        }
    }

    /// The object's path.
    pub fn item_path(&self) -> String {
        format!("{}/{}", self.collection_path(), self.name)
    }
}

fn with_query(path: String, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path;
    }
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (key, value) in query {
        encoded.append_pair(key, value);
    }
    format!("{path}?{}", encoded.finish())
}

async fn send(client: &kube::Client, method: &str, uri: String, content_type: &str, body: Vec<u8>) -> Result<Value> {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(kube::Error::HttpError)?;
    Ok(client.request::<Value>(request).await?)
}

/// GET; `None` when the object does not exist.
pub async fn get(client: &kube::Client, target: &Target) -> Result<Option<Value>> {
    match send(client, "GET", target.item_path(), "application/json", Vec::new()).await {
        Ok(value) => Ok(Some(value)),
        Err(crate::Error::Kube(kube::Error::Api(status))) if status.code == 404 => Ok(None),
        Err(other) => Err(other),
    }
}

/// POST to the collection.
pub async fn create(client: &kube::Client, target: &Target, body: &Value, query: &[(&str, &str)]) -> Result<Value> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    send(client, "POST", with_query(target.collection_path(), query), "application/json", bytes).await
}

/// PUT of the whole object.
pub async fn replace(client: &kube::Client, target: &Target, body: &Value, query: &[(&str, &str)]) -> Result<Value> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    send(client, "PUT", with_query(target.item_path(), query), "application/json", bytes).await
}

/// PATCH of the object, or of a subresource such as `scale`.
pub async fn patch(
    client: &kube::Client,
    target: &Target,
    subresource: Option<&str>,
    kind: PatchType,
    body: &Value,
    query: &[(&str, &str)],
) -> Result<Value> {
    let path = match subresource {
        Some(sub) => format!("{}/{sub}", target.item_path()),
        None => target.item_path(),
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    send(client, "PATCH", with_query(path, query), kind.content_type(), bytes).await
}

/// DELETE with a propagation policy (`Background`, `Foreground`, `Orphan`).
pub async fn delete(client: &kube::Client, target: &Target, propagation: &str) -> Result<Value> {
    let body = serde_json::json!({"propagationPolicy": propagation});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    send(client, "DELETE", target.item_path(), "application/json", bytes).await
}

/// GET of a collection, filtered by a label selector.
pub async fn list(client: &kube::Client, target: &Target, label_selector: Option<&str>) -> Result<Vec<Value>> {
    let query: Vec<(&str, &str)> = label_selector.map(|s| vec![("labelSelector", s)]).unwrap_or_default();
    let list =
        send(client, "GET", with_query(target.collection_path(), &query), "application/json", Vec::new()).await?;
    Ok(list.get("items").and_then(Value::as_array).cloned().unwrap_or_default())
}

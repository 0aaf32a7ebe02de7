//! `kubectl` inside a pod: the shell's [`ClusterClient`], sending real HTTP requests through the
//! sandbox's API router with the ServiceAccount token mounted in the container, so that
//! authentication and RBAC apply exactly as to any other client. The composition root hands the
//! node an [`InPodClients`] factory, so the node never builds the router itself.

use crate::Sandbox;
use crate::api::PodStreams;
use axum::body::Body;
use axum::http::{Method, Request, header};
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{Registry, ResourceType};
use gitops_sandbox_node::ClusterClients;
use gitops_sandbox_shell::vfs::Filesystem;
use gitops_sandbox_shell::{ClusterClient, KubectlFuture};
use serde_json::{Value, json};
use std::sync::{Arc, Weak};
use tower::ServiceExt;

/// Where the kubelet mounts the ServiceAccount's credentials.
const CREDENTIALS: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The annotation client-side apply keeps the applied configuration in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The biggest response body read back.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Makes the in-pod kubectl of each container: requests go through the API router of `sandbox`
/// with the node's pod streams (held weakly: the node owns this factory).
pub struct InPodClients {
    sandbox: Arc<Sandbox>,
    pods: Weak<dyn PodStreams>,
}

impl InPodClients {
    /// A factory for clients of `sandbox` whose router serves pod streams from `pods`.
    pub fn new(sandbox: Arc<Sandbox>, pods: Weak<dyn PodStreams>) -> Self {
        Self { sandbox, pods }
    }
}

impl ClusterClients for InPodClients {
    fn client(&self, fs: Filesystem) -> Arc<dyn ClusterClient> {
        Arc::new(InPodKubectl { sandbox: self.sandbox.clone(), pods: self.pods.clone(), fs })
    }
}

/// The in-pod kubectl of one container.
struct InPodKubectl {
    sandbox: Arc<Sandbox>,
    pods: Weak<dyn PodStreams>,
    fs: Filesystem,
}

/// kubectl's result: exit code, stdout, stderr.
type Outcome = (i32, String, String);

impl ClusterClient for InPodKubectl {
    fn kubectl(&self, args: Vec<String>, files: Vec<(String, Vec<u8>)>) -> KubectlFuture<'_> {
        Box::pin(async move {
            // The credentials are read per call, as in-cluster kubectl reads them.
            let Some(pods) = self.pods.upgrade() else {
                return (1, String::new(), "error: the cluster is shutting down\n".into());
            };
            // Without mounted credentials, kubectl in a pod has no config and tries localhost:8080.
            let Ok(token) = self.fs.read(&format!("{CREDENTIALS}/token")) else {
                return (
                    1,
                    String::new(),
                    "The connection to the server localhost:8080 was refused - did you specify \
                    the right host or port?\n"
                        .into(),
                );
            };
            let namespace = self
                .fs
                .read(&format!("{CREDENTIALS}/namespace"))
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_else(|_| "default".into());
            let client = Client {
                router: crate::api::router(self.sandbox.clone(), pods),
                token: String::from_utf8_lossy(&token).trim().to_string(),
            };
            run(&client, &namespace, args, files).await
        })
    }
}

/// Requests through the router, as the pod's ServiceAccount.
struct Client {
    router: axum::Router,
    token: String,
}

impl Client {
    async fn send(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>, accept: &str) -> (u16, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::ACCEPT, accept);
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let Ok(request) = request.body(body) else { return (400, json!({"message": "bad request"})) };
        let Ok(response) = self.router.clone().oneshot(request).await;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(&bytes)})))
    }
}

/// The flags kubectl takes that the in-pod version understands (others are ignored).
#[derive(Debug, Default, PartialEq)]
struct Flags {
    namespace: Option<String>,
    output: Option<String>,
    selector: Option<String>,
    all_namespaces: bool,
    positional: Vec<String>,
}

fn parse_flags(args: &[String]) -> Flags {
    let mut flags = Flags::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with('-') => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| iter.next().cloned());
        match name {
            "-n" | "--namespace" => flags.namespace = value(),
            "-o" | "--output" => flags.output = value(),
            "-l" | "--selector" => flags.selector = value(),
            "-f" | "--filename" | "--field-manager" | "--dry-run" | "-c" | "--container" => {
                value();
            }
            "-A" | "--all-namespaces" => flags.all_namespaces = true,
            n if n.starts_with('-') => {}
            _ => flags.positional.push(arg.clone()),
        }
    }
    flags
}

/// Runs one kubectl command line.
async fn run(client: &Client, pod_namespace: &str, args: Vec<String>, files: Vec<(String, Vec<u8>)>) -> Outcome {
    let flags = parse_flags(&args);
    let namespace = flags.namespace.clone().unwrap_or_else(|| pod_namespace.to_string());
    let Some((verb, rest)) = flags.positional.split_first() else {
        return (1, String::new(), "error: the sandbox's in-pod kubectl supports: apply, create, get, delete\n".into());
    };
    match verb.as_str() {
        "apply" | "create" | "delete" if !files.is_empty() => with_files(client, verb, &namespace, files).await,
        "get" => get(client, &namespace, &flags, rest).await,
        "delete" => delete_named(client, &namespace, rest).await,
        "apply" | "create" => (1, String::new(), "error: must specify one of -f and -k\n".into()),
        other => (
            1,
            String::new(),
            format!(
                "error: unknown command \"{other}\" for \"kubectl\" in the sandbox (supported: apply, create, get, \
                    delete)\n"
            ),
        ),
    }
}

/// `kind.group` as kubectl names a type in its messages (`deployment.apps`, `configmap`).
fn type_name(rt: &ResourceType) -> String {
    let kind = rt.kind.to_lowercase();
    if rt.group.is_empty() { kind } else { format!("{kind}.{}", rt.group) }
}

fn collection_path(rt: &ResourceType, namespace: Option<&str>) -> String {
    let base =
        if rt.group.is_empty() { format!("/api/{}", rt.version) } else { format!("/apis/{}/{}", rt.group, rt.version) };
    match (rt.namespaced, namespace) {
        (true, Some(ns)) => format!("{base}/namespaces/{ns}/{}", rt.plural),
        _ => format!("{base}/{}", rt.plural),
    }
}

/// `Error from server (Reason): message` for a Status body.
fn server_error(status: &Value, context: &str) -> String {
    let reason = status["reason"].as_str().filter(|r| !r.is_empty()).unwrap_or("InternalError");
    format!("Error from server ({reason}): {context}{}\n", status["message"].as_str().unwrap_or("unknown error"))
}

/// The objects in manifest files: YAML documents, `List`s flattened.
fn documents(files: &[(String, Vec<u8>)]) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        let text = String::from_utf8_lossy(bytes);
        for document in serde_norway::Deserializer::from_str(&text) {
            let value: Value =
                serde::Deserialize::deserialize(document).map_err(|e| format!("error: error parsing {name}: {e}\n"))?;
            match value {
                Value::Null => {}
                Value::Object(ref o) if o.get("kind").and_then(Value::as_str) == Some("List") => {
                    for item in o.get("items").and_then(Value::as_array).into_iter().flatten() {
                        out.push((name.clone(), item.clone()));
                    }
                }
                other => out.push((name.clone(), other)),
            }
        }
    }
    Ok(out)
}

async fn with_files(client: &Client, verb: &str, namespace: &str, files: Vec<(String, Vec<u8>)>) -> Outcome {
    let objects = match documents(&files) {
        Ok(objects) => objects,
        Err(e) => return (1, String::new(), e),
    };
    let (mut stdout, mut stderr, mut code) = (String::new(), String::new(), 0);
    for (file, object) in objects {
        let (api_version, kind) =
            (object["apiVersion"].as_str().unwrap_or_default(), object["kind"].as_str().unwrap_or_default());
        let name = object::name(&object).to_string();
        let Some(rt) = Registry::builtin().by_kind(api_version, kind) else {
            stderr.push_str(&format!(
                "error: resource mapping not found for name: \"{name}\" namespace: \"\" from \"{file}\": no matches \
                    for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first\n"
            ));
            code = 1;
            continue;
        };
        let ns = object["metadata"]["namespace"].as_str().unwrap_or(namespace).to_string();
        let result = match verb {
            "apply" => apply_one(client, rt, &ns, &name, &file, object).await,
            "create" => create_one(client, rt, &ns, &file, object).await,
            _ => delete_one(client, rt, &ns, &name).await,
        };
        match result {
            Ok(line) => stdout.push_str(&line),
            Err(line) => {
                stderr.push_str(&line);
                code = 1;
            }
        }
    }
    (code, stdout, stderr)
}

async fn create_one(
    client: &Client,
    rt: &ResourceType,
    namespace: &str,
    file: &str,
    object: Value,
) -> Result<String, String> {
    let body = serde_json::to_vec(&object).unwrap_or_default();
    let (status, reply) = client
        .send(Method::POST, &collection_path(rt, Some(namespace)), Some(("application/json", body)), "application/json")
        .await;
    match status {
        200..=299 => Ok(format!("{}/{} created\n", type_name(rt), object::name(&reply))),
        _ => Err(server_error(&reply, &format!("error when creating \"{file}\": "))),
    }
}

/// Client-side apply: create with the last-applied annotation, or patch with the three-way diff.
async fn apply_one(
    client: &Client,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    file: &str,
    mut object: Value,
) -> Result<String, String> {
    let shown = format!("{}/{name}", type_name(rt));
    let mut applied = object.clone();
    if let Some(annotations) = applied["metadata"]["annotations"].as_object_mut() {
        annotations.remove(LAST_APPLIED);
    }
    let last_applied = format!("{}\n", serde_json::to_string(&applied).unwrap_or_default());
    object["metadata"]["annotations"][LAST_APPLIED] = json!(last_applied);
    let path = format!("{}/{name}", collection_path(rt, Some(namespace)));
    let (status, live) = client.send(Method::GET, &path, None, "application/json").await;
    match status {
        404 => create_one(client, rt, namespace, file, object).await.map(|_| format!("{shown} created\n")),
        200 => {
            let original: Option<Value> =
                live["metadata"]["annotations"][LAST_APPLIED].as_str().and_then(|t| serde_json::from_str(t).ok());
            let schema = strategic_merge::MergeSchema::for_kind(&rt.api_version(), &rt.kind);
            let patch = strategic_merge::create_three_way_patch(original.as_ref(), &object, &live, &schema)
                .map_err(|e| format!("error: {e}\n"))?;
            if patch.as_object().is_some_and(|p| p.is_empty()) {
                return Ok(format!("{shown} unchanged\n"));
            }
            let body = serde_json::to_vec(&patch).unwrap_or_default();
            let (status, reply) = client
                .send(Method::PATCH, &path, Some(("application/strategic-merge-patch+json", body)), "application/json")
                .await;
            match status {
                200..=299 => Ok(format!("{shown} configured\n")),
                _ => Err(server_error(
                    &reply,
                    &format!(
                        "error when applying patch:\nto:\nResource: \"{}\", GroupVersionKind: \"{}\"\nName: \
                            \"{name}\", Namespace: \"{namespace}\"\nfor: \"{file}\": ",
                        resource_id(rt),
                        gvk(rt)
                    ),
                )),
            }
        }
        _ => Err(server_error(
            &live,
            &format!(
                "error when retrieving current configuration of:\nResource: \"{}\", GroupVersionKind: \"{}\"\nName: \
                    \"{name}\", Namespace: \"{namespace}\"\nfrom server for: \"{file}\": ",
                resource_id(rt),
                gvk(rt)
            ),
        )),
    }
}

fn resource_id(rt: &ResourceType) -> String {
    format!("{}, Resource={}", rt.api_version(), rt.plural)
}

fn gvk(rt: &ResourceType) -> String {
    format!("{}, Kind={}", rt.api_version(), rt.kind)
}

async fn delete_one(client: &Client, rt: &ResourceType, namespace: &str, name: &str) -> Result<String, String> {
    let path = format!("{}/{name}", collection_path(rt, Some(namespace)));
    let (status, reply) = client.send(Method::DELETE, &path, None, "application/json").await;
    match status {
        200..=299 => Ok(format!("{} \"{name}\" deleted\n", type_name(rt))),
        _ => Err(server_error(&reply, "")),
    }
}

/// A type as typed on the command line: plural, singular, short name or kind, optionally `.group`.
fn resolve_type(text: &str) -> Option<&'static ResourceType> {
    let text = text.to_lowercase();
    let (name, group) = match text.split_once('.') {
        Some((n, g)) => (n.to_string(), Some(g.to_string())),
        None => (text.clone(), None),
    };
    Registry::builtin().types().iter().find(|rt| {
        let names = rt.plural == name
            || rt.singular == name
            || rt.kind.to_lowercase() == name
            || rt.short_names.contains(&name);
        names && group.as_ref().is_none_or(|g| rt.group == *g || rt.group.starts_with(&format!("{g}.")))
    })
}

/// `TYPE NAME…` or `TYPE/NAME…` into (type, names).
fn targets(rest: &[String]) -> Result<(&'static ResourceType, Vec<String>), String> {
    let first = rest.first().ok_or("error: you must specify the type of resource to get\n")?;
    let (type_text, mut names) = match first.split_once('/') {
        Some((t, n)) => (t.to_string(), vec![n.to_string()]),
        None => (first.clone(), Vec::new()),
    };
    names.extend(rest[1..].iter().map(|n| n.rsplit('/').next().unwrap_or(n).to_string()));
    let rt = resolve_type(&type_text)
        .ok_or_else(|| format!("error: the server doesn't have a resource type \"{type_text}\"\n"))?;
    Ok((rt, names))
}

async fn delete_named(client: &Client, namespace: &str, rest: &[String]) -> Outcome {
    let (rt, names) = match targets(rest) {
        Ok(t) => t,
        Err(e) => return (1, String::new(), e),
    };
    let (mut stdout, mut stderr, mut code) = (String::new(), String::new(), 0);
    for name in names {
        match delete_one(client, rt, namespace, &name).await {
            Ok(line) => stdout.push_str(&line),
            Err(line) => {
                stderr.push_str(&line);
                code = 1;
            }
        }
    }
    (code, stdout, stderr)
}

async fn get(client: &Client, namespace: &str, flags: &Flags, rest: &[String]) -> Outcome {
    let (rt, names) = match targets(rest) {
        Ok(t) => t,
        Err(e) => return (1, String::new(), e),
    };
    let ns = (!flags.all_namespaces).then_some(namespace);
    let output = flags.output.as_deref().unwrap_or("");
    let accept = if output.is_empty() || output == "wide" {
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    } else {
        "application/json"
    };
    let base = collection_path(rt, ns);
    let path = match (names.first(), &flags.selector) {
        (Some(name), _) => format!("{base}/{name}"),
        (None, Some(selector)) => {
            format!("{base}?labelSelector={}", selector.replace(' ', "%20").replace('=', "%3D").replace(',', "%2C"))
        }
        (None, None) => base,
    };
    let (status, reply) = client.send(Method::GET, &path, None, accept).await;
    if !(200..300).contains(&status) {
        return (1, String::new(), server_error(&reply, ""));
    }
    match output {
        "json" => (0, format!("{}\n", serde_json::to_string_pretty(&reply).unwrap_or_default()), String::new()),
        "yaml" => (0, serde_norway::to_string(&reply).unwrap_or_default(), String::new()),
        "name" => {
            let items = reply["items"].as_array().cloned().unwrap_or_else(|| vec![reply.clone()]);
            let lines: String = items.iter().map(|o| format!("{}/{}\n", type_name(rt), object::name(o))).collect();
            (0, lines, String::new())
        }
        _ => table(&reply, ns, flags.all_namespaces),
    }
}

/// Prints a server-side Table as kubectl does: upper-case headers, columns padded by three spaces.
fn table(reply: &Value, namespace: Option<&str>, all: bool) -> Outcome {
    let rows = reply["rows"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        let message = match (all, namespace) {
            (false, Some(ns)) => format!("No resources found in {ns} namespace.\n"),
            _ => "No resources found\n".into(),
        };
        return (0, String::new(), message);
    }
    let columns: Vec<(usize, String)> = reply["columnDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| c["priority"].as_i64().unwrap_or(0) == 0)
        .map(|(i, c)| (i, c["name"].as_str().unwrap_or_default().to_uppercase()))
        .collect();
    let mut lines: Vec<Vec<String>> = vec![columns.iter().map(|(_, n)| n.clone()).collect()];
    for row in &rows {
        let cells = row["cells"].as_array().cloned().unwrap_or_default();
        lines.push(columns.iter().map(|(i, _)| cell(cells.get(*i))).collect());
    }
    if all {
        lines[0].insert(0, "NAMESPACE".into());
        for (line, row) in lines[1..].iter_mut().zip(&rows) {
            line.insert(0, row["object"]["metadata"]["namespace"].as_str().unwrap_or_default().to_string());
        }
    }
    let widths: Vec<usize> =
        (0..lines[0].len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let text = lines
        .iter()
        .map(|line| {
            let padded: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("{}\n", padded.join("   ").trim_end())
        })
        .collect();
    (0, text, String::new())
}

fn cell(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "<none>".into(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_take_values_glued_or_apart() {
        let f = parse_flags(&strings(&["get", "deploy", "-n", "team", "--output=json", "-lapp=web", "-A"]));
        assert_eq!(f.positional, ["get", "deploy"]);
        assert_eq!((f.namespace.as_deref(), f.output.as_deref()), (Some("team"), Some("json")));
        assert!(f.all_namespaces);
    }

    #[test]
    fn types_resolve_by_any_name_kubectl_accepts() {
        for text in ["deployments", "deployment", "deploy", "Deployment", "deployments.apps"] {
            assert_eq!(resolve_type(text).map(|rt| rt.kind.as_str()), Some("Deployment"), "{text}");
        }
        let (rt, names) = targets(&strings(&["cm/web", "other"])).unwrap();
        assert_eq!((rt.kind.as_str(), names), ("ConfigMap", strings(&["web", "other"])));
        assert!(targets(&strings(&["widgets"])).unwrap_err().contains("doesn't have a resource type \"widgets\""));
    }

    #[test]
    fn manifests_split_into_documents_and_lists() {
        let files = vec![(
            "a.yaml".to_string(),
            b"kind: ConfigMap\napiVersion: v1\n---\nkind: List\nitems:\n- kind: Secret\n- kind: Pod\n".to_vec(),
        )];
        let kinds: Vec<String> =
            documents(&files).unwrap().into_iter().map(|(_, o)| o["kind"].as_str().unwrap().to_string()).collect();
        assert_eq!(kinds, ["ConfigMap", "Secret", "Pod"]);
    }

    #[test]
    fn tables_print_like_kubectl() {
        let reply = json!({"columnDefinitions": [{"name": "Name", "priority": 0}, {"name": "Data", "priority": 0},
            {"name": "Extra", "priority": 1}],
            "rows": [{"cells": ["kube-root-ca.crt", 1, "x"]}, {"cells": ["web", 2, "y"]}]});
        let (_, out, _) = table(&reply, Some("default"), false);
        assert_eq!(out, "NAME               DATA\nkube-root-ca.crt   1\nweb                2\n");
        let (_, _, err) = table(&json!({"rows": []}), Some("team"), false);
        assert_eq!(err, "No resources found in team namespace.\n");
    }

    #[test]
    fn server_errors_read_like_kubectl() {
        let status = json!({"reason": "Forbidden", "message": "deployments.apps is forbidden: nope"});
        assert_eq!(server_error(&status, ""), "Error from server (Forbidden): deployments.apps is forbidden: nope\n");
    }
}

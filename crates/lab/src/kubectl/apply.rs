//! Client-side apply, identical to `kubectl apply`: the last-applied annotation, the three-way
//! strategic merge patch (a JSON merge patch for kinds without merge metadata), and kubectl's
//! `created` / `configured` / `unchanged`.

use super::Kubectl;
use super::last_applied::{LAST_APPLIED, original_configuration, with_annotation};
use super::manifest::Manifest;
use super::output::{CommandOutput, kubectl_error_line};
use super::rest::{self, PatchType, Target};
use crate::cluster::diagnose::explain_kube_error;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ObjectRef, Text};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use strategic_merge::MergeSchema;

/// The field manager kubectl's client-side apply sends.
pub const FIELD_MANAGER: &str = "kubectl-client-side-apply";
/// How often a patch that conflicts with a concurrent write is retried (kubectl's own limit).
const MAX_PATCH_RETRIES: usize = 5;

/// What apply did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    /// It did not exist.
    Created,
    /// It was patched.
    Configured,
    /// Nothing to send.
    Unchanged,
}

impl ApplyAction {
    /// kubectl's word.
    pub fn word(self) -> &'static str {
        match self {
            ApplyAction::Created => "created",
            ApplyAction::Configured => "configured",
            ApplyAction::Unchanged => "unchanged",
        }
    }
}

/// The result of applying one object.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The object.
    pub object: ObjectRef,
    /// What happened.
    pub action: ApplyAction,
    /// The warning kubectl prints first when the live object had no last-applied annotation.
    pub warning: Option<String>,
    /// The object as the server answered (or as it was, when unchanged).
    pub live: Value,
}

impl Applied {
    /// kubectl's line: `deployment.apps/web configured`.
    pub fn line(&self) -> String {
        format!("{} {}", self.object.kubectl_name(), self.action.word())
    }
}

/// Choices beyond kubectl's defaults.
#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// Labels the lab adds to the object but keeps out of the last-applied configuration (so that
    /// the learner's kubectl applying the same file still prints `unchanged`).
    pub extra_labels: BTreeMap<String, String>,
    /// Ask the server to check without storing (`--dry-run=server`).
    pub dry_run: bool,
}

/// The three inputs of the three-way merge and the patch kubectl computes from them.
#[derive(Clone, Debug)]
pub struct PatchPlan {
    /// The last-applied configuration, if the live object has one.
    pub original: Option<Value>,
    /// The file's object with the new annotation (what kubectl calls `modified`).
    pub modified: Value,
    /// The live object.
    pub current: Value,
    /// The patch; `{}` means unchanged.
    pub patch: Value,
    /// Its type: strategic for kinds with merge metadata, JSON merge patch otherwise.
    pub patch_type: PatchType,
}

/// Computes what apply would send for `object` (namespace already defaulted) against `current`.
pub fn plan_patch(object: &Value, current: &Value) -> Result<PatchPlan> {
    let modified = with_annotation(object);
    let original = match original_configuration(current) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(error)) => {
            return Err(Error::explained(
                "bad-annotation",
                Text::new(
                    format!("The live object's {LAST_APPLIED} annotation is not valid JSON ({error})."),
                    format!("在线对象的 {LAST_APPLIED} 注解不是合法的 JSON（{error}）。"),
                ),
                Some(Text::new(
                    "Remove the annotation with `kubectl annotate … kubectl.kubernetes.io/last-applied-configuration-`, then apply again.",
                    "请用 `kubectl annotate … kubectl.kubernetes.io/last-applied-configuration-` 删除该注解，然后重新 apply。",
                )),
            ));
        }
    };
    let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let schema = MergeSchema::for_kind(api_version, kind);
    let patch_type = if schema.has_data() { PatchType::Strategic } else { PatchType::Merge };
    let patch = strategic_merge::create_three_way_patch(original.as_ref(), &modified, current, &schema)
        .map_err(|error| Error::explained("patch", Text::same(error.to_string()), None))?;
    Ok(PatchPlan { original, modified, current: current.clone(), patch, patch_type })
}

impl Kubectl {
    /// `kubectl apply -f` of every object of a file, in file order: each line as kubectl prints it;
    /// an object that fails does not stop the others (as kubectl), and is reported.
    pub async fn apply_all(&self, manifests: &[Manifest], options: &ApplyOptions) -> (Vec<Applied>, CommandOutput) {
        let mut output = CommandOutput::default();
        let mut applied = Vec::new();
        for manifest in manifests {
            match self.apply(manifest, options).await {
                Ok(done) => {
                    if let Some(warning) = &done.warning {
                        output.warn(warning);
                    }
                    output.out(if options.dry_run { format!("{} (server dry run)", done.line()) } else { done.line() });
                    applied.push(done);
                }
                Err(error) => output.fail_with(&error),
            }
        }
        (applied, output)
    }

    /// Applies one object.
    pub async fn apply(&self, manifest: &Manifest, options: &ApplyOptions) -> Result<Applied> {
        let (target, object) = self.prepare(manifest).await?;
        let dry_run: &[(&str, &str)] = if options.dry_run { &[("dryRun", "All")] } else { &[] };
        let mut attempt = 0;
        loop {
            let Some(current) = rest::get(&self.client, &target).await? else {
                return self.create(manifest, &target, &object, options, dry_run).await;
            };
            let plan = plan_patch(&object, &current)?;
            let warning = plan.original.is_none().then(|| missing_annotation_warning(&target));
            let mut patch = plan.patch;
            add_extra_labels(&mut patch, &current, &options.extra_labels);
            if patch.as_object().is_some_and(Map::is_empty) {
                return Ok(Applied {
                    object: target.object_ref(),
                    action: ApplyAction::Unchanged,
                    warning,
                    live: current,
                });
            }
            let mut query = vec![("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict")];
            query.extend_from_slice(dry_run);
            match rest::patch(&self.client, &target, None, plan.patch_type, &patch, &query).await {
                Ok(live) => {
                    return Ok(Applied { object: target.object_ref(), action: ApplyAction::Configured, warning, live });
                }
                Err(Error::Kube(kube::Error::Api(status))) if status.code == 409 && attempt < MAX_PATCH_RETRIES => {
                    attempt += 1;
                }
                Err(Error::Kube(error)) => return Err(patch_failed(&error, &patch, &target, &manifest.source)),
                Err(other) => return Err(other),
            }
        }
    }

    async fn create(
        &self,
        manifest: &Manifest,
        target: &Target,
        object: &Value,
        options: &ApplyOptions,
        dry_run: &[(&str, &str)],
    ) -> Result<Applied> {
        let mut body = with_annotation(object);
        add_labels(&mut body, &options.extra_labels);
        let mut query = vec![("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict")];
        query.extend_from_slice(dry_run);
        match rest::create(&self.client, target, &body, &query).await {
            Ok(live) => Ok(Applied { object: target.object_ref(), action: ApplyAction::Created, warning: None, live }),
            Err(Error::Kube(error)) => Err(request_failed(&error, "creating", &manifest.source)),
            Err(other) => Err(other),
        }
    }

    /// Resolves a manifest's resource and defaults its namespace as kubectl does.
    pub async fn prepare(&self, manifest: &Manifest) -> Result<(Target, Value)> {
        let resolved = self
            .resolver
            .resolve(&self.client, manifest.api_version(), manifest.kind(), manifest.name(), &manifest.source)
            .await?;
        let mut object = manifest.object.clone();
        let namespace = if resolved.namespaced {
            let ns = manifest.namespace().unwrap_or(&self.default_namespace).to_string();
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("namespace".into(), Value::String(ns.clone()));
            }
            Some(ns)
        } else {
            None
        };
        let target = Target { resource: resolved.resource, namespace, name: manifest.name().to_string() };
        Ok((target, object))
    }
}

/// kubectl's warning when apply meets an object that was created without apply.
fn missing_annotation_warning(target: &Target) -> String {
    format!(
        "Warning: resource {}/{} is missing the {LAST_APPLIED} annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.",
        target.resource.plural, target.name
    )
}

fn add_labels(body: &mut Value, labels: &BTreeMap<String, String>) {
    if labels.is_empty() {
        return;
    }
    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        let entry = metadata.entry("labels").or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            for (key, value) in labels {
                map.insert(key.clone(), Value::String(value.clone()));
            }
        }
    }
}

/// Adds the lab's labels to a patch when the live object lacks them.
fn add_extra_labels(patch: &mut Value, current: &Value, labels: &BTreeMap<String, String>) {
    let live = current.pointer("/metadata/labels").and_then(Value::as_object);
    let missing: BTreeMap<String, String> = labels
        .iter()
        .filter(|(k, v)| live.and_then(|l| l.get(*k)).and_then(Value::as_str) != Some(v.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if missing.is_empty() {
        return;
    }
    if let Some(map) = patch.as_object_mut() {
        let metadata = map.entry("metadata").or_insert_with(|| json!({}));
        let mut wrapper = json!({"metadata": metadata.take()});
        add_labels(&mut wrapper, &missing);
        *metadata = wrapper["metadata"].take();
    }
}

/// A failed request with kubectl's wording (`Error from server (X): error when creating "f": …`).
pub fn request_failed(error: &kube::Error, verb: &str, source: &str) -> Error {
    let mut view = explain_kube_error(error);
    view.detail = Some(kubectl_error_line(error, Some((verb, source))));
    Error::from(view)
}

fn patch_failed(error: &kube::Error, patch: &Value, target: &Target, source: &str) -> Error {
    let mut view = explain_kube_error(error);
    let resource = &target.resource;
    let gv = resource.api_version.clone();
    let context = format!(
        "applying patch:\n{}\nto:\nResource: \"{gv}, Resource={}\", GroupVersionKind: \"{gv}, Kind={}\"\nName: \"{}\", Namespace: \"{}\"\nfor:",
        super::last_applied::go_json(patch),
        resource.plural,
        resource.kind,
        target.name,
        target.namespace.clone().unwrap_or_default()
    );
    view.detail = Some(kubectl_error_line(error, Some((&context, source))));
    Error::from(view)
}

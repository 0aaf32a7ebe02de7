//! The diff's only I/O: for each object of a file, the live object and what the server would make
//! of apply's request (a server-side dry run, as `kubectl diff` asks for), then the pure parts.

use super::explain::{ThreeWay, explain, normalize};
use crate::error::Result;
use crate::kubectl::apply::{FIELD_MANAGER, plan_patch};
use crate::kubectl::last_applied::with_annotation;
use crate::kubectl::rest::{self, Target};
use crate::kubectl::{Kubectl, Manifest};
use gitops_lab_protocol::{DiffView, ObjectDiff, ObjectDiffState, ObjectRef, Text};
use serde_json::{Map, Value};
use similar::TextDiff;
use strategic_merge::MergeSchema;

const DRY_RUN: &[(&str, &str)] = &[("dryRun", "All"), ("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict")];

/// The diff of every object of a file, in file order; an object that cannot be compared says why
/// without hiding the others.
pub async fn diff_manifests(kubectl: &Kubectl, source: &str, manifests: &[Manifest]) -> DiffView {
    let mut objects = Vec::new();
    for manifest in manifests {
        let object = match object_diff(kubectl, manifest).await {
            Ok(diff) => diff,
            Err(error) => ObjectDiff {
                object: ObjectRef::new(manifest.api_version(), manifest.kind(), manifest.namespace(), manifest.name()),
                state: ObjectDiffState::Error,
                live_yaml: None,
                merged_yaml: String::new(),
                unified: String::new(),
                last_applied_yaml: None,
                file_yaml: yaml(&manifest.object),
                patch: None,
                fields: Vec::new(),
                note: None,
                error: Some(error.view()),
            },
        };
        objects.push(object);
    }
    DiffView { source: source.to_string(), objects }
}

/// Like `kubectl diff`, tries again when the object changed between the read and the dry run (a
/// controller updating its status is enough). Unlike kubectl it waits a little more before each new
/// try: a Deployment whose pods are still starting updates its status many times in a row, and on
/// a busy machine five immediate tries can all land between two of those updates.
async fn object_diff(kubectl: &Kubectl, manifest: &Manifest) -> Result<ObjectDiff> {
    const TRIES: u64 = 8;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match object_diff_once(kubectl, manifest).await {
            Err(crate::Error::Kube(kube::Error::Api(status))) if status.code == 409 && attempt < TRIES => {
                tokio::time::sleep(std::time::Duration::from_millis(25 * attempt)).await;
            }
            other => return other,
        }
    }
}

async fn object_diff_once(kubectl: &Kubectl, manifest: &Manifest) -> Result<ObjectDiff> {
    let (target, object) = kubectl.prepare(manifest).await?;
    let client = kubectl.client();
    let schema = MergeSchema::for_kind(manifest.api_version(), manifest.kind());
    let Some(live) = rest::get(client, &target).await? else {
        let merged = rest::create(client, &target, &with_annotation(&object), DRY_RUN).await?;
        let empty = Value::Object(Map::new());
        let fields = explain(&ThreeWay { last_applied: None, live: &empty, file: &object, patch: &object, schema });
        return Ok(view(&target, ObjectDiffState::New, None, &merged, None, &object, None, fields, None));
    };
    let plan = plan_patch(&object, &live)?;
    let unchanged = plan.patch.as_object().is_some_and(Map::is_empty);
    let merged = if unchanged {
        live.clone()
    } else {
        let mut patch = plan.patch.clone();
        // kubectl diff sends the live resourceVersion as a precondition.
        if let (Some(map), Some(version)) = (patch.as_object_mut(), live.pointer("/metadata/resourceVersion")) {
            let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("resourceVersion".into(), version.clone());
            }
        }
        rest::patch(client, &target, None, plan.patch_type, &patch, DRY_RUN).await?
    };
    let fields = explain(&ThreeWay {
        last_applied: plan.original.as_ref(),
        live: &live,
        file: &object,
        patch: &plan.patch,
        schema,
    });
    let note = plan.original.is_none().then(no_annotation_note);
    let state = if unchanged { ObjectDiffState::Unchanged } else { ObjectDiffState::Changed };
    let patch_text = (!unchanged).then(|| serde_json::to_string_pretty(&plan.patch).unwrap_or_default());
    Ok(view(&target, state, Some(&live), &merged, plan.original.as_ref(), &object, patch_text, fields, note))
}

#[allow(clippy::too_many_arguments)] // One constructor for the view's many columns, each named at the call.
fn view(
    target: &Target,
    state: ObjectDiffState,
    live: Option<&Value>,
    merged: &Value,
    last_applied: Option<&Value>,
    file: &Value,
    patch: Option<String>,
    fields: Vec<gitops_lab_protocol::FieldExplanation>,
    note: Option<Text>,
) -> ObjectDiff {
    let live_yaml = live.map(|l| yaml(&normalize(l)));
    let merged_yaml = yaml(&normalize(merged));
    let unified = unified_diff(target, live_yaml.as_deref().unwrap_or(""), &merged_yaml);
    ObjectDiff {
        object: target.object_ref(),
        state,
        live_yaml,
        merged_yaml,
        unified,
        last_applied_yaml: last_applied.map(yaml),
        file_yaml: yaml(file),
        patch,
        fields,
        note,
        error: None,
    }
}

/// YAML as kubectl prints it.
pub fn yaml(value: &Value) -> String {
    crate::kubectl::get::to_yaml(value)
}

/// The unified diff `kubectl diff` prints, with its `LIVE`/`MERGED` file names.
pub fn unified_diff(target: &Target, live: &str, merged: &str) -> String {
    if live == merged {
        return String::new();
    }
    let r = &target.resource;
    let group_version = if r.group.is_empty() { r.version.clone() } else { format!("{}.{}", r.group, r.version) };
    let name = format!("{group_version}.{}.{}.{}", r.kind, target.namespace.clone().unwrap_or_default(), target.name);
    TextDiff::from_lines(live, merged)
        .unified_diff()
        .context_radius(3)
        .header(&format!("LIVE/{name}"), &format!("MERGED/{name}"))
        .to_string()
}

fn no_annotation_note() -> Text {
    Text::new(
        "This object has no last-applied configuration: it was made with kubectl create, replace or edit. Apply cannot know which fields it once owned, so removing a field from the file will not remove it from the cluster. The first apply adds the annotation.",
        "该对象没有 last-applied 配置：它是用 kubectl create、replace 或 edit 创建的。apply 无法知道哪些字段曾经由它管理，因此从文件中删除字段并不会从集群中删除它。第一次 apply 会补上这个注解。",
    )
}

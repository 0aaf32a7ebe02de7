//! The three-way view, computed without any I/O: for every field of last-applied, live and file,
//! what apply does and why. Deletions are read from the patch apply would send, so the view and
//! the patch never disagree.

use super::fields::{Fields, deletions, flatten, is_under, show};
use super::reasons::reasons;
use gitops_lab_protocol::{FieldExplanation, FieldOutcome};
use serde_json::Value;
use std::collections::BTreeSet;
use strategic_merge::MergeSchema;

/// The inputs of one object's three-way view.
pub struct ThreeWay<'a> {
    /// The last-applied configuration, if any.
    pub last_applied: Option<&'a Value>,
    /// The live object.
    pub live: &'a Value,
    /// The file's object (namespace defaulted, without the annotation).
    pub file: &'a Value,
    /// The patch apply would send.
    pub patch: &'a Value,
    /// The kind's merge metadata.
    pub schema: MergeSchema,
}

/// Every field worth showing, with its outcome and reason, in path order.
pub fn explain(input: &ThreeWay<'_>) -> Vec<FieldExplanation> {
    let hidden = hidden_paths();
    // The annotation has its own column in the view; as a field it would only repeat itself.
    let annotation = format!("metadata.annotations.{}", crate::kubectl::last_applied::LAST_APPLIED);
    let visible = |fields: Fields| -> Fields {
        fields
            .into_iter()
            .filter(|(path, _)| *path != annotation && !hidden.iter().any(|h| is_under(path, h)))
            .collect()
    };
    let last = visible(input.last_applied.map(|l| flatten(l, &input.schema)).unwrap_or_default());
    let live = visible(flatten(input.live, &input.schema));
    let file = visible(flatten(input.file, &input.schema));
    let deleted = deletions(input.patch, &input.schema);
    let reasons = reasons();

    let mut paths: BTreeSet<&String> = file.keys().chain(last.keys()).collect();
    paths.extend(live.keys().filter(|p| reasons.is_interesting(p)));
    paths
        .into_iter()
        .map(|path| {
            let (l, v, f) = (last.get(path), live.get(path), file.get(path));
            let outcome = match f {
                Some(f) if v == Some(f) => FieldOutcome::Unchanged,
                Some(_) if v.is_some() => FieldOutcome::Overwrite,
                Some(_) => FieldOutcome::Add,
                None if deleted.iter().any(|d| is_under(path, d)) => FieldOutcome::Delete,
                None if l.is_some() && v.is_none() => FieldOutcome::Unchanged,
                None => FieldOutcome::Keep,
            };
            FieldExplanation {
                path: path.clone(),
                last_applied: l.map(show),
                live: v.map(show),
                file: f.map(show),
                outcome,
                reason: reasons.reason(path, outcome),
            }
        })
        .collect()
}

/// The hidden JSON pointers as view paths (`/metadata/uid` → `metadata.uid`).
fn hidden_paths() -> Vec<String> {
    reasons()
        .hidden
        .iter()
        .map(|pointer| {
            pointer
                .trim_start_matches('/')
                .split('/')
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// `value` without the hidden fields (as `kubectl diff` shows objects, minus status and server metadata).
pub fn normalize(value: &Value) -> Value {
    let mut copy = value.clone();
    for pointer in &reasons().hidden {
        let (parent, key) = match pointer.rsplit_once('/') {
            Some((parent, key)) => (parent, key.replace("~1", "/").replace("~0", "~")),
            None => continue,
        };
        if let Some(map) = copy.pointer_mut(parent).and_then(Value::as_object_mut) {
            map.remove(&key);
        }
    }
    if let Some(annotations) = copy.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)
        && annotations.is_empty()
        && let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.remove("annotations");
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(fields: &[FieldExplanation], path: &str) -> FieldOutcome {
        fields.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is listed")).outcome
    }

    fn deployment(replicas: Option<i64>, image: &str) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]}}}});
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn three_way(last: Option<&Value>, live: &Value, file: &Value) -> Vec<FieldExplanation> {
        let schema = MergeSchema::for_kind("apps/v1", "Deployment");
        let patch = strategic_merge::create_three_way_patch(last, file, live, &schema).unwrap();
        explain(&ThreeWay { last_applied: last, live, file, patch: &patch, schema })
    }

    #[test]
    fn replicas_removed_from_the_file_but_in_last_applied_are_deleted() {
        let last = deployment(Some(3), "nginx:1.27");
        let fields = three_way(Some(&last), &deployment(Some(3), "nginx:1.27"), &deployment(None, "nginx:1.27"));
        assert_eq!(outcome(&fields, "spec.replicas"), FieldOutcome::Delete);
        let reason = &fields.iter().find(|f| f.path == "spec.replicas").unwrap().reason;
        assert!(reason.en.contains("default of 1") && reason.zh.contains("默认值 1"));
    }

    #[test]
    fn replicas_set_by_scale_and_never_in_the_file_are_kept() {
        let last = deployment(None, "nginx:1.27");
        let fields = three_way(Some(&last), &deployment(Some(5), "nginx:1.27"), &deployment(None, "nginx:1.27"));
        assert_eq!(outcome(&fields, "spec.replicas"), FieldOutcome::Keep);
        assert!(fields.iter().find(|f| f.path == "spec.replicas").unwrap().reason.en.contains("kubectl scale"));
    }

    #[test]
    fn a_changed_image_is_overwritten_and_unchanged_fields_say_so() {
        let last = deployment(Some(3), "nginx:1.26");
        let fields = three_way(Some(&last), &deployment(Some(3), "nginx:1.26"), &deployment(Some(3), "nginx:1.27"));
        assert_eq!(outcome(&fields, "spec.template.spec.containers[name=web].image"), FieldOutcome::Overwrite);
        assert_eq!(outcome(&fields, "spec.replicas"), FieldOutcome::Unchanged);
    }

    #[test]
    fn without_last_applied_a_field_missing_from_the_file_is_kept_not_deleted() {
        // `kubectl create` or `replace` left no annotation: apply cannot know the field was ever in the file.
        let fields = three_way(None, &deployment(Some(3), "nginx:1.27"), &deployment(None, "nginx:1.27"));
        assert_eq!(outcome(&fields, "spec.replicas"), FieldOutcome::Keep);
    }

    #[test]
    fn normalising_hides_status_and_server_metadata() {
        let live = json!({"metadata": {"name": "a", "uid": "u", "resourceVersion": "7", "generation": 2,
            "annotations": {"deployment.kubernetes.io/revision": "1"}}, "status": {"replicas": 1}, "spec": {}});
        assert_eq!(normalize(&live), json!({"metadata": {"name": "a"}, "spec": {}}));
    }
}

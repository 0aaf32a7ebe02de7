//! Fuzzing by property: whatever the documents — any JSON, shaped like Kubernetes objects or not,
//! with directives (`$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`)
//! where they make no sense — applying or creating a patch answers `Ok` or a `PatchError`, and
//! never panics. The sandbox applies client patches with this crate, so a panic here would be a
//! request that kills its handler.

#![forbid(unsafe_code)]

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};
use strategic_merge::{MergeSchema, apply_patch, create_three_way_patch, create_two_way_patch};

/// Keys a Kubernetes object and a strategic patch use: fields with merge keys and strategies,
/// the merge keys themselves, and the directives.
const KEYS: [&str; 24] = [
    "metadata",
    "spec",
    "template",
    "containers",
    "initContainers",
    "env",
    "ports",
    "volumes",
    "volumeMounts",
    "name",
    "containerPort",
    "mountPath",
    "finalizers",
    "ownerReferences",
    "uid",
    "conditions",
    "type",
    "value",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$deleteFromPrimitiveList/finalizers",
    "$setElementOrder/env",
    "strategy",
];

/// Strings that mean something to the merge: directive values and common names.
const WORDS: [&str; 8] = ["replace", "merge", "delete", "app", "web", "x", "", "$patch"];

/// The kinds whose schemas the sandbox uses.
const KINDS: [(&str, &str); 6] = [
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("batch/v1", "CronJob"),
    ("v1", "Service"),
    ("v1", "Node"),
    ("example.com/v1", "Widget"),
];

/// Any JSON value, at most a few levels deep, with keys and strings from the vocabulary above
/// (so that the fields and directives the merge treats specially come up often).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        select(WORDS.to_vec()).prop_map(|w| json!(w)),
        "[a-z0-9/.$-]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((select(KEYS.to_vec()), inner), 0..6).prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>()
            )),
        ]
    })
}

fn schema() -> impl Strategy<Value = MergeSchema> {
    select(KINDS.to_vec()).prop_map(|(api_version, kind)| MergeSchema::for_kind(api_version, kind))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn applying_any_patch_to_any_document_never_panics(original in value(), patch in value(), schema in schema()) {
        let _ = apply_patch(&original, &patch, &schema);
    }

    #[test]
    fn creating_a_patch_from_any_documents_never_panics(
        original in proptest::option::of(value()),
        modified in value(),
        current in value(),
        schema in schema(),
    ) {
        let _ = create_three_way_patch(original.as_ref(), &modified, &current, &schema);
        let _ = create_two_way_patch(&current, &modified, &schema);
    }
}

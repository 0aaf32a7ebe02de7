//! Golden tests: each `testdata/*.input.yaml` case is run and compared with its `*.output.yaml`.
//!
//! An input names the kind (`apiVersion`, `kind`) and either `live` + `patch`
//! (an API server applying a strategic merge patch) or `lastApplied` + `file` +
//! `live` (kubectl apply: the three-way patch, then its application). The output
//! holds `patch` (three-way cases), `result`, or `error`. Run with
//! `UPDATE_GOLDEN=1` to rewrite the outputs, then review the diff.

#![forbid(unsafe_code)]

use std::fs;
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use strategic_merge::{MergeSchema, PatchError, apply_patch, create_three_way_patch};

fn testdata() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("testdata")
}

fn inputs() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        fs::read_dir(testdata()).map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    found.retain(|p| p.to_string_lossy().ends_with(".input.yaml"));
    found.sort();
    found
}

/// Runs one case into its output document.
fn run(case: &Value) -> Value {
    let api_version = case["apiVersion"].as_str().unwrap_or_default();
    let kind = case["kind"].as_str().unwrap_or_default();
    let schema = MergeSchema::for_kind(api_version, kind);
    let live = &case["live"];
    let mut out = Map::new();
    let outcome: Result<Value, PatchError> = if let Some(file) = case.get("file") {
        create_three_way_patch(case.get("lastApplied"), file, live, &schema).and_then(|patch| {
            out.insert("patch".into(), patch.clone());
            apply_patch(live, &patch, &schema)
        })
    } else {
        apply_patch(live, &case["patch"], &schema)
    };
    match outcome {
        Ok(result) => out.insert("result".into(), result),
        Err(err) => out.insert("error".into(), json!(err.to_string())),
    };
    Value::Object(out)
}

#[test]
fn every_golden_case_matches_its_output() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = inputs();
    assert!(!cases.is_empty(), "no golden cases under {}", testdata().display());
    let mut failures = Vec::new();
    for input in cases {
        let name = input.to_string_lossy().replace(".input.yaml", "");
        let output = PathBuf::from(format!("{name}.output.yaml"));
        let text = fs::read_to_string(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let case: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let actual = run(&case);
        if update {
            let yaml = serde_norway::to_string(&actual).unwrap_or_else(|e| panic!("{name}: {e}"));
            fs::write(&output, yaml).unwrap_or_else(|e| panic!("{}: {e}", output.display()));
            continue;
        }
        let expected: Value =
            fs::read_to_string(&output).ok().and_then(|t| serde_norway::from_str(&t).ok()).unwrap_or(Value::Null);
        if expected != actual {
            failures.push(format!("{name}\n  expected: {expected}\n  actual:   {actual}"));
        }
    }
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
}

//! Golden tests of the reducer: each `testdata/*.input.yaml` (Kubernetes objects, one per YAML
//! document) is reduced to nodes and compared with its `*.output.yaml`. Run with `UPDATE_GOLDEN=1` to
//! rewrite the outputs, then review the diff. Every case is also fed to the incremental [`Graph`] one
//! object at a time, forwards and backwards, which must end with the same nodes.

use super::facts::{Facts, from_json};
use super::graph::{Change, Graph, build};
use gitops_lab_protocol::GraphNode;
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("src/live/testdata")
}

fn inputs() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(testdata())
        .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    found.retain(|p| p.to_string_lossy().ends_with(".input.yaml"));
    found.sort();
    found
}

fn read_objects(path: &Path) -> Vec<Facts> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::Deserializer::from_str(&text)
        .map(|document| serde_json::Value::deserialize(document).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|value| !value.is_null())
        .map(|value| {
            from_json(&value)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .unwrap_or_else(|| panic!("{}: a kind the graph does not show", path.display()))
        })
        .collect()
}

fn incremental(objects: impl Iterator<Item = Facts>) -> Vec<GraphNode> {
    let mut graph = Graph::default();
    for facts in objects {
        graph.apply(Change::Upsert(facts));
    }
    graph.nodes()
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
        let objects = read_objects(&input);
        let actual = build(objects.clone());
        assert_eq!(incremental(objects.clone().into_iter()), actual, "{name}: incremental, in file order");
        assert_eq!(incremental(objects.into_iter().rev()), actual, "{name}: incremental, backwards");
        if update {
            let yaml = serde_norway::to_string(&actual).unwrap_or_else(|e| panic!("{name}: {e}"));
            std::fs::write(&output, yaml).unwrap_or_else(|e| panic!("{}: {e}", output.display()));
            continue;
        }
        let expected: Option<Vec<GraphNode>> =
            std::fs::read_to_string(&output).ok().and_then(|t| serde_norway::from_str(&t).ok());
        if expected.as_ref() != Some(&actual) {
            let actual = serde_norway::to_string(&actual).unwrap_or_default();
            failures.push(format!("{name}\n--- actual:\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "golden mismatches (UPDATE_GOLDEN=1 rewrites them):\n{}", failures.join("\n"));
}

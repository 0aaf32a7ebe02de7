//! Defaults a real API server fills in, as a learner sees them in `kubectl get -o yaml`.
//!
//! The rules are data (`data/defaults.yaml`); this module parses them once and plays them onto
//! objects. A rule never overwrites a value the user set.

use super::computed::{self, ComputeFn, is_unset};
use crate::registry::ResourceType;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Blocks may mount other blocks; this bounds the nesting so that a cycle in the data cannot hang.
const MAX_BLOCK_DEPTH: usize = 8;

/// One step of a rule's path.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    /// Walk into a field; `create` makes it `{}` when missing.
    Field { name: String, create: bool },
    /// Every element of a list.
    Each,
    /// List elements (or the object itself) whose field `key` equals (or, with `equal: false`, differs from) `value`.
    Filter { key: String, equal: bool, value: String },
}

/// What a rule does at the end of its path.
enum Action {
    Set(Value),
    Block(String),
    Compute(ComputeFn),
}

/// One `path: what` line of the data file.
struct Rule {
    /// Where to go before acting: the parent of `key`, or the mount point of a block.
    target: Vec<Seg>,
    /// The field to fill in (empty for blocks and for `.`).
    key: String,
    action: Action,
}

/// The parsed data file.
struct Table {
    blocks: HashMap<String, Vec<Rule>>,
    kinds: HashMap<String, Vec<Rule>>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse_table(include_str!("data/defaults.yaml")).expect("data/defaults.yaml is valid (checked by a unit test)")
    })
}

/// Fills in the fields upstream defaults for this kind; values the user set are kept.
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    if let Some(custom) = &rt.custom {
        return crate::custom::apply_defaults(custom, obj);
    }
    let table = table();
    if let Some(rules) = table.kinds.get(&rt.kind) {
        apply_rules(obj, rules, table, 0);
    }
}

fn apply_rules(node: &mut Value, rules: &[Rule], table: &Table, depth: usize) {
    for rule in rules {
        match &rule.action {
            Action::Set(value) => visit(node, &rule.target, &mut |parent| {
                if let Some(map) = parent.as_object_mut()
                    && is_unset(map.get(&rule.key))
                {
                    map.insert(rule.key.clone(), value.clone());
                }
            }),
            Action::Compute(f) => visit(node, &rule.target, &mut |parent| {
                if let Some(map) = parent.as_object_mut() {
                    f(map, &rule.key);
                }
            }),
            Action::Block(name) => {
                if let (Some(block), true) = (table.blocks.get(name), depth < MAX_BLOCK_DEPTH) {
                    visit(node, &rule.target, &mut |target| apply_rules(target, block, table, depth + 1));
                }
            }
        }
    }
}

/// Calls `f` on every node the path leads to, creating plain fields on the way where allowed.
fn visit(node: &mut Value, segs: &[Seg], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(node);
        return;
    };
    match first {
        Seg::Field { name, create } => {
            let Some(map) = node.as_object_mut() else { return };
            if *create && map.get(name).is_none_or(Value::is_null) {
                map.insert(name.clone(), Value::Object(Map::new()));
            }
            if let Some(child) = map.get_mut(name).filter(|c| !c.is_null()) {
                visit(child, rest, f);
            }
        }
        Seg::Each => {
            for item in node.as_array_mut().into_iter().flatten() {
                visit(item, rest, f);
            }
        }
        Seg::Filter { key, equal, value } => {
            let matches = |v: &Value| (v.get(key).and_then(Value::as_str) == Some(value.as_str())) == *equal;
            match node {
                Value::Array(items) => items.iter_mut().filter(|i| matches(i)).for_each(|i| visit(i, rest, f)),
                other if matches(other) => visit(other, rest, f),
                _ => {}
            }
        }
    }
}

/// Splits `a.b[k=v.w].c` on the dots outside brackets.
fn split_path(path: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced ']' in {path:?}"))?,
            '.' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    match (depth, parts.iter().any(|p| p.is_empty())) {
        (0, false) => Ok(parts),
        _ => Err(format!("malformed path {path:?}")),
    }
}

/// Parses one segment such as `containers[]`, `strategy[type=RollingUpdate]` or `configMap?`.
fn parse_segment(text: &str, out: &mut Vec<Seg>) -> Result<(), String> {
    let (head, bracket) = match text.split_once('[') {
        Some((head, rest)) => (head, Some(rest.strip_suffix(']').ok_or_else(|| format!("bad segment {text:?}"))?)),
        None => (text, None),
    };
    let (name, optional) = match head.strip_suffix('?') {
        Some(name) => (name, true),
        None => (head, false),
    };
    if name.is_empty() {
        return Err(format!("segment {text:?} has no field name"));
    }
    out.push(Seg::Field { name: name.to_string(), create: !optional && bracket.is_none() });
    match bracket {
        None => {}
        Some("") => out.push(Seg::Each),
        Some(cond) => {
            let (key, equal, value) = match cond.split_once("!=") {
                Some((k, v)) => (k, false, v),
                None => {
                    cond.split_once('=').map(|(k, v)| (k, true, v)).ok_or_else(|| format!("bad filter {text:?}"))?
                }
            };
            out.push(Seg::Filter { key: key.to_string(), equal, value: value.to_string() });
        }
    }
    Ok(())
}

fn parse_rule(path: &str, what: &serde_norway::Value) -> Result<Rule, String> {
    let action = parse_action(what)?;
    if path == "." {
        return match action {
            Action::Compute(_) => Ok(Rule { target: Vec::new(), key: String::new(), action }),
            _ => Err("`.` may only be used with `compute`".to_string()),
        };
    }
    let mut segs = Vec::new();
    for part in split_path(path)? {
        parse_segment(part, &mut segs)?;
    }
    if let Action::Block(_) = action {
        return Ok(Rule { target: segs, key: String::new(), action });
    }
    match segs.pop() {
        Some(Seg::Field { name, create: true }) => Ok(Rule { target: segs, key: name, action }),
        _ => Err(format!("{path:?} must end in a plain field name")),
    }
}

/// `{block: X}` and `{compute: f}` are directives; anything else is a literal value.
fn parse_action(what: &serde_norway::Value) -> Result<Action, String> {
    if let serde_norway::Value::Mapping(map) = what
        && map.len() == 1
    {
        if let Some(name) = map.get("block").and_then(serde_norway::Value::as_str) {
            return Ok(Action::Block(name.to_string()));
        }
        if let Some(name) = map.get("compute").and_then(serde_norway::Value::as_str) {
            return computed::by_name(name)
                .map(Action::Compute)
                .ok_or_else(|| format!("no computed default named {name:?}"));
        }
    }
    serde_json::to_value(what).map(Action::Set).map_err(|e| format!("value not representable as JSON: {e}"))
}

fn parse_rules(section: &serde_norway::Value) -> Result<HashMap<String, Vec<Rule>>, String> {
    let mut out = HashMap::new();
    let Some(entries) = section.as_mapping() else { return Err("section is not a mapping".into()) };
    for (name, rules) in entries {
        let name = name.as_str().ok_or("section keys must be strings")?;
        let rules = rules.as_mapping().ok_or_else(|| format!("{name}: rules must be a mapping"))?;
        let parsed: Result<Vec<Rule>, String> = rules
            .iter()
            .map(|(path, what)| {
                let path = path.as_str().ok_or_else(|| format!("{name}: paths must be strings"))?;
                parse_rule(path, what).map_err(|e| format!("{name}: {path}: {e}"))
            })
            .collect();
        out.insert(name.to_string(), parsed?);
    }
    Ok(out)
}

fn parse_table(text: &str) -> Result<Table, String> {
    let doc: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let table = Table { blocks: parse_rules(&doc["blocks"])?, kinds: parse_rules(&doc["kinds"])? };
    let all_rules = table.blocks.values().chain(table.kinds.values()).flatten();
    for rule in all_rules {
        if let Action::Block(name) = &rule.action
            && !table.blocks.contains_key(name)
        {
            return Err(format!("unknown block {name:?}"));
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;
    use std::path::PathBuf;

    fn rt(kind: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.kind == kind).expect("kind is served")
    }

    #[test]
    fn the_data_file_parses_and_names_only_served_kinds() {
        let table = parse_table(include_str!("data/defaults.yaml")).expect("defaults parse");
        for kind in table.kinds.keys() {
            assert!(Registry::builtin().types().iter().any(|t| &t.kind == kind), "{kind} is not served");
        }
        assert!(table.blocks.contains_key("PodSpec"));
    }

    #[test]
    fn paths_parse_into_fields_lists_and_filters() {
        let rule = parse_rule("spec.strategy[type=RollingUpdate].rollingUpdate.maxSurge", &"25%".into()).unwrap();
        assert_eq!(rule.key, "maxSurge");
        assert_eq!(rule.target[2], Seg::Filter { key: "type".into(), equal: true, value: "RollingUpdate".into() });
        let rule = parse_rule("subjects[kind=User].apiGroup", &"rbac.authorization.k8s.io".into()).unwrap();
        assert_eq!(rule.target[0], Seg::Field { name: "subjects".into(), create: false });
        assert!(parse_rule("spec.ports[]", &"x".into()).is_err(), "a value needs a field to land in");
        assert!(parse_rule("spec..x", &"x".into()).is_err());
        assert!(parse_rule(".", &"x".into()).is_err());
    }

    #[test]
    fn user_values_are_never_overwritten() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
            "restartPolicy": "Never", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never",
                "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}});
        apply_defaults(rt("Pod"), &mut pod);
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["dnsPolicy"], "Default");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 5);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["protocol"], "UDP");
        assert_eq!(pod["spec"]["containers"][0]["terminationMessagePolicy"], "File");
    }

    #[test]
    fn optional_paths_do_not_create_what_the_user_left_out() {
        let mut pod = json!({"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], "volumes": [{"name": "v",
            "emptyDir": {}}]}});
        apply_defaults(rt("Pod"), &mut pod);
        let container = &pod["spec"]["containers"][0];
        assert!(container.get("livenessProbe").is_none());
        assert!(container.get("ports").is_none());
        assert_eq!(pod["spec"]["volumes"][0], json!({"name": "v", "emptyDir": {}}));
    }

    #[test]
    fn a_recreate_deployment_gets_no_rolling_update_block() {
        let mut deploy = json!({"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": []}}}});
        apply_defaults(rt("Deployment"), &mut deploy);
        assert_eq!(deploy["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn external_name_services_get_no_ip_families() {
        let mut svc = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        apply_defaults(rt("Service"), &mut svc);
        assert!(svc["spec"].get("ipFamilies").is_none());
        assert_eq!(svc["spec"]["sessionAffinity"], "None");
    }

    #[test]
    fn rbac_subjects_get_an_api_group_except_service_accounts() {
        let mut binding = json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [
            {"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "default"}]});
        apply_defaults(rt("RoleBinding"), &mut binding);
        assert_eq!(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(binding["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(binding["subjects"][1].get("apiGroup").is_none());
    }

    #[test]
    fn defaulting_twice_changes_nothing_more() {
        for (kind, obj) in golden_cases().into_iter().map(|(_, input, _)| input) {
            let mut once = obj.clone();
            apply_defaults(rt(&kind), &mut once);
            let mut twice = once.clone();
            apply_defaults(rt(&kind), &mut twice);
            assert_eq!(once, twice, "{kind}");
        }
    }

    fn testdata() -> PathBuf {
        crate::crate_dir().join("src/admission/testdata")
    }

    /// (output path, (kind, input object), expected text if present) for every `*.input.yaml`.
    fn golden_cases() -> Vec<(PathBuf, (String, Value), Option<String>)> {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(testdata())
            .expect("testdata exists")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".input.yaml"))
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "no golden inputs found");
        inputs
            .into_iter()
            .map(|input| {
                let text = std::fs::read_to_string(&input).expect("input readable");
                let obj: Value = serde_norway::from_str(&text).expect("input is YAML");
                let kind = obj["kind"].as_str().expect("input has a kind").to_string();
                let output = PathBuf::from(input.to_string_lossy().replace(".input.yaml", ".output.yaml"));
                let expected = std::fs::read_to_string(&output).ok();
                (output, (kind, obj), expected)
            })
            .collect()
    }

    #[test]
    fn golden_files_match_the_defaulted_objects() {
        let update = std::env::var_os("UPDATE_GOLDEN").is_some();
        for (output, (kind, mut obj), expected) in golden_cases() {
            apply_defaults(rt(&kind), &mut obj);
            if update {
                std::fs::write(&output, serde_norway::to_string(&obj).expect("serialises")).expect("writes golden");
                continue;
            }
            let expected = expected.unwrap_or_else(|| panic!("{} missing; run with UPDATE_GOLDEN=1", output.display()));
            let expected: Value = serde_norway::from_str(&expected).expect("golden is YAML");
            assert_eq!(obj, expected, "{}", output.display());
        }
    }
}

//! Property tests: the patches this crate creates, applied by this crate, do what `kubectl apply` promises.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};
use strategic_merge::{MergeSchema, PatchStrategy, apply_patch, create_three_way_patch, create_two_way_patch};

const CONTAINERS: [&str; 4] = ["app", "sidecar", "log", "proxy"];
const IMAGES: [&str; 3] = ["nginx:1.25", "nginx:1.27", "busybox"];
const ENV_NAMES: [&str; 4] = ["MODE", "LEVEL", "COLOR", "PORT"];
const PORTS: [u16; 4] = [80, 443, 8080, 9090];
const LABEL_KEYS: [&str; 4] = ["app", "tier", "team", "env"];
const FINALIZERS: [&str; 3] = ["example.com/a", "example.com/b", "example.com/c"];

/// What the server (or another client) adds to the live object.
const INJECTED_ENV: &str = "INJECTED_BY_WEBHOOK";
const SERVER_FINALIZER: &str = "kubernetes.io/server";
const REVISION: &str = "deployment.kubernetes.io/revision";
const SCALED_REPLICAS: u64 = 7;

fn schema() -> MergeSchema {
    MergeSchema::for_kind("apps/v1", "Deployment")
}

fn string_map(keys: &'static [&'static str]) -> impl Strategy<Value = Option<BTreeMap<String, String>>> {
    let map = proptest::collection::btree_map(select(keys).prop_map(String::from), "[a-z]{1,3}", 0..4);
    proptest::option::of(map)
}

fn env() -> impl Strategy<Value = Option<Vec<Value>>> {
    let vars = subsequence(ENV_NAMES.to_vec(), 0..=4).prop_shuffle().prop_flat_map(|names| {
        let values: Vec<_> = names
            .into_iter()
            .map(|name| "[a-z]{0,3}".prop_map(move |value| json!({"name": name, "value": value})))
            .collect();
        values
    });
    proptest::option::of(vars)
}

fn ports() -> impl Strategy<Value = Option<Vec<Value>>> {
    let ports = subsequence(PORTS.to_vec(), 0..=3).prop_shuffle().prop_flat_map(|ports| {
        let items: Vec<_> = ports
            .into_iter()
            .map(|port| {
                proptest::option::of("[a-z]{1,4}").prop_map(move |name| {
                    let mut item = json!({"containerPort": port, "protocol": "TCP"});
                    if let Some(name) = name {
                        item["name"] = json!(name);
                    }
                    item
                })
            })
            .collect();
        items
    });
    proptest::option::of(ports)
}

fn container(name: &'static str) -> impl Strategy<Value = Value> {
    let args = proptest::option::of(proptest::collection::vec("[a-z]{1,3}", 0..3));
    (select(IMAGES.to_vec()), env(), ports(), args).prop_map(move |(image, env, ports, args)| {
        let mut c = json!({"name": name, "image": image});
        if let Some(env) = env {
            c["env"] = Value::Array(env);
        }
        if let Some(ports) = ports {
            c["ports"] = Value::Array(ports);
        }
        if let Some(args) = args {
            c["args"] = json!(args);
        }
        c
    })
}

fn containers() -> impl Strategy<Value = Vec<Value>> {
    subsequence(CONTAINERS.to_vec(), 1..=3)
        .prop_shuffle()
        .prop_flat_map(|names| names.into_iter().map(container).collect::<Vec<_>>())
}

/// A Deployment as a user would write it in a file.
fn deployment() -> impl Strategy<Value = Value> {
    let finalizers = proptest::option::of(subsequence(FINALIZERS.to_vec(), 0..=3).prop_shuffle());
    (string_map(&LABEL_KEYS), string_map(&LABEL_KEYS), proptest::option::of(0u64..5), containers(), finalizers)
        .prop_map(|(labels, annotations, replicas, containers, finalizers)| {
            let mut d = json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}}
            });
            if let Some(labels) = labels {
                d["metadata"]["labels"] = json!(labels);
            }
            if let Some(annotations) = annotations {
                d["metadata"]["annotations"] = json!(annotations);
            }
            if let Some(finalizers) = finalizers {
                d["metadata"]["finalizers"] = json!(finalizers);
            }
            if let Some(replicas) = replicas {
                d["spec"]["replicas"] = json!(replicas);
            }
            d
        })
}

/// Adds `extra` to the list or map at `key`, following what survives an apply:
/// kept when the target has the field, gone when the last-applied
/// configuration had it and the target dropped it, created otherwise.
fn put_extra(target: &mut Value, key: &str, last: Option<&Value>, empty: Value, extra: impl FnOnce(&mut Value)) {
    let Some(object) = target.as_object_mut() else {
        return;
    };
    if !object.contains_key(key) {
        if last.is_some_and(|l| l.get(key).is_some()) {
            return;
        }
        object.insert(key.to_owned(), empty);
    }
    if let Some(slot) = object.get_mut(key) {
        extra(slot);
    }
}

fn find_container<'a>(deployment: &'a Value, name: &str) -> Option<&'a Value> {
    deployment["spec"]["template"]["spec"]["containers"].as_array()?.iter().find(|c| c["name"] == name)
}

/// Adds the server-side extras to `target`. For the live object `last` is
/// `None`; for the expected result it is the last-applied configuration, which
/// decides which extras an apply removes along with a dropped field.
fn add_extras(target: &mut Value, last: Option<&Value>, live: &Value) {
    target["status"] = json!({"observedGeneration": 4, "readyReplicas": 1});
    target["metadata"]["uid"] = json!("0b9f6a8e");
    let last_meta = last.map(|l| &l["metadata"]);
    put_extra(&mut target["metadata"], "annotations", last_meta, json!({}), |a| a[REVISION] = json!("3"));
    put_extra(&mut target["metadata"], "finalizers", last_meta, json!([]), |f| {
        if let Some(list) = f.as_array_mut() {
            list.push(json!(SERVER_FINALIZER));
        }
    });
    let applied_replicas = last.is_some_and(|l| l["spec"].get("replicas").is_some());
    if target["spec"].get("replicas").is_none() && !applied_replicas {
        target["spec"]["replicas"] = json!(SCALED_REPLICAS);
    }
    let Some(containers) = target["spec"]["template"]["spec"]["containers"].as_array_mut() else {
        return;
    };
    for c in containers {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        // Only containers already live got the extras.
        if find_container(live, &name).is_none() {
            continue;
        }
        c["terminationMessagePath"] = json!("/dev/termination-log");
        let last_c = last.and_then(|l| find_container(l, &name));
        put_extra(c, "env", last_c, json!([]), |e| {
            if let Some(list) = e.as_array_mut() {
                list.push(json!({"name": INJECTED_ENV, "value": "1"}));
            }
        });
    }
}

/// Sorts every merged list (by merge key, or by value), so results compare
/// without regard to where server-only items landed.
fn canon(value: &Value, schema: &MergeSchema, path: &str) -> Value {
    let child = |k: &str| {
        if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") }
    };
    match value {
        Value::Object(map) => {
            let out: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), canon(v, schema, &child(k)))).collect();
            Value::Object(out)
        }
        Value::Array(items) => {
            let meta = schema.field_meta(path);
            let mut items: Vec<Value> = items.iter().map(|v| canon(v, schema, &format!("{path}[]"))).collect();
            if meta.strategy == PatchStrategy::Merge {
                let key = meta.merge_key.unwrap_or_default();
                items.sort_by_key(|v| if key.is_empty() { v.to_string() } else { v[&key].to_string() });
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// The merge-key values of a keyed list, in order.
fn keys(list: &Value, key: &str) -> Vec<Value> {
    list.as_array().map(|l| l.iter().map(|v| v[key].clone()).collect()).unwrap_or_default()
}

fn apply_three_way(last: &Value, new: &Value, live: &Value) -> Value {
    let schema = schema();
    let patch = create_three_way_patch(Some(last), new, live, &schema);
    let patch = match patch {
        Ok(p) => p,
        Err(e) => panic!("three-way patch failed: {e}"),
    };
    match apply_patch(live, &patch, &schema) {
        Ok(v) => v,
        Err(e) => panic!("applying {patch} failed: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reapplying_onto_the_last_applied_object_yields_the_new_file(last in deployment(), new in deployment()) {
        let result = apply_three_way(&last, &new, &last);
        prop_assert_eq!(result, new);
    }

    #[test]
    fn reordering_the_file_alone_reorders_the_live_lists(last in deployment()) {
        let mut new = last.clone();
        if let Some(containers) = new["spec"]["template"]["spec"]["containers"].as_array_mut() {
            containers.reverse();
            for env in containers.iter_mut().filter_map(|c| c.get_mut("env")).filter_map(Value::as_array_mut) {
                env.reverse();
            }
        }
        let result = apply_three_way(&last, &new, &last);
        prop_assert_eq!(result, new);
    }

    #[test]
    fn the_two_way_patch_turns_original_into_modified(original in deployment(), modified in deployment()) {
        let patch = create_two_way_patch(&original, &modified, &schema());
        let result = patch.and_then(|p| apply_patch(&original, &p, &schema()));
        prop_assert_eq!(result, Ok(modified));
    }

    #[test]
    fn applying_an_unchanged_file_sends_an_empty_patch(file in deployment()) {
        prop_assert_eq!(create_three_way_patch(Some(&file), &file, &file, &schema()), Ok(json!({})));
    }

    #[test]
    fn server_side_extras_survive_and_applied_fields_follow_the_new_file(
        last in deployment(),
        new in deployment(),
    ) {
        let mut live = last.clone();
        add_extras(&mut live, None, &last);
        let result = apply_three_way(&last, &new, &live);

        let mut expected = new.clone();
        add_extras(&mut expected, Some(&last), &live);
        let schema = schema();
        prop_assert_eq!(canon(&result, &schema, ""), canon(&expected, &schema, ""));

        // The containers keep the file's order: the live list has no items of its own.
        let containers = "/spec/template/spec/containers";
        prop_assert_eq!(
            keys(result.pointer(containers).unwrap_or(&Value::Null), "name"),
            keys(new.pointer(containers).unwrap_or(&Value::Null), "name")
        );
    }
}

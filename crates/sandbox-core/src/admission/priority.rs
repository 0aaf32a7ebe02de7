//! The Priority admission plugin: a new pod's `priority` (and `preemptionPolicy`) come from the
//! PriorityClass it names, or from the cluster's global default class, else 0 (`defaults.yaml`).
//! A class that does not exist is refused, as upstream does.

use crate::errors::{ApiError, ApiResult};
use serde_json::{Value, json};
use std::sync::Arc;

/// Fills `pod`'s priority from `classes` (every stored PriorityClass).
pub fn resolve(pod: &mut Value, classes: &[Arc<Value>]) -> ApiResult<()> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let class = match pod["spec"]["priorityClassName"].as_str().filter(|n| !n.is_empty()) {
        Some(wanted) => Some(classes.iter().find(|c| c["metadata"]["name"] == wanted).ok_or_else(|| {
            ApiError::forbidden(format!("pods \"{name}\" is forbidden: no PriorityClass with name {wanted} was found"))
        })?),
        None => classes.iter().find(|c| c["globalDefault"] == true),
    };
    let Some(class) = class else { return Ok(()) };
    let value = class["value"].as_i64().unwrap_or(0);
    if let Some(given) = pod["spec"]["priority"].as_i64().filter(|given| *given != value) {
        return Err(ApiError::forbidden(format!(
            "pods \"{name}\" is forbidden: the integer value of priority ({given}) must not be provided in pod spec; \
             priority admission controller computed {value} from the given PriorityClass name"
        )));
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    spec.insert("priority".into(), json!(value));
    spec.insert("priorityClassName".into(), class["metadata"]["name"].clone());
    if let Some(policy) = class["preemptionPolicy"].as_str() {
        spec.entry("preemptionPolicy").or_insert_with(|| json!(policy));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<Arc<Value>> {
        vec![
            Arc::new(json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000})),
            Arc::new(json!({"metadata": {"name": "low"}, "value": 5, "preemptionPolicy": "Never"})),
        ]
    }

    #[test]
    fn a_named_class_gives_its_value_and_policy() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"priorityClassName": "low"}});
        resolve(&mut pod, &classes()).unwrap();
        assert_eq!(
            (pod["spec"]["priority"].as_i64(), pod["spec"]["preemptionPolicy"].as_str()),
            (Some(5), Some("Never"))
        );
    }

    #[test]
    fn an_unknown_class_or_a_contradicting_priority_is_refused() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"priorityClassName": "gold"}});
        let e = resolve(&mut pod, &classes()).unwrap_err();
        assert_eq!(e.message, "pods \"p\" is forbidden: no PriorityClass with name gold was found");
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"priorityClassName": "low", "priority": 7}});
        assert!(resolve(&mut pod, &classes()).unwrap_err().message.contains("computed 5"));
    }

    #[test]
    fn no_class_takes_the_global_default_or_leaves_the_zero_default() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {}});
        resolve(&mut pod, &classes()).unwrap();
        assert_eq!(pod["spec"].get("priority"), None);
        let mut with_default = classes();
        with_default.push(Arc::new(json!({"metadata": {"name": "normal"}, "value": 100, "globalDefault": true})));
        resolve(&mut pod, &with_default).unwrap();
        assert_eq!(
            (pod["spec"]["priority"].as_i64(), pod["spec"]["priorityClassName"].as_str()),
            (Some(100), Some("normal"))
        );
    }
}

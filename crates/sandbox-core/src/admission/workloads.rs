//! Checks for Pods and the controllers that own pod templates: Deployments, ReplicaSets, Jobs and CronJobs.

use super::{cron, meta, pod};
use crate::errors::FieldError;
use serde_json::{Value, json};

const NONNEGATIVE: &str = "must be greater than or equal to 0";

fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// An optional integer field that may not be negative.
fn nonnegative(obj: &Value, key: &str, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = obj.get(key).and_then(Value::as_i64).filter(|n| *n < 0) {
        errs.push(FieldError::invalid(format!("{path}.{key}"), json!(n), NONNEGATIVE));
    }
}

/// A field that may not change after creation.
fn immutable(new: &Value, old: &Value, key: &str, path: &str, errs: &mut Vec<FieldError>) {
    let (after, before) = (new.get(key).unwrap_or(&Value::Null), old.get(key).unwrap_or(&Value::Null));
    if after != before {
        errs.push(FieldError::invalid(format!("{path}.{key}"), after.clone(), "field is immutable"));
    }
}

/// Pods: the pod spec, and on update only the few mutable fields may change.
pub(super) fn check_pod(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    pod::check_pod_spec(&obj["spec"], "spec", errs);
    if let Some(old) = old {
        pod::check_pod_update(obj, old, errs);
    }
}

/// The selector must exist, be well formed and non-empty, and match the template's labels.
fn check_selector_and_template(spec: &Value, errs: &mut Vec<FieldError>) {
    let selector = spec.get("selector").filter(|s| !s.is_null());
    match selector {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(selector) => {
            meta::check_label_selector(selector, "spec.selector", errs);
            if meta::selector_is_empty(selector) {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    selector.clone(),
                    "empty selector is invalid for deployment",
                ));
            }
        }
    }
    let template = &spec["template"];
    let labels = &template["metadata"]["labels"];
    // A missing selector matches nothing; an empty one is reported above and matches everything.
    let matches = selector.is_some_and(|s| meta::selector_is_empty(s) || meta::selector_matches(s, labels));
    if !matches {
        errs.push(FieldError::invalid(
            "spec.template.metadata.labels",
            labels.clone(),
            "`selector` does not match template `labels`",
        ));
    }
    pod::check_template(template, "spec.template", errs);
    let restart = text(&template["spec"], "restartPolicy");
    if !restart.is_empty() && restart != "Always" {
        errs.push(FieldError::not_supported("spec.template.spec.restartPolicy", json!(restart), &["Always"]));
    }
    if template["spec"].get("activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
}

/// Deployments: replicas, selector and template, strategy, and the history and progress limits.
pub(super) fn check_deployment(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    nonnegative(spec, "replicas", "spec", errs);
    check_selector_and_template(spec, errs);
    check_strategy(&spec["strategy"], "spec.strategy", errs);
    nonnegative(spec, "minReadySeconds", "spec", errs);
    nonnegative(spec, "revisionHistoryLimit", "spec", errs);
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        nonnegative(spec, "progressDeadlineSeconds", "spec", errs);
        if deadline <= spec["minReadySeconds"].as_i64().unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(old) = old {
        immutable(spec, &old["spec"], "selector", "spec", errs);
    }
}

fn check_strategy(strategy: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match (text(strategy, "type"), rolling) {
        ("Recreate", Some(_)) => errs.push(FieldError::forbidden(
            format!("{path}.rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        ("Recreate", None) => {}
        ("RollingUpdate", None) => errs
            .push(FieldError::required(format!("{path}.rollingUpdate"), "this should be defaulted and never be nil")),
        ("RollingUpdate", Some(rolling)) => check_rolling_update(rolling, &format!("{path}.rollingUpdate"), errs),
        (other, _) => {
            errs.push(FieldError::not_supported(format!("{path}.type"), json!(other), &["Recreate", "RollingUpdate"]))
        }
    }
}

/// An int-or-percent's value: the number, or the percentage's number; `None` when malformed.
fn int_or_percent(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.strip_suffix('%').filter(|d| !d.is_empty()).and_then(|d| d.parse().ok()),
        _ => None,
    }
}

fn check_rolling_update(rolling: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for key in ["maxUnavailable", "maxSurge"] {
        let Some(value) = rolling.get(key).filter(|v| !v.is_null()) else { continue };
        match (value, int_or_percent(value)) {
            (_, Some(n)) if n < 0 => {
                errs.push(FieldError::invalid(format!("{path}.{key}"), value.clone(), NONNEGATIVE))
            }
            (Value::String(_), None) => errs.push(FieldError::invalid(
                format!("{path}.{key}"),
                value.clone(),
                "must be an integer or percentage (e.g '5%')",
            )),
            _ => {}
        }
    }
    let zero = |key: &str| rolling.get(key).and_then(int_or_percent).unwrap_or(0) == 0;
    if zero("maxUnavailable") && zero("maxSurge") {
        let value = rolling.get("maxUnavailable").cloned().unwrap_or(json!(0));
        errs.push(FieldError::invalid(format!("{path}.maxUnavailable"), value, "may not be 0 when `maxSurge` is 0"));
    }
    if let Some(value) = rolling.get("maxUnavailable").filter(|v| v.is_string())
        && int_or_percent(value).is_some_and(|n| n > 100)
    {
        errs.push(FieldError::invalid(
            format!("{path}.maxUnavailable"),
            value.clone(),
            "must not be greater than 100%",
        ));
    }
}

/// ReplicaSets: replicas, selector and template; the selector is fixed once created.
pub(super) fn check_replica_set(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    nonnegative(spec, "replicas", "spec", errs);
    nonnegative(spec, "minReadySeconds", "spec", errs);
    check_selector_and_template(spec, errs);
    if let Some(old) = old {
        immutable(spec, &old["spec"], "selector", "spec", errs);
    }
}

/// The checks a Job's spec and a CronJob's job template share: counts, mode, pod template, restart policy.
fn check_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for key in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"] {
        nonnegative(spec, key, path, errs);
    }
    let mode = text(spec, "completionMode");
    if !mode.is_empty() && mode != "NonIndexed" && mode != "Indexed" {
        errs.push(FieldError::not_supported(format!("{path}.completionMode"), json!(mode), &["NonIndexed", "Indexed"]));
    }
    if mode == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
        errs.push(FieldError::required(format!("{path}.completions"), "when completion mode is Indexed"));
    }
    let template = &spec["template"];
    pod::check_template(template, &format!("{path}.template"), errs);
    let restart = text(&template["spec"], "restartPolicy");
    if restart != "OnFailure" && restart != "Never" {
        errs.push(FieldError::not_supported(
            format!("{path}.template.spec.restartPolicy"),
            json!(restart),
            &["OnFailure", "Never"],
        ));
    }
}

/// Jobs: the job spec, a selector that matches the template (generated unless `manualSelector`), and
/// on update a fixed selector, completions, mode and (unless suspended) template.
pub(super) fn check_job(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let spec = &obj["spec"];
    let manual = spec["manualSelector"].as_bool().unwrap_or(false);
    let uid = text(&obj["metadata"], "uid");
    let selector = spec.get("selector").filter(|s| !s.is_null());
    if let (false, false, Some(selector)) = (manual, uid.is_empty(), selector) {
        let generated = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
        if *selector != generated {
            errs.push(FieldError::invalid("spec.selector", selector.clone(), "`selector` not auto-generated"));
        }
    }
    check_job_spec(spec, "spec", errs);
    match selector {
        // Without a uid yet, the selector is generated later; only a manual one must be given.
        None if manual => errs.push(FieldError::required("spec.selector", "")),
        None => {}
        Some(selector) => {
            meta::check_label_selector(selector, "spec.selector", errs);
            if !meta::selector_matches(selector, &spec["template"]["metadata"]["labels"]) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    spec["template"]["metadata"]["labels"].clone(),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if let Some(old) = old {
        let old_spec = &old["spec"];
        for key in ["completions", "selector"] {
            immutable(spec, old_spec, key, "spec", errs);
        }
        // A suspended job's template may still be adjusted before it starts.
        if !old_spec["suspend"].as_bool().unwrap_or(false) {
            immutable(spec, old_spec, "template", "spec", errs);
        }
        immutable(spec, old_spec, "completionMode", "spec", errs);
    }
}

/// CronJobs: name length (the controller appends 11 characters), schedule, time zone, policy, job template.
pub(super) fn check_cron_job(obj: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let name = text(&obj["metadata"], "name");
    if old.is_none() && name.len() > 52 {
        errs.push(FieldError::invalid("metadata.name", json!(name), "must be no more than 52 characters"));
    }
    let spec = &obj["spec"];
    let schedule = text(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Some(why) = cron::schedule_error(schedule) {
            errs.push(FieldError::invalid("spec.schedule", json!(schedule), why));
        }
        let tz_before = old.is_some_and(|o| text(&o["spec"], "schedule").contains("TZ"));
        if schedule.contains("TZ") && !tz_before {
            errs.push(FieldError::invalid(
                "spec.schedule",
                json!(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    nonnegative(spec, "startingDeadlineSeconds", "spec", errs);
    check_time_zone(spec, errs);
    pod::check_enum(spec, "concurrencyPolicy", "spec", &["Allow", "Forbid", "Replace"], errs);
    let job_spec = &spec["jobTemplate"]["spec"];
    check_job_spec(job_spec, "spec.jobTemplate.spec", errs);
    if let Some(selector) = job_spec.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            selector.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec["manualSelector"].as_bool() == Some(true) {
        errs.push(FieldError::not_supported("spec.jobTemplate.spec.manualSelector", json!(true), &["nil", "false"]));
    }
    nonnegative(spec, "successfulJobsHistoryLimit", "spec", errs);
    nonnegative(spec, "failedJobsHistoryLimit", "spec", errs);
}

/// `timeZone`, when given, must be a non-empty IANA name.
fn check_time_zone(spec: &Value, errs: &mut Vec<FieldError>) {
    let Some(zone) = spec.get("timeZone").and_then(Value::as_str) else { return };
    if zone.is_empty() {
        errs.push(FieldError::invalid("spec.timeZone", json!(zone), "timeZone must be nil or non-empty string"));
    } else if zone.eq_ignore_ascii_case("local") {
        errs.push(FieldError::invalid(
            "spec.timeZone",
            json!(zone),
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    } else if !jiff::tz::db().is_definitively_empty() && jiff::tz::db().get(zone).is_err() {
        // Without a time zone database on this machine every name would fail, so only judge with one.
        errs.push(FieldError::invalid("spec.timeZone", json!(zone), format!("unknown time zone {zone}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(labels: Value, restart: &str) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"restartPolicy": restart, "dnsPolicy": "ClusterFirst",
            "containers": [{"name": "c", "image": "nginx"}]}})
    }

    fn deployment(spec: Value) -> Value {
        let mut base = json!({"selector": {"matchLabels": {"app": "x"}}, "template": template(json!({"app": "x"}),
            "Always"),
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}});
        for (k, v) in spec.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        json!({"spec": base})
    }

    fn run(check: fn(&Value, Option<&Value>, &mut Vec<FieldError>), obj: &Value, old: Option<&Value>) -> Vec<String> {
        let mut errs = Vec::new();
        check(obj, old, &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn deployment_rules_read_like_upstream() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({}), vec![]),
            (json!({"replicas": -1}), vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
            (
                json!({"selector": {"matchLabels": {"app": "y"}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does \
                        not match template `labels`",
                ],
            ),
            (
                json!({"selector": null}),
                vec![
                    "spec.selector: Required value",
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does \
                        not match template `labels`",
                ],
            ),
            (
                json!({"selector": {}}),
                vec!["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
            ),
            (
                json!({"template": template(json!({"app": "x"}), "OnFailure")}),
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                ],
            ),
            (
                json!({"strategy": {"type": "BlueGreen"}}),
                vec![
                    "spec.strategy.type: Unsupported value: \"BlueGreen\": supported values: \"Recreate\", \
                        \"RollingUpdate\"",
                ],
            ),
            (
                json!({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}),
                vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
            ),
            (
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}),
                vec!["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
            ),
            (
                json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots",
                    "maxUnavailable": "150%"}}}),
                vec![
                    "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"lots\": must be an integer or percentage \
                        (e.g '5%')",
                    "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than \
                        100%",
                ],
            ),
            (
                json!({"progressDeadlineSeconds": 5, "minReadySeconds": 10}),
                vec!["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(run(check_deployment, &deployment(spec.clone()), None), want, "{spec}");
        }
    }

    #[test]
    fn a_deployment_selector_cannot_change() {
        let old = deployment(json!({}));
        let new = deployment(json!({"selector": {"matchLabels": {"app": "x", "tier": "web"}}}));
        assert_eq!(
            run(check_deployment, &new, Some(&old)),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not \
                    match template `labels`",
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\",\"tier\":\"web\"}}: field is immutable",
            ]
        );
        assert!(run(check_deployment, &deployment(json!({"replicas": 5})), Some(&old)).is_empty());
    }

    #[test]
    fn replica_sets_share_the_selector_rules() {
        let rs = deployment(json!({"replicas": -2, "selector": {"matchLabels": {"app": "z"}}}));
        assert_eq!(
            run(check_replica_set, &rs, None),
            [
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not \
                    match template `labels`",
            ]
        );
    }

    fn job(spec: Value, uid: &str) -> Value {
        let mut base = json!({"template": template(json!({"app": "pi"}), "Never")});
        for (k, v) in spec.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        json!({"metadata": {"name": "pi", "uid": uid}, "spec": base})
    }

    #[test]
    fn job_rules_read_like_upstream() {
        let cases: Vec<(Value, &str, Vec<&str>)> = vec![
            (json!({}), "", vec![]),
            (
                json!({"template": template(json!({}), "Always")}),
                "",
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \
                        \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"backoffLimit": -1, "parallelism": -1}),
                "",
                vec![
                    "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                    "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
            (json!({"manualSelector": true}), "", vec!["spec.selector: Required value"]),
            (
                json!({"selector": {"matchLabels": {"app": "pi", "batch.kubernetes.io/controller-uid": "u1"}}}),
                "u1",
                vec![
                    "spec.selector: Invalid value: \
                        {\"matchLabels\":{\"app\":\"pi\",\"batch.kubernetes.io/controller-uid\":\"u1\"}}: `selector` \
                        not auto-generated",
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\"}: `selector` does \
                        not match template `labels`",
                ],
            ),
            (
                json!({"completionMode": "Sometimes"}),
                "",
                vec![
                    "spec.completionMode: Unsupported value: \"Sometimes\": supported values: \"NonIndexed\", \
                        \"Indexed\"",
                ],
            ),
        ];
        for (spec, uid, want) in cases {
            assert_eq!(run(check_job, &job(spec.clone(), uid), None), want, "{spec}");
        }
    }

    #[test]
    fn a_running_jobs_template_and_completions_are_fixed() {
        let old = job(json!({"completions": 1}), "");
        let new = job(json!({"completions": 2, "template": template(json!({"app": "pi"}), "OnFailure")}), "");
        let errs = run(check_job, &new, Some(&old));
        assert_eq!(errs[0], "spec.completions: Invalid value: 2: field is immutable");
        assert!(errs[1].starts_with("spec.template: Invalid value: "), "{errs:?}");
        assert!(errs[1].ends_with(": field is immutable"));
        let suspended = job(json!({"completions": 1, "suspend": true}), "");
        let edited = job(
            json!({"completions": 1, "suspend": true, "template": template(json!({"app": "pi"}), "OnFailure")}),
            "",
        );
        assert!(run(check_job, &edited, Some(&suspended)).is_empty());
    }

    fn cron_job(spec: Value) -> Value {
        let mut base = json!({"schedule": "*/5 * * * *", "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": template(json!({}), "OnFailure")}}});
        for (k, v) in spec.as_object().into_iter().flatten() {
            base[k] = v.clone();
        }
        json!({"metadata": {"name": "hello"}, "spec": base})
    }

    #[test]
    fn cron_job_rules_read_like_upstream() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!({}), vec![]),
            (json!({"schedule": ""}), vec!["spec.schedule: Required value"]),
            (
                json!({"schedule": "x"}),
                vec!["spec.schedule: Invalid value: \"x\": expected exactly 5 fields, found 1: [x]"],
            ),
            (json!({"schedule": "@daily"}), vec![]),
            (
                json!({"schedule": "CRON_TZ=UTC 0 * * * *"}),
                vec![
                    "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, \
                        use timeZone field instead",
                ],
            ),
            (
                json!({"concurrencyPolicy": "Sometimes"}),
                vec![
                    "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \
                        \"Forbid\", \"Replace\"",
                ],
            ),
            (
                json!({"jobTemplate": {"spec": {"template": template(json!({}), "Always")}}}),
                vec![
                    "spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported \
                        values: \"OnFailure\", \"Never\"",
                ],
            ),
            (
                json!({"timeZone": ""}),
                vec!["spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string"],
            ),
            (
                json!({"successfulJobsHistoryLimit": -1}),
                vec!["spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0"],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(run(check_cron_job, &cron_job(spec.clone()), None), want, "{spec}");
        }
    }

    #[test]
    fn cron_job_names_leave_room_for_the_job_suffix() {
        let mut obj = cron_job(json!({}));
        obj["metadata"]["name"] = json!("a".repeat(53));
        assert_eq!(
            run(check_cron_job, &obj, None),
            [format!("metadata.name: Invalid value: \"{}\": must be no more than 52 characters", "a".repeat(53))]
        );
    }
}

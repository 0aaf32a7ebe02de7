use super::*;
use gitops_sandbox_core::errors::Reason;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::Registry;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::store::Change;
use gitops_sandbox_core::time;
use std::sync::Arc;
use std::time::Duration;

use gitops_sandbox_core::testing::sandbox;

fn rt(plural: &str) -> &'static ResourceType {
    Registry::builtin().by_plural("batch", "v1", plural).unwrap()
}

fn target(name: &str) -> ObjectRef {
    ObjectRef { resource: rt("cronjobs").id(), namespace: "default".into(), name: name.into() }
}

fn body(name: &str, spec: Value) -> Value {
    let mut obj = json!({"metadata": {"name": name}, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {
        "metadata": {"labels": {"app": "hello"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c",
            "image": "busybox"}]}}}}}});
    for (k, v) in spec.as_object().cloned().unwrap_or_default() {
        obj["spec"][k] = v;
    }
    obj
}

fn make(sb: &Sandbox, name: &str, spec: Value) -> Arc<Value> {
    sb.create(rt("cronjobs"), Some("default"), body(name, spec), WriteOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .object
}

fn cronjob(sb: &Sandbox, name: &str) -> Arc<Value> {
    sb.get(rt("cronjobs"), Some("default"), name).unwrap()
}

fn job_names(sb: &Sandbox) -> Vec<String> {
    let (list, _) = sb.store().list(&rt("jobs").id(), Some("default"), None, 0, |_| true);
    list.items.iter().map(|j| j["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

fn reasons(sb: &Sandbox) -> Vec<String> {
    // Events are written detached: let them land before reading.
    sb.store().flush().expect("queued writes commit");
    let events = builtin_type("", "events");
    let (list, _) =
        sb.store().list(&events.id(), Some("default"), None, 0, |e| e["involvedObject"]["kind"] == "CronJob");
    list.items.iter().map(|e| format!("{} {}", e["reason"].as_str().unwrap(), e["message"].as_str().unwrap())).collect()
}

/// The first activation of `*/5` strictly after the CronJob's creation, plus `plus` seconds.
fn first_activation(cj: &Value, plus: i64) -> (Timestamp, Timestamp) {
    let created: Timestamp = cj["metadata"]["creationTimestamp"].as_str().unwrap().parse().unwrap();
    let first = Schedule::parse("*/5 * * * *").unwrap().next_after(created, &TimeZone::UTC).unwrap();
    (first, first.checked_add(jiff::SignedDuration::from_secs(plus)).unwrap())
}

fn mark_finished(sb: &Sandbox, name: &str, kind: &str, at: &str) {
    sb.modify(rt("jobs"), Some("default"), name, UpdateScope::Status, WriteOptions::default(), |c| {
        let mut next = c.clone();
        next["status"] = json!({"startTime": at, "completionTime": at,
            "conditions": [{"type": kind, "status": "True", "lastTransitionTime": at, "lastProbeTime": at}]});
        if kind == "Failed" {
            next["status"].as_object_mut().unwrap().remove("completionTime");
        }
        Ok(next)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn concurrency_policies_decide_as_upstream() {
    assert_eq!(decide("Allow", 2, false, false), Step::Start { replace: false });
    assert_eq!(decide("Forbid", 1, false, false), Step::Forbidden);
    assert_eq!(decide("Forbid", 0, false, false), Step::Start { replace: false });
    assert_eq!(decide("Replace", 1, false, false), Step::Start { replace: true });
    assert_eq!(decide("Replace", 0, false, false), Step::Start { replace: false });
    assert_eq!(decide("Allow", 0, true, false), Step::AlreadyStarted);
    assert_eq!(decide("Allow", 0, false, true), Step::Missed);
}

#[test]
fn history_cleanup_removes_the_oldest_beyond_each_limit() {
    let past = |name: &str, started: Option<&str>, succeeded| Past {
        name: name.into(),
        started: started.map(|s| s.parse().unwrap()),
        succeeded,
    };
    let jobs = [
        past("c", Some("2024-01-01T00:03:00Z"), true),
        past("a", Some("2024-01-01T00:01:00Z"), true),
        past("b", Some("2024-01-01T00:02:00Z"), true),
        past("never-started", None, true),
        past("f1", Some("2024-01-01T00:01:00Z"), false),
        past("f2", Some("2024-01-01T00:02:00Z"), false),
    ];
    assert_eq!(history_to_delete(&jobs, Some(2), Some(1)), ["a", "b", "f1"]);
    assert_eq!(history_to_delete(&jobs, None, Some(0)), ["f1", "f2"]);
    assert!(history_to_delete(&jobs, None, None).is_empty());
}

#[test]
fn job_names_count_minutes_since_the_epoch() {
    assert_eq!(job_name("cron-hello", "2026-08-25T00:08:00Z".parse().unwrap()), "cron-hello-29793608");
}

#[test]
fn a_due_activation_creates_an_owned_annotated_job_once() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "hello", json!({}));
    let (first, now) = first_activation(&cj, 3);
    let action = sync(&sb, &target("hello"), now).unwrap();
    let name = job_name("hello", first);
    assert_eq!(job_names(&sb), std::slice::from_ref(&name));
    let job = sb.get(rt("jobs"), Some("default"), &name).unwrap();
    assert_eq!(job["metadata"]["labels"]["app"], "hello");
    assert_eq!(job["metadata"]["annotations"][SCHEDULED_AT], time::rfc3339(first));
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["uid"].clone(), owner["controller"].as_bool()),
        (Some("CronJob"), cj["metadata"]["uid"].clone(), Some(true))
    );
    let status = cronjob(&sb, "hello")["status"].clone();
    assert_eq!(status["active"][0]["name"], name.as_str());
    assert_eq!(status["active"][0]["kind"], "Job");
    assert_eq!(status["lastScheduleTime"], time::rfc3339(first));
    assert!(reasons(&sb).contains(&format!("SuccessfulCreate Created job {name}")));
    // It wakes for the next activation, five minutes after the first.
    assert!(
        matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(296) && d < Duration::from_secs(298)),
        "{action:?}"
    );
    sync(&sb, &target("hello"), now).unwrap();
    assert_eq!(job_names(&sb).len(), 1);
}

#[test]
fn forbid_skips_while_a_job_runs_and_replace_swaps_it() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "forbid", json!({"concurrencyPolicy": "Forbid"}));
    let (_, now) = first_activation(&cj, 1);
    sync(&sb, &target("forbid"), now).unwrap();
    let later = now.checked_add(jiff::SignedDuration::from_secs(300)).unwrap();
    sync(&sb, &target("forbid"), later).unwrap();
    assert_eq!(job_names(&sb).len(), 1);
    assert!(reasons(&sb).iter().any(|r| r.starts_with("JobAlreadyActive")));

    let cj = make(&sb, "swap", json!({"concurrencyPolicy": "Replace"}));
    let (first, now) = first_activation(&cj, 1);
    sync(&sb, &target("swap"), now).unwrap();
    let later = now.checked_add(jiff::SignedDuration::from_secs(300)).unwrap();
    sync(&sb, &target("swap"), later).unwrap();
    let swap_jobs: Vec<String> = job_names(&sb).into_iter().filter(|n| n.starts_with("swap-")).collect();
    assert_eq!(swap_jobs.len(), 1);
    assert_ne!(swap_jobs[0], job_name("swap", first));
    assert!(reasons(&sb).contains(&format!("SuccessfulDelete Deleted job {}", job_name("swap", first))));
}

#[test]
fn a_suspended_cronjob_starts_nothing() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "paused", json!({"suspend": true}));
    let (_, now) = first_activation(&cj, 1);
    assert_eq!(sync(&sb, &target("paused"), now).unwrap(), Action::Done);
    assert!(job_names(&sb).is_empty());
}

#[test]
fn a_starting_deadline_skips_activations_found_too_late() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "strict", json!({"startingDeadlineSeconds": 10}));
    let (_, now) = first_activation(&cj, 30);
    sync(&sb, &target("strict"), now).unwrap();
    assert!(job_names(&sb).is_empty());
}

#[test]
fn finished_jobs_leave_the_active_list_and_old_ones_are_cleaned_up() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "hist", json!({"successfulJobsHistoryLimit": 1}));
    let (first, mut now) = first_activation(&cj, 1);
    for _ in 0..2 {
        sync(&sb, &target("hist"), now).unwrap();
        now = now.checked_add(jiff::SignedDuration::from_secs(300)).unwrap();
    }
    let names = job_names(&sb);
    assert_eq!(names.len(), 2);
    mark_finished(&sb, &names[0], "Complete", "2024-01-01T00:00:00Z");
    mark_finished(&sb, &names[1], "Complete", "2024-01-01T00:05:00Z");
    sync(&sb, &target("hist"), now).unwrap();
    let status = cronjob(&sb, "hist")["status"].clone();
    assert_eq!(status["lastSuccessfulTime"], "2024-01-01T00:05:00Z");
    assert!(reasons(&sb).contains(&format!("SuccessfulDelete Deleted job {}", job_name("hist", first))));
    assert!(
        reasons(&sb)
            .iter()
            .any(|r| r.starts_with("SawCompletedJob Saw completed job: ") && r.ends_with("condition: Complete"))
    );
    // The third activation's job is the only active one; the oldest finished job is gone.
    assert!(!job_names(&sb).contains(&job_name("hist", first)));
    assert_eq!(status["active"].as_array().unwrap().len(), 1);
}

#[test]
fn a_manual_job_is_not_taken_for_a_scheduled_one() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "nightly", json!({"schedule": "0 3 * * *"}));
    let mut manual = job_from_template(&cj, "manual-1", None, &[("cronjob.kubernetes.io/instantiate", "manual")]);
    manual["metadata"]["ownerReferences"][0].as_object_mut().unwrap().remove("blockOwnerDeletion");
    sb.create(rt("jobs"), Some("default"), manual, WriteOptions::default()).unwrap();
    let created: Timestamp = cj["metadata"]["creationTimestamp"].as_str().unwrap().parse().unwrap();
    sync(&sb, &target("nightly"), created.checked_add(jiff::SignedDuration::from_secs(5)).unwrap()).unwrap();
    let status = cronjob(&sb, "nightly")["status"].clone();
    assert!(status.get("active").is_none() && status.get("lastScheduleTime").is_none(), "{status}");
    assert!(
        reasons(&sb)
            .contains(&"UnexpectedJob Saw a job that the controller did not create or forgot: manual-1".to_string())
    );
}

#[test]
fn the_run_now_annotation_starts_one_job_per_value() {
    let (_dir, sb) = sandbox();
    make(&sb, "gitops", json!({"schedule": "0 3 * * *"}));
    let annotate = |value: &str| {
        sb.modify(rt("cronjobs"), Some("default"), "gitops", UpdateScope::Main, WriteOptions::default(), |c| {
            let mut next = c.clone();
            next["metadata"]["annotations"] = json!({RUN_NOW: value});
            Ok(next)
        })
        .unwrap();
    };
    annotate("1");
    sync(&sb, &target("gitops"), Timestamp::now()).unwrap();
    sync(&sb, &target("gitops"), Timestamp::now()).unwrap();
    let names = job_names(&sb);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("gitops-now-"));
    let cj = cronjob(&sb, "gitops");
    assert_eq!(cj["metadata"]["annotations"][RUN_NOW_HANDLED], "1");
    assert_eq!(cj["status"]["active"][0]["name"], names[0].as_str());
    let job = sb.get(rt("jobs"), Some("default"), &names[0]).unwrap();
    assert_eq!(job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    annotate("2");
    sync(&sb, &target("gitops"), Timestamp::now()).unwrap();
    assert_eq!(job_names(&sb).len(), 2);
}

#[test]
fn an_invalid_schedule_is_refused_at_admission() {
    let (_dir, sb) = sandbox();
    let err = sb
        .create(
            rt("cronjobs"),
            Some("default"),
            body("bad", json!({"schedule": "61 * * * *"})),
            WriteOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Invalid);
    assert!(err.message.contains("spec.schedule"), "{}", err.message);
}

#[test]
fn a_stored_bad_schedule_gives_a_warning_not_a_loop() {
    let (_dir, sb) = sandbox();
    let cj = make(&sb, "old", json!({}));
    // As if stored before validation existed: write past admission.
    let key = Sandbox::key(rt("cronjobs"), Some("default"), "old");
    let mut bad = cj.as_ref().clone();
    bad["spec"]["schedule"] = json!("every day");
    sb.store().write::<ApiError>(&key, false, |_| Ok(Change::Put(bad))).unwrap();
    assert_eq!(sync(&sb, &target("old"), Timestamp::now()).unwrap(), Action::Done);
    assert!(
        reasons(&sb)
            .iter()
            .any(|r| r
                .starts_with("UnparseableSchedule unparseable schedule: \"every day\" : expected exactly 5 fields"))
    );
    // A valid but impossible date (30 February) never fires.
    make(&sb, "never", json!({"schedule": "0 0 30 2 *"}));
    assert_eq!(sync(&sb, &target("never"), Timestamp::now()).unwrap(), Action::Done);
    assert!(reasons(&sb).iter().any(|r| r.starts_with("InvalidSchedule invalid schedule: 0 0 30 2 * : ")));
    assert!(job_names(&sb).is_empty());
}

#[test]
fn the_time_zone_shapes_the_scheduled_timestamp() {
    let cj =
        json!({"metadata": {"name": "tz", "namespace": "default", "uid": "u"}, "spec": {"jobTemplate": {"spec": {}}}});
    let tz = TimeZone::get("Europe/Paris").unwrap();
    let job = job_from_template(&cj, "tz-1", Some(("2024-01-10T08:00:00Z".parse().unwrap(), &tz)), &[]);
    assert_eq!(job["metadata"]["annotations"][SCHEDULED_AT], "2024-01-10T09:00:00+01:00");
}

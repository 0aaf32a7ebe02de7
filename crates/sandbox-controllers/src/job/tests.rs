use super::*;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::time;

use gitops_sandbox_core::testing::sandbox;

fn jobs() -> &'static ResourceType {
    builtin_type("batch", "jobs")
}

fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

fn target(name: &str) -> ObjectRef {
    ObjectRef { resource: jobs().id(), namespace: "default".into(), name: name.into() }
}

fn make_job(sb: &Sandbox, name: &str, spec: Value) -> Arc<Value> {
    let mut body = json!({"metadata": {"name": name}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["echo", "hi"]}]}}}});
    if let (Some(extra), Some(target)) = (spec.as_object(), body["spec"].as_object_mut()) {
        for (k, v) in extra {
            if k == "restartPolicy" {
                target["template"]["spec"]["restartPolicy"] = v.clone();
            } else {
                target.insert(k.clone(), v.clone());
            }
        }
    }
    sb.create(jobs(), Some("default"), body, WriteOptions::default()).unwrap_or_else(|e| panic!("{e}")).object
}

fn job_pods(sb: &Sandbox) -> Vec<Arc<Value>> {
    sb.store().list(&pods().id(), Some("default"), None, 0, |_| true).0.items
}

fn job(sb: &Sandbox, name: &str) -> Arc<Value> {
    sb.get(jobs(), Some("default"), name).unwrap()
}

/// Plays the kubelet: sets a pod's phase (and container state).
fn set_pod(sb: &Sandbox, name: &str, status: Value) {
    sb.modify(pods(), Some("default"), name, UpdateScope::Status, WriteOptions::default(), |current| {
        let mut next = current.clone();
        next["status"] = status;
        Ok(next)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

fn finished_pod(phase: &str, at: &str) -> Value {
    let code = if phase == "Succeeded" { 0 } else { 1 };
    json!({"phase": phase, "containerStatuses": [{"name": "c", "restartCount": 0, "ready": false, "image": "busybox",
        "imageID": "",
        "state": {"terminated": {"exitCode": code, "finishedAt": at, "startedAt": at}}}]})
}

fn reasons(sb: &Sandbox) -> Vec<String> {
    // Events are written detached: let them land before reading.
    sb.store().flush().expect("queued writes commit");
    let events = builtin_type("", "events");
    let (list, _) = sb.store().list(&events.id(), Some("default"), None, 0, |e| e["involvedObject"]["kind"] == "Job");
    list.items.iter().map(|e| format!("{} {}", e["reason"].as_str().unwrap(), e["message"].as_str().unwrap())).collect()
}

fn now() -> Timestamp {
    Timestamp::now()
}

#[test]
fn a_new_job_gets_one_labelled_owned_tracked_pod() {
    let (_dir, sb) = sandbox();
    let created = make_job(&sb, "pi", json!({}));
    sync(&sb, &target("pi"), now()).unwrap();
    let pods = job_pods(&sb);
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert!(pod["metadata"]["name"].as_str().unwrap().starts_with("pi-"));
    assert_eq!(pod["metadata"]["labels"]["job-name"], "pi");
    assert_eq!(pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], created["metadata"]["uid"]);
    assert_eq!(pod["metadata"]["finalizers"], json!([TRACKING_FINALIZER]));
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()),
        (Some("Job"), Some(true), Some(true))
    );
    let status = &job(&sb, "pi")["status"];
    assert_eq!(
        (status["active"].as_i64(), status["ready"].as_i64(), status["terminating"].as_i64()),
        (Some(1), Some(0), Some(0))
    );
    assert_eq!(status["uncountedTerminatedPods"], json!({}));
    assert!(status["startTime"].is_string());
    let name = pod["metadata"]["name"].as_str().unwrap();
    assert!(reasons(&sb).contains(&format!("SuccessfulCreate Created pod: {name}")));
    // A second pass changes nothing.
    sync(&sb, &target("pi"), now()).unwrap();
    assert_eq!(job_pods(&sb).len(), 1);
}

#[test]
fn parallelism_and_completions_bound_the_pods() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "batch", json!({"parallelism": 2, "completions": 3}));
    sync(&sb, &target("batch"), now()).unwrap();
    let first = job_pods(&sb);
    assert_eq!(first.len(), 2);
    for pod in &first {
        set_pod(&sb, pod["metadata"]["name"].as_str().unwrap(), finished_pod("Succeeded", "2024-01-01T00:00:00Z"));
    }
    sync(&sb, &target("batch"), now()).unwrap();
    // Two succeeded, one more to go.
    assert_eq!(job(&sb, "batch")["status"]["succeeded"], 2);
    assert_eq!(job_pods(&sb).len(), 3);
    assert!(
        job_pods(&sb)
            .iter()
            .filter(|p| p["status"]["phase"] == "Succeeded")
            .all(|p| p["metadata"]["finalizers"].is_null())
    );
}

#[test]
fn a_succeeded_pod_completes_the_job_as_1_32_reports_it() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "pi", json!({}));
    sync(&sb, &target("pi"), now()).unwrap();
    let name = job_pods(&sb)[0]["metadata"]["name"].as_str().unwrap().to_string();
    set_pod(&sb, &name, finished_pod("Succeeded", "2024-01-01T00:00:00Z"));
    sync(&sb, &target("pi"), now()).unwrap();
    let status = job(&sb, "pi")["status"].clone();
    assert_eq!(status["succeeded"], 1);
    assert!(status.get("active").is_none());
    assert!(status["completionTime"].is_string());
    let kinds: Vec<(&str, &str)> = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]);
    assert_eq!(finished(&job(&sb, "pi")), Some(Finished::Complete));
    assert!(reasons(&sb).contains(&"Completed Job completed".to_string()));
    // The finished pod stays, without the tracking finalizer.
    assert!(job_pods(&sb)[0]["metadata"]["finalizers"].is_null());
}

#[test]
fn failed_pods_are_replaced_after_a_backoff_until_the_limit() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "flaky", json!({"backoffLimit": 1}));
    sync(&sb, &target("flaky"), now()).unwrap();
    let first = job_pods(&sb)[0]["metadata"]["name"].as_str().unwrap().to_string();
    let failed_at = now();
    set_pod(&sb, &first, finished_pod("Failed", &time::rfc3339(failed_at)));
    let action = sync(&sb, &target("flaky"), failed_at).unwrap();
    assert!(
        matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(8) && d <= Duration::from_secs(10)),
        "{action:?}"
    );
    assert_eq!(job(&sb, "flaky")["status"]["failed"], 1);
    assert_eq!(job_pods(&sb).len(), 1);
    let later = failed_at.checked_add(jiff::SignedDuration::from_secs(11)).unwrap();
    sync(&sb, &target("flaky"), later).unwrap();
    let second = job_pods(&sb).into_iter().find(|p| p["metadata"]["name"] != first.as_str()).unwrap();
    set_pod(&sb, second["metadata"]["name"].as_str().unwrap(), finished_pod("Failed", &time::rfc3339(later)));
    sync(&sb, &target("flaky"), later).unwrap();
    let status = job(&sb, "flaky")["status"].clone();
    assert_eq!(status["failed"], 2);
    let kinds: Vec<&str> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["FailureTarget", "Failed"]);
    assert_eq!(status["conditions"][1]["reason"], "BackoffLimitExceeded");
    assert_eq!(status["conditions"][1]["message"], "Job has reached the specified backoff limit");
    assert!(status.get("completionTime").is_none());
    assert!(reasons(&sb).contains(&"BackoffLimitExceeded Job has reached the specified backoff limit".to_string()));
}

#[test]
fn container_restarts_count_under_on_failure_and_the_pod_is_removed() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "crashy", json!({"backoffLimit": 2, "restartPolicy": "OnFailure"}));
    sync(&sb, &target("crashy"), now()).unwrap();
    let name = job_pods(&sb)[0]["metadata"]["name"].as_str().unwrap().to_string();
    set_pod(
        &sb,
        &name,
        json!({"phase": "Running", "containerStatuses": [{"name": "c", "restartCount": 2, "ready": false,
            "image": "busybox", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
    );
    sync(&sb, &target("crashy"), now()).unwrap();
    assert!(reasons(&sb).contains(&format!("SuccessfulDelete Deleted pod: {name}")));
    // The deleted pod is counted as failed, released, and so removed; then the Job fails.
    sync(&sb, &target("crashy"), now()).unwrap();
    assert!(job_pods(&sb).is_empty());
    let status = job(&sb, "crashy")["status"].clone();
    assert_eq!(status["failed"], 1);
    assert_eq!(finished(&job(&sb, "crashy")), Some(Finished::Failed));
}

#[test]
fn a_suspended_job_runs_no_pods_until_resumed() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "later", json!({"suspend": true}));
    sync(&sb, &target("later"), now()).unwrap();
    assert!(job_pods(&sb).is_empty());
    let status = job(&sb, "later")["status"].clone();
    assert_eq!(status["conditions"][0]["type"], "Suspended");
    assert_eq!(status["conditions"][0]["reason"], "JobSuspended");
    assert!(status.get("startTime").is_none());
    sb.modify(jobs(), Some("default"), "later", UpdateScope::Main, WriteOptions::default(), |c| {
        let mut next = c.clone();
        next["spec"]["suspend"] = json!(false);
        Ok(next)
    })
    .unwrap();
    sync(&sb, &target("later"), now()).unwrap();
    assert_eq!(job_pods(&sb).len(), 1);
    let status = job(&sb, "later")["status"].clone();
    assert_eq!(
        (status["conditions"][0]["status"].as_str(), status["conditions"][0]["reason"].as_str()),
        (Some("False"), Some("JobResumed"))
    );
}

#[test]
fn an_active_deadline_fails_the_job_and_stops_its_pods() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "slow", json!({"activeDeadlineSeconds": 5}));
    let action = sync(&sb, &target("slow"), now()).unwrap();
    assert!(matches!(action, Action::RequeueAfter(d) if d <= Duration::from_secs(5)), "{action:?}");
    let later = now().checked_add(jiff::SignedDuration::from_secs(6)).unwrap();
    sync(&sb, &target("slow"), later).unwrap();
    sync(&sb, &target("slow"), later).unwrap();
    let status = job(&sb, "slow")["status"].clone();
    assert_eq!(finished(&job(&sb, "slow")), Some(Finished::Failed));
    assert_eq!(status["conditions"][1]["reason"], "DeadlineExceeded");
    assert!(job_pods(&sb).is_empty());
}

#[test]
fn a_finished_job_is_deleted_after_its_ttl() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "short", json!({"ttlSecondsAfterFinished": 30}));
    sync(&sb, &target("short"), now()).unwrap();
    let name = job_pods(&sb)[0]["metadata"]["name"].as_str().unwrap().to_string();
    set_pod(&sb, &name, finished_pod("Succeeded", &time::rfc3339(now())));
    sync(&sb, &target("short"), now()).unwrap();
    let action = sync(&sb, &target("short"), now()).unwrap();
    assert!(matches!(action, Action::RequeueAfter(d) if d > Duration::from_secs(25)), "{action:?}");
    let later = now().checked_add(jiff::SignedDuration::from_secs(31)).unwrap();
    sync(&sb, &target("short"), later).unwrap();
    assert!(sb.get(jobs(), Some("default"), "short").is_none());
}

#[test]
fn pods_of_a_deleted_job_lose_the_tracking_finalizer() {
    let (_dir, sb) = sandbox();
    make_job(&sb, "gone", json!({}));
    sync(&sb, &target("gone"), now()).unwrap();
    sb.delete(jobs(), Some("default"), "gone", &DeleteOptions::default()).unwrap();
    sync(&sb, &target("gone"), now()).unwrap();
    assert!(job_pods(&sb).iter().all(|p| p["metadata"]["finalizers"].is_null()));
}

//! The Job controller: runs a Job's pods to completion (completions, parallelism), replaces
//! failed ones with a back-off until `backoffLimit`, honours `activeDeadlineSeconds`, `suspend`
//! and `ttlSecondsAfterFinished`, and keeps the status and conditions as Kubernetes 1.32 does,
//! counting each finished pod once through the `batch.kubernetes.io/job-tracking` finalizer.

pub mod plan;
mod run;

use run::Run;

use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::Source;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use jiff::Timestamp;
use plan::{PodState, TRACKING_FINALIZER};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const SOURCE: Source = Source { component: "job-controller", host: None };

/// The reason and message of the `SuccessCriteriaMet` and `Complete` conditions.
const COMPLETIONS_REACHED: &str = "CompletionsReached";
const COMPLETIONS_MESSAGE: &str = "Reached expected number of succeeded pods";

/// How long to wait before retrying pod creation that the API refused.
const CREATE_RETRY: Duration = Duration::from_secs(10);

/// Runs Jobs.
pub struct JobController;

impl Controller for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn primary(&self) -> ResourceId {
        ResourceId { group: "batch".into(), plural: "jobs".into() }
    }

    fn reconcile(&self, sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        sync(sandbox, target, Timestamp::now())
    }
}

/// How a Job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Condition `Complete`.
    Complete,
    /// Condition `Failed`.
    Failed,
}

impl Finished {
    /// The condition type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "Complete",
            Self::Failed => "Failed",
        }
    }
}

/// Whether a Job has finished, by its `Complete` or `Failed` condition.
pub fn finished(job: &Value) -> Option<Finished> {
    [Finished::Complete, Finished::Failed].into_iter().find(|f| condition(job, f.as_str()).is_some())
}

/// A condition of `type` whose status is True.
fn condition<'a>(job: &'a Value, kind: &str) -> Option<&'a Value> {
    job["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind && c["status"] == "True")
}

/// Drops empty `labels`, `annotations` and `finalizers` from an object's metadata, which the API
/// leaves out rather than showing as `{}` or `[]`.
pub(super) fn prune_empty_metadata(obj: &mut Value) {
    let Some(meta) = obj["metadata"].as_object_mut() else {
        return;
    };
    for key in ["labels", "annotations", "finalizers"] {
        let empty = match meta.get(key) {
            Some(Value::Object(map)) => map.is_empty(),
            Some(Value::Array(list)) => list.is_empty(),
            _ => false,
        };
        if empty {
            meta.remove(key);
        }
    }
}

/// The uid in an object's controller ownerReference of `kind`.
pub fn controller_uid<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    let refs = obj["metadata"]["ownerReferences"].as_array()?;
    refs.iter().find(|r| r["controller"] == true && r["kind"] == kind)?["uid"].as_str()
}

fn kind(sb: &Sandbox, group: &str, plural: &str) -> Result<&'static ResourceType, ApiError> {
    sb.registry().by_plural(group, "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

/// One reconcile of a Job at `now`.
pub fn sync(sb: &Sandbox, target: &ObjectRef, now: Timestamp) -> Result<Action, ApiError> {
    let (jobs, pods_rt) = (kind(sb, "batch", "jobs")?, kind(sb, "", "pods")?);
    let Some(job) = sb.get(jobs, Some(&target.namespace), &target.name) else {
        release_orphans(sb, pods_rt, target);
        return Ok(Action::Done);
    };
    if finished(&job).is_some() {
        for (pod, _) in pod_states(sb, pods_rt, &job) {
            release(sb, pods_rt, &pod);
        }
        return expire(sb, jobs, &job, now);
    }
    let mut status = job["status"].as_object().cloned().unwrap_or_default();
    count_finished(sb, jobs, pods_rt, &job, &pod_states(sb, pods_rt, &job), &mut status)?;
    // Read again: releasing finalizers may have removed pods whose deletion was waiting on them.
    let states = pod_states(sb, pods_rt, &job);
    if job["spec"]["suspend"] == true {
        // Pods stopped for a suspension are not failures: just let them go.
        for (pod, _) in states.iter().filter(|(_, s)| *s == PodState::Terminating) {
            release(sb, pods_rt, pod);
        }
    }
    let mut run = Run { sb, pods_rt, job: &job, status, now, action: Action::Done };
    run.drive(&states);
    let Run { status, action, .. } = run;
    if Value::Object(status.clone()) != job["status"] {
        write_status(sb, jobs, &job, status)?;
    }
    Ok(action)
}

/// The Job's pods (by its controller ownerReference) and how each stands.
fn pod_states(sb: &Sandbox, pods_rt: &ResourceType, job: &Value) -> Vec<(Arc<Value>, PodState)> {
    let uid = object::uid(job);
    let namespace = job["metadata"]["namespace"].as_str();
    let replace_when_failed = job["spec"]["podReplacementPolicy"] == "Failed";
    let suspended = job["spec"]["suspend"] == true;
    let owned = |p: &Value| controller_uid(p, "Job") == Some(uid);
    let (snapshot, _) = sb.store().list(&pods_rt.id(), namespace, None, 0, owned);
    snapshot
        .items
        .into_iter()
        .map(|p| {
            let state = plan::pod_state(&p, replace_when_failed, suspended);
            (p, state)
        })
        .collect()
}

/// Counts finished pods once, as upstream: record their uids as uncounted, remove the tracking
/// finalizers, then move the uids whose finalizer is gone into `succeeded`/`failed`.
fn count_finished(
    sb: &Sandbox,
    jobs: &ResourceType,
    pods_rt: &ResourceType,
    job: &Value,
    states: &[(Arc<Value>, PodState)],
    status: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let mut uncounted = status.get("uncountedTerminatedPods").cloned().unwrap_or_else(|| json!({}));
    let mut recorded = false;
    for (pod, state) in states {
        let list = match state {
            PodState::Succeeded => "succeeded",
            PodState::Failed => "failed",
            _ => continue,
        };
        let pod_uid = &pod["metadata"]["uid"];
        let listed =
            ["succeeded", "failed"].iter().any(|l| uncounted[l].as_array().is_some_and(|a| a.contains(pod_uid)));
        if has_finalizer(pod) && !listed {
            if !uncounted[list].is_array() {
                uncounted[list] = json!([]);
            }
            uncounted[list].as_array_mut().into_iter().for_each(|a| a.push(pod_uid.clone()));
            recorded = true;
        }
    }
    if recorded {
        status.insert("uncountedTerminatedPods".into(), uncounted.clone());
        write_status(sb, jobs, job, status.clone())?;
    }
    let mut remaining = json!({});
    for list in ["succeeded", "failed"] {
        let (mut counted, mut left) = (0, Vec::new());
        for uid in uncounted[list].as_array().cloned().unwrap_or_default() {
            let pod = states.iter().find(|(p, _)| p["metadata"]["uid"] == uid).map(|(p, _)| p);
            if pod.is_none_or(|p| release(sb, pods_rt, p)) {
                counted += 1;
            } else {
                left.push(uid);
            }
        }
        if !left.is_empty() {
            remaining[list] = json!(left);
        }
        let total = status.get(list).and_then(Value::as_i64).unwrap_or(0) + counted;
        if total > 0 {
            status.insert(list.into(), json!(total));
        }
    }
    status.insert("uncountedTerminatedPods".into(), remaining);
    Ok(())
}

fn has_finalizer(pod: &Value) -> bool {
    pod["metadata"]["finalizers"].as_array().is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

/// Removes the tracking finalizer from a pod; `true` once it is gone (or the pod is).
fn release(sb: &Sandbox, pods_rt: &ResourceType, pod: &Value) -> bool {
    if !has_finalizer(pod) {
        return true;
    }
    let (namespace, name) = (pod["metadata"]["namespace"].as_str(), object::name(pod));
    let result = sb.modify(pods_rt, namespace, name, UpdateScope::Main, WriteOptions::default(), |current| {
        let mut next = current.clone();
        if let Some(list) = next["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| f != TRACKING_FINALIZER);
        }
        prune_empty_metadata(&mut next);
        Ok(next)
    });
    match result {
        Ok(_) => true,
        Err(error) if error.is_not_found() => true,
        Err(error) => {
            eprintln!("job controller: cannot release pod {name}: {}", error.message);
            false
        }
    }
}

/// Pods of a deleted Job keep no tracking finalizer (matched by owner name, the uid being gone).
fn release_orphans(sb: &Sandbox, pods_rt: &ResourceType, target: &ObjectRef) {
    let owned_by_target = |p: &Value| {
        has_finalizer(p)
            && p["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
                refs.iter().any(|r| r["controller"] == true && r["kind"] == "Job" && r["name"] == target.name.as_str())
            })
    };
    let (snapshot, _) = sb.store().list(&pods_rt.id(), Some(&target.namespace), None, 0, owned_by_target);
    snapshot.items.iter().for_each(|pod| {
        release(sb, pods_rt, pod);
    });
}

/// Deletes a finished Job once `ttlSecondsAfterFinished` has passed.
fn expire(sb: &Sandbox, jobs: &ResourceType, job: &Value, now: Timestamp) -> Result<Action, ApiError> {
    let Some(ttl) = job["spec"]["ttlSecondsAfterFinished"].as_i64() else {
        return Ok(Action::Done);
    };
    let ended = job["status"]["completionTime"]
        .as_str()
        .or_else(|| finished(job).and_then(|f| condition(job, f.as_str())?["lastTransitionTime"].as_str()))
        .and_then(|t| t.parse::<Timestamp>().ok())
        .unwrap_or(now);
    let left = ended.as_second() + ttl - now.as_second();
    if left > 0 {
        return Ok(Action::RequeueAfter(Duration::from_secs(left as u64)));
    }
    let name = object::name(job);
    match sb.delete(jobs, job["metadata"]["namespace"].as_str(), name, &DeleteOptions::default()) {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(Action::Done),
    }
}

fn write_status(sb: &Sandbox, jobs: &ResourceType, job: &Value, status: Map<String, Value>) -> Result<(), ApiError> {
    super::owners::modify_same(sb, jobs, job, UpdateScope::Status, |next| next["status"] = Value::Object(status))
}

#[cfg(test)]
mod tests;

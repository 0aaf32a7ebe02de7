//! The CronJob's record of its Jobs: the status it owns (active list, last success), folding in
//! finished and vanished Jobs, and trimming the history to its limits.

use super::super::job::{self, Finished};
use super::{SOURCE, kind};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::EventType;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::ResourceType;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;

/// A finished Job as history cleanup sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    /// Its name.
    pub name: String,
    /// `status.startTime`, if any (Jobs without one count as newest).
    pub started: Option<Timestamp>,
    /// Whether it completed (else it failed).
    pub succeeded: bool,
}

/// The Jobs to delete so that at most `keep_succeeded` completed and `keep_failed` failed remain, oldest first.
pub fn history_to_delete(past: &[Past], keep_succeeded: Option<i64>, keep_failed: Option<i64>) -> Vec<String> {
    let mut doomed = Vec::new();
    for (succeeded, keep) in [(true, keep_succeeded), (false, keep_failed)] {
        let Some(keep) = keep else { continue };
        let mut group: Vec<&Past> = past.iter().filter(|p| p.succeeded == succeeded).collect();
        // Oldest start first; unstarted ones last; names break ties.
        group.sort_by(|a, b| (a.started.is_none(), a.started, &a.name).cmp(&(b.started.is_none(), b.started, &b.name)));
        let excess = group.len().saturating_sub(keep.max(0) as usize);
        doomed.extend(group.iter().take(excess).map(|p| p.name.clone()));
    }
    doomed
}

/// The parts of `status` this controller owns, with the active list as ObjectReferences.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Status {
    pub(super) active: Vec<Value>,
    pub(super) last_schedule: Option<String>,
    pub(super) last_successful: Option<String>,
}

impl Status {
    pub(super) fn of(cj: &Value) -> Self {
        let status = &cj["status"];
        Self {
            active: status["active"].as_array().cloned().unwrap_or_default(),
            last_schedule: status["lastScheduleTime"].as_str().map(str::to_string),
            last_successful: status["lastSuccessfulTime"].as_str().map(str::to_string),
        }
    }

    pub(super) fn changed(&self, cj: &Value) -> bool {
        *self != Self::of(cj)
    }

    pub(super) fn has_uid(&self, uid: &Value) -> bool {
        self.active.iter().any(|r| r["uid"] == *uid)
    }

    pub(super) fn remove_uid(&mut self, uid: &Value) {
        self.active.retain(|r| r["uid"] != *uid);
    }

    pub(super) fn apply(&self, obj: &mut Value) {
        let mut status = obj["status"].as_object().cloned().unwrap_or_default();
        let mut set = |key: &str, value: Option<Value>| match value {
            Some(v) => status.insert(key.into(), v),
            None => status.remove(key),
        };
        set("active", (!self.active.is_empty()).then(|| json!(self.active)));
        set("lastScheduleTime", self.last_schedule.as_ref().map(|t| json!(t)));
        set("lastSuccessfulTime", self.last_successful.as_ref().map(|t| json!(t)));
        obj["status"] = Value::Object(status);
    }
}

/// The Jobs this CronJob controls (its controller ownerReference), scheduled or manual.
pub(super) fn owned_jobs(sb: &Sandbox, cj: &Value) -> Result<Vec<Arc<Value>>, ApiError> {
    let jobs = kind(sb, "jobs")?;
    let namespace = cj["metadata"]["namespace"].as_str();
    let uid = &cj["metadata"]["uid"];
    let (snapshot, _) = sb.store().list(&jobs.id(), namespace, None, 0, |job| {
        job["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
            refs.iter().any(|r| r["controller"] == true && r["kind"] == "CronJob" && r["uid"] == *uid)
        })
    });
    Ok(snapshot.items)
}

pub(super) fn cleanup_history(sb: &Sandbox, cj: &Value, jobs: &[Arc<Value>], status: &mut Status) {
    let past: Vec<Past> = jobs
        .iter()
        .filter_map(|j| {
            let finished = job::finished(j)?;
            let started = j["status"]["startTime"].as_str().and_then(|t| t.parse().ok());
            Some(Past {
                name: j["metadata"]["name"].as_str()?.to_string(),
                started,
                succeeded: finished == Finished::Complete,
            })
        })
        .collect();
    let spec = &cj["spec"];
    for name in
        history_to_delete(&past, spec["successfulJobsHistoryLimit"].as_i64(), spec["failedJobsHistoryLimit"].as_i64())
    {
        if let Some(job) = jobs.iter().find(|j| j["metadata"]["name"] == name.as_str()) {
            delete_job(sb, cj, job, status);
        }
    }
}

/// Deletes a Job (its pods go with it through the garbage collector) and forgets it.
pub(super) fn delete_job(sb: &Sandbox, cj: &Value, job: &Value, status: &mut Status) -> bool {
    let name = object::name(job);
    let result = kind(sb, "jobs")
        .and_then(|jobs| sb.delete(jobs, job["metadata"]["namespace"].as_str(), name, &DeleteOptions::default()));
    match result {
        Ok(_) => {
            status.remove_uid(&job["metadata"]["uid"]);
            sb.record(SOURCE, cj, EventType::Normal, "SuccessfulDelete", format!("Deleted job {name}"));
            true
        }
        Err(error) if error.is_not_found() => {
            status.remove_uid(&job["metadata"]["uid"]);
            true
        }
        Err(error) => {
            sb.record(SOURCE, cj, EventType::Warning, "FailedDelete", format!("Deleted job: {}", error.message));
            false
        }
    }
}

/// Folds the Jobs' progress into the status: finished ones leave the active list, missing ones too.
pub(super) fn track_jobs(sb: &Sandbox, cj: &Value, jobs: &[Arc<Value>], status: &mut Status) {
    for job in jobs {
        let (uid, name) = (&job["metadata"]["uid"], object::name(job));
        let Some(finished) = job::finished(job) else {
            if !status.has_uid(uid) {
                let message = format!("Saw a job that the controller did not create or forgot: {name}");
                sb.record(SOURCE, cj, EventType::Warning, "UnexpectedJob", message);
            }
            continue;
        };
        if status.has_uid(uid) {
            status.remove_uid(uid);
            let message = format!("Saw completed job: {name}, condition: {}", finished.as_str());
            sb.record(SOURCE, cj, EventType::Normal, "SawCompletedJob", message);
        }
        if finished == Finished::Complete {
            let completed = job["status"]["completionTime"].as_str().map(str::to_string);
            let later = |t: &String| status.last_successful.as_ref().is_none_or(|last| later_than(t, last));
            if let Some(t) = completed.filter(later) {
                status.last_successful = Some(t);
            }
        }
    }
    let present: Vec<&Value> = jobs.iter().map(|j| &j["metadata"]["uid"]).collect();
    for missing in status.active.clone().iter().filter(|r| !present.contains(&&r["uid"])) {
        let name = missing["name"].as_str().unwrap_or_default();
        sb.record(SOURCE, cj, EventType::Normal, "MissingJob", format!("Active job went missing: {name}"));
        status.remove_uid(&missing["uid"]);
    }
}

pub(super) fn later_than(a: &str, b: &str) -> bool {
    match (a.parse::<Timestamp>(), b.parse::<Timestamp>()) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

pub(super) fn write_status(sb: &Sandbox, cronjobs: &ResourceType, cj: &Value, status: &Status) -> Result<(), ApiError> {
    super::super::owners::modify_same(sb, cronjobs, cj, UpdateScope::Status, |next| status.apply(next))
}

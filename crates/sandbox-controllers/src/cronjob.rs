//! The CronJob controller: creates a Job per schedule activation, honouring the time zone, the
//! starting deadline, the concurrency policy, suspension and the history limits, and wakes itself
//! for the next activation instead of polling. Also starts a Job at once when the sandbox-only
//! `gitops-lab.dev/run-now` annotation gets a new value.

mod history;
mod run_now;
pub mod timing;

pub use history::{Past, history_to_delete};
use history::{Status, cleanup_history, delete_job, owned_jobs, track_jobs, write_status};

use super::job;
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::cron::Schedule;
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::time;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use timing::{Missed, Timing};

/// The annotation whose every new value starts one Job now (sandbox only).
pub const RUN_NOW: &str = "gitops-lab.dev/run-now";
/// Where the controller records the last run-now value it acted on.
pub const RUN_NOW_HANDLED: &str = "gitops-lab.dev/run-now-handled";
/// The annotation upstream puts on scheduled Jobs: the activation time in the CronJob's zone.
pub const SCHEDULED_AT: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

pub(crate) const SOURCE: Source = Source { component: "cronjob-controller", host: None };

/// Runs CronJobs.
pub struct CronJobController;

impl Controller for CronJobController {
    fn name(&self) -> &'static str {
        "cronjob"
    }

    fn primary(&self) -> ResourceId {
        ResourceId { group: "batch".into(), plural: "cronjobs".into() }
    }

    fn reconcile(&self, sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        sync(sandbox, target, Timestamp::now())
    }
}

/// What to do at an activation, given the policy and what is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Too late to start (past `startingDeadlineSeconds`).
    Missed,
    /// This activation already has its Job.
    AlreadyStarted,
    /// `Forbid` and a Job is still running.
    Forbidden,
    /// Start a Job, first deleting the running ones under `Replace`.
    Start {
        /// Whether to delete the active Jobs first.
        replace: bool,
    },
}

/// Decides one activation, as upstream orders the checks.
pub fn decide(policy: &str, active: usize, already_started: bool, too_late: bool) -> Step {
    match () {
        _ if too_late => Step::Missed,
        _ if already_started => Step::AlreadyStarted,
        _ if policy == "Forbid" && active > 0 => Step::Forbidden,
        _ => Step::Start { replace: policy == "Replace" && active > 0 },
    }
}

/// The name of the Job for an activation: the CronJob's name and the minutes since the epoch.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// One reconcile of a CronJob at `now`.
pub fn sync(sb: &Sandbox, target: &ObjectRef, now: Timestamp) -> Result<Action, ApiError> {
    let cronjobs = kind(sb, "cronjobs")?;
    let Some(cj) = sb.get(cronjobs, Some(&target.namespace), &target.name) else {
        return Ok(Action::Done);
    };
    let mut status = Status::of(&cj);
    let jobs = owned_jobs(sb, &cj)?;
    cleanup_history(sb, &cj, &jobs, &mut status);
    track_jobs(sb, &cj, &jobs, &mut status);
    let action = if cj["metadata"]["deletionTimestamp"].is_string() {
        Ok(Action::Done)
    } else {
        schedule_step(sb, &cj, &mut status, now)
    };
    if status.changed(&cj) {
        write_status(sb, cronjobs, &cj, &status)?;
    }
    run_now::run_now(sb, &cj)?;
    action
}

fn kind(sb: &Sandbox, plural: &str) -> Result<&'static ResourceType, ApiError> {
    let group = if plural == "pods" { "" } else { "batch" };
    sb.registry().by_plural(group, "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

/// The zone activations are read in: a `TZ=` prefix, else `spec.timeZone`, else UTC.
fn zone_of(sb: &Sandbox, cj: &Value, schedule_zone: Option<&str>) -> Option<TimeZone> {
    let name = schedule_zone.or(cj["spec"]["timeZone"].as_str());
    let Some(name) = name else {
        return Some(TimeZone::UTC);
    };
    match TimeZone::get(name) {
        Ok(tz) => Some(tz),
        Err(error) => {
            let message = format!("invalid timeZone: \"{name}\": unknown time zone {name} ({error})");
            sb.record(SOURCE, cj, EventType::Warning, "UnknownTimeZone", message);
            None
        }
    }
}

/// The schedule and its zone, or `None` after a Warning event saying why there is none.
fn parsed_schedule(sb: &Sandbox, cj: &Value) -> Option<(Schedule, TimeZone)> {
    let text = cj["spec"]["schedule"].as_str().unwrap_or_default();
    let schedule = match Schedule::parse(text) {
        Ok(schedule) => schedule,
        Err(why) => {
            // A bad schedule can only be fixed by an edit, which wakes the controller again.
            let message = format!("unparseable schedule: \"{text}\" : {why}");
            sb.record(SOURCE, cj, EventType::Warning, "UnparseableSchedule", message);
            return None;
        }
    };
    if schedule.zone.is_some() {
        let message = format!(
            "CRON_TZ or TZ used in schedule \"{text}\" is not officially supported, see \
                https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"
        );
        sb.record(SOURCE, cj, EventType::Warning, "UnsupportedSchedule", message);
    }
    let tz = zone_of(sb, cj, schedule.zone.as_deref())?;
    Some((schedule, tz))
}

/// The scheduling half of a reconcile: start the Job of the latest activation if due, then
/// sleep until the next one.
fn schedule_step(sb: &Sandbox, cj: &Value, status: &mut Status, now: Timestamp) -> Result<Action, ApiError> {
    let spec = &cj["spec"];
    if spec["suspend"] == true {
        return Ok(Action::Done);
    }
    let Some((schedule, tz)) = parsed_schedule(sb, cj) else {
        return Ok(Action::Done);
    };
    let timing = Timing {
        schedule: &schedule,
        tz: &tz,
        created: cj["metadata"]["creationTimestamp"].as_str().and_then(|t| t.parse().ok()).unwrap_or(now),
        last_scheduled: status.last_schedule.as_deref().and_then(|t| t.parse().ok()),
        starting_deadline: spec["startingDeadlineSeconds"].as_i64(),
    };
    let recent = match timing.most_recent(now, true) {
        Ok(recent) => recent,
        Err(why) => {
            let text = spec["schedule"].as_str().unwrap_or_default();
            let message = format!("invalid schedule: {text} : {why}");
            sb.record(SOURCE, cj, EventType::Warning, "InvalidSchedule", message);
            return Ok(Action::Done);
        }
    };
    if recent.missed == Missed::Many {
        let message = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
            .to_string();
        sb.record(SOURCE, cj, EventType::Warning, "TooManyMissedTimes", message);
    }
    if let Some(scheduled) = recent.most_recent {
        let too_late = timing.starting_deadline.is_some_and(|d| scheduled.as_second() + d < now.as_second());
        let already = timing.last_scheduled == Some(scheduled);
        activate(sb, cj, status, (scheduled, &tz), already, too_late)?;
    }
    Ok(timing.requeue_after(now).map_or(Action::Done, Action::RequeueAfter))
}

/// Acts on one due activation as the concurrency policy decides.
fn activate(
    sb: &Sandbox,
    cj: &Value,
    status: &mut Status,
    (scheduled, tz): (Timestamp, &TimeZone),
    already: bool,
    too_late: bool,
) -> Result<(), ApiError> {
    let name = job_name(object::name(cj), scheduled);
    let already = already || status.active.iter().any(|r| r["name"] == name.as_str());
    let policy = cj["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow");
    match decide(policy, status.active.len(), already, too_late) {
        Step::Missed => {
            let at = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z");
            let message = format!("Missed scheduled time to start a job: {at}");
            sb.record(SOURCE, cj, EventType::Warning, "MissSchedule", message);
        }
        Step::AlreadyStarted => {}
        Step::Forbidden => {
            let message =
                "Not starting job because prior execution is running and concurrency policy is Forbid".to_string();
            sb.record(SOURCE, cj, EventType::Normal, "JobAlreadyActive", message);
        }
        Step::Start { replace } => {
            if replace && !replace_active(sb, cj, status) {
                let which = &cj["metadata"]["name"];
                return Err(ApiError::internal(format!("could not replace the active jobs of {which}")));
            }
            let job = job_from_template(cj, &name, Some((scheduled, tz)), &[]);
            if start_job(sb, cj, job, status)? {
                status.last_schedule = Some(time::rfc3339(scheduled));
            }
        }
    }
    Ok(())
}

fn replace_active(sb: &Sandbox, cj: &Value, status: &mut Status) -> bool {
    let Ok(jobs) = kind(sb, "jobs") else {
        return false;
    };
    for reference in status.active.clone() {
        let name = reference["name"].as_str().unwrap_or_default();
        let Some(job) = sb.get(jobs, reference["namespace"].as_str(), name) else {
            status.remove_uid(&reference["uid"]);
            continue;
        };
        if !delete_job(sb, cj, &job, status) {
            return false;
        }
    }
    true
}

/// The Job for one run: the template's metadata and spec, owned by the CronJob.
pub fn job_from_template(
    cj: &Value,
    name: &str,
    scheduled: Option<(Timestamp, &TimeZone)>,
    extra: &[(&str, &str)],
) -> Value {
    let template = &cj["spec"]["jobTemplate"];
    let mut annotations = template["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    if let Some((at, tz)) = scheduled {
        annotations.insert(SCHEDULED_AT.into(), json!(rfc3339_in(at, tz)));
    }
    for (key, value) in extra {
        annotations.insert((*key).into(), json!(value));
    }
    let meta = &cj["metadata"];
    let mut job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": name, "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": meta["name"], "uid": meta["uid"],
                "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template["spec"],
    });
    job::prune_empty_metadata(&mut job);
    job
}

/// Go's RFC 3339 in a zone: `Z` for a zero offset, else `+hh:mm`.
fn rfc3339_in(at: Timestamp, tz: &TimeZone) -> String {
    let zoned = at.to_zoned(tz.clone());
    if zoned.offset().seconds() == 0 { time::rfc3339(at) } else { zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string() }
}

/// Creates a Job and adds it to the active list; `false` if an existing Job of that name is not ours to track.
fn start_job(sb: &Sandbox, cj: &Value, job: Value, status: &mut Status) -> Result<bool, ApiError> {
    let jobs = kind(sb, "jobs")?;
    let namespace = cj["metadata"]["namespace"].as_str();
    let name = object::name(&job).to_string();
    let created = match sb.create(jobs, namespace, job, WriteOptions::default()) {
        Ok(outcome) => {
            sb.record(SOURCE, cj, EventType::Normal, "SuccessfulCreate", format!("Created job {name}"));
            outcome.object
        }
        Err(error) if error.reason == Reason::AlreadyExists => {
            // Made earlier but not recorded: track it if it is ours.
            let Some(existing) = sb.get(jobs, namespace, &name) else {
                return Err(error);
            };
            let ours = job::controller_uid(&existing, "CronJob") == cj["metadata"]["uid"].as_str();
            if !ours || status.has_uid(&existing["metadata"]["uid"]) {
                return Ok(ours);
            }
            existing
        }
        Err(error) => {
            sb.record(SOURCE, cj, EventType::Warning, "FailedCreate", format!("Error creating job: {}", error.message));
            return Err(error);
        }
    };
    let meta = &created["metadata"];
    status
        .active
        .push(json!({"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "namespace": meta["namespace"],
        "resourceVersion": meta["resourceVersion"], "uid": meta["uid"]}));
    Ok(true)
}

#[cfg(test)]
mod tests;

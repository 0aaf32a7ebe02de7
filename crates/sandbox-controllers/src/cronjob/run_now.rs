//! The sandbox-only `gitops-lab.dev/run-now` annotation: each new value starts one Job at once.

use super::history::{Status, write_status};
use super::{RUN_NOW, RUN_NOW_HANDLED, job_from_template, kind, start_job};
use gitops_sandbox_core::cluster::Sandbox;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::{digest, names};
use serde_json::{Value, json};

/// Starts one Job for a new value of the run-now annotation, then records the value as handled.
pub(super) fn run_now(sb: &Sandbox, cj: &Value) -> Result<(), ApiError> {
    let annotations = &cj["metadata"]["annotations"];
    let Some(wanted) = annotations[RUN_NOW].as_str() else {
        return Ok(());
    };
    if annotations[RUN_NOW_HANDLED].as_str() == Some(wanted) || cj["metadata"]["deletionTimestamp"].is_string() {
        return Ok(());
    }
    let cj_name = object::name(cj);
    // The name follows from the value, so a retry after a failed write finds the same Job.
    let name = format!("{cj_name}-now-{}", short_hash(&format!("{}{wanted}", cj["metadata"]["uid"])));
    let job = job_from_template(cj, &name, None, &[("cronjob.kubernetes.io/instantiate", "manual"), (RUN_NOW, wanted)]);
    let mut status = Status::of(cj);
    start_job(sb, cj, job, &mut status)?;
    let cronjobs = kind(sb, "cronjobs")?;
    super::super::owners::modify_same(sb, cronjobs, cj, UpdateScope::Main, |next| {
        next["metadata"]["annotations"][RUN_NOW_HANDLED] = json!(wanted);
    })?;
    let fresh = sb.get(cronjobs, cj["metadata"]["namespace"].as_str(), cj_name);
    if let Some(fresh) = fresh.filter(|_| status.changed(cj)) {
        // Keep what the status holds now and add the new Job to it.
        let mut merged = Status::of(&fresh);
        let known = Status::of(&fresh);
        merged.active.extend(status.active.into_iter().filter(|r| !known.has_uid(&r["uid"])));
        write_status(sb, cronjobs, &fresh, &merged)?;
    }
    Ok(())
}

/// Five characters from the generateName alphabet, stable for a given text.
pub(super) fn short_hash(text: &str) -> String {
    names::safe_encode(&digest::fnv1a_64(text.as_bytes()).to_le_bytes()[..5])
}

//! One pass over a running Job: suspension, failure and success criteria, and creating or
//! deleting pods towards the wanted number, while rebuilding its status.

use super::super::runtime::Action;
use super::plan::{self, PodState, TRACKING_FINALIZER};
use super::{COMPLETIONS_MESSAGE, COMPLETIONS_REACHED, CREATE_RETRY, SOURCE};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::events::EventType;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::ResourceType;
use gitops_sandbox_core::time;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// One pass over a running Job: its status being rebuilt and the wake-up it needs.
pub(super) struct Run<'a> {
    pub(super) sb: &'a Sandbox,
    pub(super) pods_rt: &'a ResourceType,
    pub(super) job: &'a Value,
    pub(super) status: Map<String, Value>,
    pub(super) now: Timestamp,
    pub(super) action: Action,
}

impl Run<'_> {
    fn count(&self, key: &str) -> i64 {
        self.status.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    fn has(&self, kind: &str) -> Option<Value> {
        let conditions = self.status.get("conditions")?.as_array()?;
        conditions.iter().find(|c| c["type"] == kind && c["status"] == "True").cloned()
    }

    /// Adds a True condition, or flips an existing one of that type.
    fn set_condition(&mut self, kind: &str, state: &str, reason: &str, message: &str) {
        let now = time::rfc3339(self.now);
        let fresh = json!({"type": kind, "status": state, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message});
        let conditions = self.status.entry("conditions").or_insert_with(|| json!([]));
        let Some(list) = conditions.as_array_mut() else {
            return;
        };
        match list.iter_mut().find(|c| c["type"] == kind) {
            Some(existing) => *existing = fresh,
            None => list.push(fresh),
        }
    }

    fn requeue(&mut self, after: Duration) {
        self.action = match self.action {
            Action::RequeueAfter(current) if current <= after => self.action,
            _ => Action::RequeueAfter(after),
        };
    }

    /// Decides and acts: suspension, failure, success, or pods to create or delete.
    pub(super) fn drive(&mut self, states: &[(Arc<Value>, PodState)]) {
        let active: Vec<&Value> =
            states.iter().filter(|(_, s)| matches!(s, PodState::Active { .. })).map(|(p, _)| p.as_ref()).collect();
        let ready = states.iter().filter(|(_, s)| *s == PodState::Active { ready: true }).count();
        let mut terminating = states.iter().filter(|(p, _)| plan::is_terminating(p)).count();
        let running = if self.job["spec"]["suspend"] == true {
            terminating += self.delete_pods(&active);
            if self.has("Suspended").is_none() {
                self.set_condition("Suspended", "True", "JobSuspended", "Job suspended");
                self.sb.record(SOURCE, self.job, EventType::Normal, "Suspended", "Job suspended");
                self.status.remove("startTime");
            }
            0
        } else {
            if self.has("Suspended").is_some() {
                self.set_condition("Suspended", "False", "JobResumed", "Job resumed");
                self.sb.record(SOURCE, self.job, EventType::Normal, "Resumed", "Job resumed");
            }
            if !self.status.contains_key("startTime") {
                self.status.insert("startTime".into(), json!(time::rfc3339(self.now)));
            }
            if self.ending(&active) {
                terminating += self.delete_pods(&active);
                if terminating == 0 {
                    self.finish();
                }
                0
            } else {
                self.scale(states, &active)
            }
        };
        self.status.insert("active".into(), json!(running));
        if running == 0 {
            self.status.remove("active");
        }
        self.status.insert("ready".into(), json!(ready.min(running as usize)));
        self.status.insert("terminating".into(), json!(terminating));
    }

    /// Whether the Job has met its success criteria or a failure target (recording either).
    fn ending(&mut self, active: &[&Value]) -> bool {
        if self.has("FailureTarget").is_some() || self.has("SuccessCriteriaMet").is_some() {
            return true;
        }
        let spec = &self.job["spec"];
        let started = self.status.get("startTime").and_then(Value::as_str).and_then(|t| t.parse().ok());
        if let Some(failure) = plan::failure(spec, self.count("failed"), plan::restarts(active), started, self.now) {
            self.set_condition("FailureTarget", "True", failure.reason(), failure.message());
            return true;
        }
        if plan::succeeded_enough(spec["completions"].as_i64(), self.count("succeeded"), active.len() as i64) {
            self.set_condition("SuccessCriteriaMet", "True", COMPLETIONS_REACHED, COMPLETIONS_MESSAGE);
            return true;
        }
        if let Some(left) = plan::deadline_left(spec, started, self.now) {
            self.requeue(left);
        }
        false
    }

    /// Adds the final condition once no pod is left running.
    fn finish(&mut self) {
        if let Some(target) = self.has("FailureTarget") {
            let (reason, message) =
                (target["reason"].as_str().unwrap_or_default(), target["message"].as_str().unwrap_or_default());
            self.set_condition("Failed", "True", reason, message);
            self.sb.record(SOURCE, self.job, EventType::Warning, reason, message.to_string());
        } else {
            self.set_condition("Complete", "True", COMPLETIONS_REACHED, COMPLETIONS_MESSAGE);
            self.status.insert("completionTime".into(), json!(time::rfc3339(self.now)));
            self.sb.record(SOURCE, self.job, EventType::Normal, "Completed", "Job completed");
        }
    }

    /// Creates or deletes pods towards the wanted number; returns how many are then active.
    fn scale(&mut self, states: &[(Arc<Value>, PodState)], active: &[&Value]) -> i64 {
        let spec = &self.job["spec"];
        let have = active.len() as i64;
        let want = plan::wanted_active(
            spec["parallelism"].as_i64().unwrap_or(1),
            spec["completions"].as_i64(),
            self.count("succeeded"),
            have,
        );
        if have > want {
            let mut extra: Vec<&Value> = active.to_vec();
            // Not-ready and newest pods go first, as upstream prefers.
            extra.sort_by_key(|p| {
                (
                    plan::pod_state(p, false, false) == PodState::Active { ready: true },
                    std::cmp::Reverse(p["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string()),
                )
            });
            self.delete_pods(&extra[..(have - want) as usize]);
            return want;
        }
        if have == want {
            return have;
        }
        let (failures, last_failure) = failures_since_success(states);
        let wait = plan::backoff_left(failures, last_failure, self.now);
        if !wait.is_zero() {
            self.requeue(wait);
            return have;
        }
        have + self.create_pods((want - have) as usize)
    }

    fn create_pods(&mut self, count: usize) -> i64 {
        let job = self.job;
        let meta = &job["metadata"];
        let template = &job["spec"]["template"];
        let mut created = 0;
        for _ in 0..count {
            let mut pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "generateName": format!("{}-", meta["name"].as_str().unwrap_or_default()),
                    "labels": template["metadata"]["labels"].as_object().cloned().unwrap_or_default(),
                    "annotations": template["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
                    "finalizers": [TRACKING_FINALIZER],
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": true, "blockOwnerDeletion": true}],
                },
                "spec": template["spec"],
            });
            super::prune_empty_metadata(&mut pod);
            match self.sb.create(self.pods_rt, meta["namespace"].as_str(), pod, WriteOptions::default()) {
                Ok(outcome) => {
                    created += 1;
                    let name = object::name(&outcome.object).to_string();
                    self.sb.record(SOURCE, job, EventType::Normal, "SuccessfulCreate", format!("Created pod: {name}"));
                }
                Err(error) => {
                    self.sb.record(
                        SOURCE,
                        job,
                        EventType::Warning,
                        "FailedCreate",
                        format!("Error creating: {}", error.message),
                    );
                    self.requeue(CREATE_RETRY);
                    break;
                }
            }
        }
        created
    }

    /// Deletes pods, returning how many were deleted.
    fn delete_pods(&mut self, pods: &[&Value]) -> usize {
        let mut deleted = 0;
        for pod in pods {
            let name = object::name(pod);
            match self.sb.delete(self.pods_rt, pod["metadata"]["namespace"].as_str(), name, &DeleteOptions::default()) {
                Ok(_) => {
                    deleted += 1;
                    self.sb.record(
                        SOURCE,
                        self.job,
                        EventType::Normal,
                        "SuccessfulDelete",
                        format!("Deleted pod: {name}"),
                    );
                }
                Err(error) if error.is_not_found() => {}
                Err(error) => self.sb.record(
                    SOURCE,
                    self.job,
                    EventType::Warning,
                    "FailedDelete",
                    format!("Error deleting: {}", error.message),
                ),
            }
        }
        deleted
    }
}

/// Failed pods that finished after the latest success, and when the last of them did.
pub(super) fn failures_since_success(states: &[(Arc<Value>, PodState)]) -> (u32, Option<Timestamp>) {
    let when = |p: &Value| {
        plan::finished_at(p).or_else(|| p["metadata"]["deletionTimestamp"].as_str().and_then(|t| t.parse().ok()))
    };
    let last_success = states.iter().filter(|(_, s)| *s == PodState::Succeeded).filter_map(|(p, _)| when(p)).max();
    let failed: Vec<Timestamp> = states
        .iter()
        .filter(|(_, s)| *s == PodState::Failed)
        .filter_map(|(p, _)| when(p))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    (failed.len() as u32, failed.iter().max().copied())
}

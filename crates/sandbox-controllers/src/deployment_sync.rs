//! The Deployment controller's paths that resize without rolling out (scaling events, paused
//! Deployments, deletion), the cleanup of old ReplicaSets beyond the revision history limit, and
//! the status writes.

use super::deployment::{Run, deployments, replicasets};
use super::deployment_status::{self as status, DESIRED_REPLICAS, MAX_REPLICAS, REVISION};
use super::owners::{self, int, is_deleting};
use super::rollout::{self, Share};
use super::runtime::Action;
use gitops_sandbox_core::cluster::DeleteOptions;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::object;
use gitops_sandbox_core::time;
use serde_json::{Value, json};

impl Run<'_> {
    /// Whether the Deployment's replicas changed since its active ReplicaSets were last scaled.
    pub(super) fn is_scaling_event(&self, sets: &[Value]) -> bool {
        let desired = self.limits().desired.to_string();
        sets.iter()
            .filter(|rs| int(&rs["spec"]["replicas"]) > 0)
            .filter_map(|rs| rs["metadata"]["annotations"][DESIRED_REPLICAS].as_str())
            .any(|annotated| annotated != desired)
    }

    /// Scaling (or a paused Deployment): resize without rolling out.
    pub(super) fn sync(mut self, sets: Vec<Value>, paused: bool) -> Result<Action, ApiError> {
        let (mut new, mut old) = self.get_all(sets, false)?;
        self.scale_all(new.as_mut(), &mut old)?;
        if paused {
            self.clean_up(&old)?;
        }
        self.deployment_status(new.as_ref(), &old)
    }

    pub(super) fn status_only(mut self, sets: Vec<Value>) -> Result<Action, ApiError> {
        let (new, old) = self.get_all(sets, false)?;
        self.deployment_status(new.as_ref(), &old)
    }

    /// Upstream's `scale`: one active set takes the whole size; a saturated new set lets the old
    /// ones go; otherwise the change is spread proportionally (rolling updates only).
    pub(super) fn scale_all(&self, mut new: Option<&mut Value>, old: &mut [Value]) -> Result<(), ApiError> {
        let limits = self.limits();
        let active = |rs: &Value| int(&rs["spec"]["replicas"]) > 0;
        let active_count = old.iter().filter(|rs| active(rs)).count() + usize::from(new.as_deref().is_some_and(active));
        if active_count <= 1 {
            let target: Option<&mut Value> = match new {
                Some(rs) if active_count == 0 || active(rs) => Some(rs),
                _ if active_count == 0 => old.iter_mut().next_back(),
                _ => old.iter_mut().find(|rs| active(rs)),
            };
            if let Some(rs) = target {
                self.scale(rs, limits.desired, false)?;
            }
            return Ok(());
        }
        let saturated = new.as_deref().is_some_and(|rs| {
            rs["metadata"]["annotations"][DESIRED_REPLICAS] == limits.desired.to_string().as_str()
                && int(&rs["spec"]["replicas"]) == limits.desired
                && int(&rs["status"]["availableReplicas"]) == limits.desired
        });
        if saturated {
            for rs in old.iter_mut().filter(|rs| active(rs)) {
                self.scale(rs, 0, false)?;
            }
            return Ok(());
        }
        if self.d["spec"]["strategy"]["type"] == "Recreate" {
            return Ok(());
        }
        let mut sets: Vec<&mut Value> = old.iter_mut().chain(new.take()).filter(|rs| active(rs)).collect();
        let shares: Vec<Share> = sets
            .iter()
            .enumerate()
            .map(|(i, rs)| Share {
                replicas: int(&rs["spec"]["replicas"]),
                max_replicas: rs["metadata"]["annotations"][MAX_REPLICAS].as_str().and_then(|m| m.parse().ok()),
                age_rank: i,
            })
            .collect();
        let sizes = rollout::proportional_sizes(limits, int(&self.d["status"]["replicas"]), &shares);
        for (rs, size) in sets.iter_mut().zip(sizes) {
            self.scale(rs, size, true)?;
        }
        Ok(())
    }

    /// Deletes the oldest unused ReplicaSets beyond `revisionHistoryLimit`.
    pub(super) fn clean_up(&self, old: &[Value]) -> Result<(), ApiError> {
        let Some(limit) = self.d["spec"]["revisionHistoryLimit"].as_i64() else {
            return Ok(());
        };
        let mut alive: Vec<&Value> = old.iter().filter(|rs| !is_deleting(rs)).collect();
        let surplus = alive.len() as i64 - limit;
        if surplus <= 0 {
            return Ok(());
        }
        alive.sort_by_key(|rs| {
            (status::revision(rs), rs["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string())
        });
        for rs in alive.into_iter().take(surplus as usize) {
            let busy = int(&rs["status"]["replicas"]) != 0
                || int(&rs["spec"]["replicas"]) != 0
                || int(&rs["metadata"]["generation"]) > int(&rs["status"]["observedGeneration"]);
            if busy {
                continue;
            }
            let options = DeleteOptions { uid: Some(object::uid(rs).to_string()), ..Default::default() };
            match self.sb.delete(replicasets(), Some(object::namespace(rs)), object::name(rs), &options) {
                Err(error) if !error.is_not_found() && !error.is_conflict() => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// Status without touching Progressing (scaling, paused, deleting).
    pub(super) fn deployment_status(&self, new: Option<&Value>, old: &[Value]) -> Result<Action, ApiError> {
        let computed = status::calculate(&self.d, new, old, self.conditions(), &time::rfc3339(self.now));
        self.write_status(computed)?;
        Ok(Action::Done)
    }

    /// Status with the Progressing condition, and a look again at the progress deadline.
    pub(super) fn rollout_status(&self, new: Option<&Value>, old: &[Value]) -> Result<Action, ApiError> {
        let mut computed = status::calculate(&self.d, new, old, self.conditions(), &time::rfc3339(self.now));
        let recheck =
            status::progress(&self.d, &self.original["status"], &mut computed, new.map(object::name), self.now);
        let mut conditions: Vec<Value> = computed["conditions"].as_array().cloned().unwrap_or_default();
        match status::replica_failure(new, old) {
            Some(failure) => owners::set_condition(&mut conditions, failure),
            None => conditions.retain(|c| c["type"] != "ReplicaFailure"),
        }
        computed["conditions"] = json!(conditions);
        self.write_status(computed)?;
        Ok(recheck.map_or(Action::Done, Action::RequeueAfter))
    }

    /// Writes status and the revision annotation together through the status subresource, as
    /// upstream's status update does (the Deployment's `statusAlsoWrites` lets the annotation
    /// through; a status write never bumps the generation).
    pub(super) fn write_status(&self, status: Value) -> Result<(), ApiError> {
        let revision = self.d["metadata"]["annotations"][REVISION].clone();
        if status == self.original["status"] && revision == self.original["metadata"]["annotations"][REVISION] {
            return Ok(());
        }
        owners::update_status(self.sb, deployments(), &self.d, |next| {
            next["status"] = status;
            if revision.is_string() {
                next["metadata"]["annotations"][REVISION] = revision;
            }
        })
    }
}

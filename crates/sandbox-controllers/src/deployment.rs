//! The Deployment controller: one ReplicaSet per pod template (named by its hash), rolled out
//! with RollingUpdate or Recreate, scaled, revisioned and cleaned up as upstream does.

use super::deployment_status::{self as status, DESIRED_REPLICAS, MAX_REPLICAS, REVISION};
use super::owners::{self, int, is_deleting};
use super::rollout::{self, Limits, Size};
use super::runtime::{Action, Controller, ObjectRef, owner_of};
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::errors::{ApiError, Reason};
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::selectors::LabelSelector;
use gitops_sandbox_core::time;
use gitops_sandbox_core::watch::{EventType as WatchKind, WatchEvent};
use jiff::Timestamp;
use serde_json::{Value, json};

const SOURCE: Source = Source { component: "deployment-controller", host: None };

/// The label that ties a ReplicaSet and its pods to one pod template.
pub const HASH_LABEL: &str = "pod-template-hash";

/// Reconciles Deployments against their ReplicaSets.
pub struct DeploymentController;

pub(super) fn deployments() -> &'static ResourceType {
    builtin_type("apps", "deployments")
}

pub(super) fn replicasets() -> &'static ResourceType {
    builtin_type("apps", "replicasets")
}

impl Controller for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn primary(&self) -> ResourceId {
        deployments().id()
    }

    /// `triggers` is pure and cheap here: the same answer, asked before waking the task.
    fn wants(&self, event: &WatchEvent) -> bool {
        !self.triggers(event).is_empty()
    }

    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        let primary = self.primary();
        if event.resource == primary {
            return vec![ObjectRef::of(&primary, &event.object)];
        }
        if event.resource == replicasets().id() {
            return owner_of(&event.object, &primary).into_iter().collect();
        }
        // Recreate waits for old pods to be gone; their ReplicaSet is named `<deployment>-<hash>`.
        if event.kind == WatchKind::Deleted && event.resource == builtin_type("", "pods").id() {
            let owner = owners::controller_ref(&event.object).filter(|r| r["kind"] == "ReplicaSet");
            if let Some((deployment, _)) = owner.and_then(|r| r["name"].as_str()).and_then(|n| n.rsplit_once('-')) {
                let namespace = object::namespace(&event.object).to_string();
                return vec![ObjectRef { resource: primary, namespace, name: deployment.to_string() }];
            }
        }
        Vec::new()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(d) = sb.get(deployments(), Some(&target.namespace), &target.name) else {
            return Ok(Action::Done);
        };
        let Ok(selector) = LabelSelector::from_object(&d["spec"]["selector"]) else {
            return Ok(Action::Done);
        };
        let (snapshot, _) = sb.store().list(&replicasets().id(), Some(&target.namespace), None, 0, |_| true);
        let sets: Vec<Value> = owners::claim(sb, replicasets(), &d, &selector, snapshot.items)?
            .iter()
            .map(|rs| rs.as_ref().clone())
            .collect();
        let mut run = Run { sb, original: d.as_ref().clone(), d: d.as_ref().clone(), now: Timestamp::now() };
        if is_deleting(&d) {
            return run.status_only(sets);
        }
        let paused = d["spec"]["paused"] == true;
        run.note_pause(paused);
        if paused || run.is_scaling_event(&sets) {
            return run.sync(sets, paused);
        }
        if d["spec"]["strategy"]["type"] == "Recreate" {
            return run.recreate(sets);
        }
        run.rolling(sets)
    }
}

/// One reconcile of one Deployment: the object as read, and as changed in memory.
pub(super) struct Run<'a> {
    pub(super) sb: &'a Sandbox,
    /// The Deployment as read.
    pub(super) original: Value,
    /// The Deployment with this reconcile's changes (revision, conditions).
    pub(super) d: Value,
    pub(super) now: Timestamp,
}

/// ReplicaSets oldest first (then by name), as upstream sorts them.
fn by_age(sets: &mut [Value]) {
    sets.sort_by(|a, b| {
        let key = |rs: &Value| {
            (rs["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(), object::name(rs).to_string())
        };
        key(a).cmp(&key(b))
    });
}

/// A template without the hash label (and without an emptied labels map), for comparisons.
fn without_hash(template: &Value) -> Value {
    let mut copy = template.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            meta.remove("labels");
        }
    }
    copy
}

/// Whether two pod templates are the same apart from the hash label.
pub fn same_template(a: &Value, b: &Value) -> bool {
    without_hash(a) == without_hash(b)
}

impl Run<'_> {
    pub(super) fn limits(&self) -> Limits {
        Limits::of(&self.d)
    }

    fn record(&self, reason: &str, message: String) {
        self.sb.record(SOURCE, &self.d, EventType::Normal, reason, message);
    }

    /// Marks a pause or a resume in the Progressing condition, so that time spent paused does
    /// not count against the progress deadline (upstream's checkPausedConditions).
    fn note_pause(&mut self, paused: bool) {
        if !self.d["spec"]["progressDeadlineSeconds"].is_i64() {
            return;
        }
        let reason = owners::find_condition(self.conditions(), "Progressing").map(|c| c["reason"].clone());
        let reason = reason.as_ref().and_then(Value::as_str);
        if reason == Some("ProgressDeadlineExceeded") {
            return;
        }
        let marked = reason == Some("DeploymentPaused");
        if paused && !marked {
            self.set_condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused");
        } else if !paused && marked {
            self.set_condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed");
        }
    }

    /// Splits the ReplicaSets into the one matching the template (the oldest such) and the rest.
    fn split(&self, mut sets: Vec<Value>) -> (Option<Value>, Vec<Value>) {
        by_age(&mut sets);
        let template = &self.d["spec"]["template"];
        match sets.iter().position(|rs| same_template(&rs["spec"]["template"], template)) {
            Some(i) => {
                let new = sets.remove(i);
                (Some(new), sets)
            }
            None => (None, sets),
        }
    }

    /// The new and old ReplicaSets, with revisions brought up to date; creates the new one if asked.
    pub(super) fn get_all(&mut self, sets: Vec<Value>, create: bool) -> Result<(Option<Value>, Vec<Value>), ApiError> {
        let (new, old) = self.split(sets);
        let new_revision = old.iter().map(status::revision).max().unwrap_or(0) + 1;
        let new = match new {
            Some(rs) => {
                let rs = self.sync_annotations(rs, new_revision)?;
                if owners::find_condition(self.conditions(), "Progressing").is_none()
                    && self.d["spec"]["progressDeadlineSeconds"].is_i64()
                {
                    let message = format!("Found new replica set \"{}\"", object::name(&rs));
                    self.set_condition("Progressing", "True", "FoundNewReplicaSet", &message);
                }
                Some(rs)
            }
            None if create => Some(self.create_new(&old, new_revision)?),
            None => return Ok((None, old)),
        };
        self.d["metadata"]["annotations"][REVISION] = json!(new_revision.to_string());
        Ok((new, old))
    }

    pub(super) fn conditions(&self) -> &[Value] {
        self.d["status"]["conditions"].as_array().map_or(&[], Vec::as_slice)
    }

    fn set_condition(&mut self, kind: &str, state: &str, reason: &str, message: &str) {
        let mut conditions = self.conditions().to_vec();
        owners::set_condition(
            &mut conditions,
            owners::condition(kind, state, reason, message, &time::rfc3339(self.now)),
        );
        self.d["status"]["conditions"] = json!(conditions);
    }

    /// Brings an existing new ReplicaSet's annotations and minReadySeconds in line.
    fn sync_annotations(&self, rs: Value, new_revision: i64) -> Result<Value, ApiError> {
        let annotations = status::new_rs_annotations(&self.d, &rs, new_revision, true);
        let min_ready = self.d["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let unchanged = rs["metadata"]["annotations"].as_object() == Some(&annotations)
            && int(&rs["spec"]["minReadySeconds"]) == min_ready;
        if unchanged {
            return Ok(rs);
        }
        let outcome = self.sb.modify(
            replicasets(),
            Some(object::namespace(&rs)),
            object::name(&rs),
            UpdateScope::Main,
            WriteOptions::default(),
            |current| {
                let mut next = current.clone();
                next["metadata"]["annotations"] =
                    json!(status::new_rs_annotations(&self.d, current, new_revision, true));
                set_min_ready(&mut next, min_ready);
                Ok(next)
            },
        )?;
        Ok(outcome.object.as_ref().clone())
    }

    /// Creates the ReplicaSet for the current template, sized for the first step of the rollout.
    fn create_new(&mut self, old: &[Value], revision: i64) -> Result<Value, ApiError> {
        let collisions = self.d["status"]["collisionCount"].as_i64();
        let hash = rollout::template_hash(&self.d["spec"]["template"], collisions);
        let limits = self.limits();
        let replicas = if self.d["spec"]["strategy"]["type"] == "Recreate" {
            limits.desired
        } else {
            rollout::rolling_new_size(limits, 0, old.iter().map(|rs| int(&rs["spec"]["replicas"])).sum())
        };
        let rs = self.new_replica_set(&hash, replicas, revision);
        let namespace = object::namespace(&self.d).to_string();
        match self.sb.create(replicasets(), Some(&namespace), rs, WriteOptions::default()) {
            Ok(outcome) => {
                let name = object::name(&outcome.object).to_string();
                if replicas > 0 {
                    self.record("ScalingReplicaSet", format!("Scaled up replica set {name} from 0 to {replicas}"));
                }
                self.set_condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetCreated",
                    &format!("Created new replica set \"{name}\""),
                );
                Ok(outcome.object.as_ref().clone())
            }
            Err(error) if error.reason == Reason::AlreadyExists => Err(self.collision(&namespace, &hash, error)),
            Err(error) => Err(error),
        }
    }

    fn new_replica_set(&self, hash: &str, replicas: i64, revision: i64) -> Value {
        let d = &self.d;
        let mut template = d["spec"]["template"].clone();
        template["metadata"]["labels"][HASH_LABEL] = json!(hash);
        let mut selector = d["spec"]["selector"].clone();
        selector["matchLabels"][HASH_LABEL] = json!(hash);
        let mut rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": format!("{}-{hash}", object::name(d)), "namespace": object::namespace(d),
                "labels": template["metadata"]["labels"],
                "ownerReferences": [owners::owner_reference(d)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        });
        rs["metadata"]["annotations"] = json!(status::new_rs_annotations(d, &rs, revision, false));
        set_min_ready(&mut rs, d["spec"]["minReadySeconds"].as_i64().unwrap_or(0));
        rs
    }

    /// A ReplicaSet of that name exists but is not ours for this template: bump the collision
    /// count so the next attempt uses another hash (upstream's answer to hash collisions).
    fn collision(&mut self, namespace: &str, hash: &str, error: ApiError) -> ApiError {
        let name = format!("{}-{hash}", object::name(&self.d));
        if let Some(existing) = self.sb.get(replicasets(), Some(namespace), &name)
            && owners::is_controlled_by(&existing, &self.d)
            && same_template(&existing["spec"]["template"], &self.d["spec"]["template"])
        {
            // Ours already: the next reconcile finds it.
            return error;
        }
        let count = self.d["status"]["collisionCount"].as_i64().unwrap_or(0) + 1;
        self.d["status"]["collisionCount"] = json!(count);
        let status = self.d["status"].clone();
        match self.write_status(status) {
            Ok(()) => error,
            Err(other) => other,
        }
    }

    /// Sets a ReplicaSet's size (and the replica annotations); records the scaling event.
    pub(super) fn scale(&self, rs: &mut Value, size: i64, annotate_anyway: bool) -> Result<bool, ApiError> {
        let current = int(&rs["spec"]["replicas"]);
        let limits = self.limits();
        let (desired, max) = (limits.desired.to_string(), (limits.desired + limits.surge).to_string());
        let annotations = &rs["metadata"]["annotations"];
        let stale = annotations[DESIRED_REPLICAS] != desired.as_str() || annotations[MAX_REPLICAS] != max.as_str();
        if current == size && !(annotate_anyway && stale) {
            return Ok(false);
        }
        let outcome = self.sb.modify(
            replicasets(),
            Some(object::namespace(rs)),
            object::name(rs),
            UpdateScope::Main,
            WriteOptions::default(),
            |current| {
                let mut next = current.clone();
                next["spec"]["replicas"] = json!(size);
                next["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired);
                next["metadata"]["annotations"][MAX_REPLICAS] = json!(max);
                Ok(next)
            },
        )?;
        *rs = outcome.object.as_ref().clone();
        if current != size {
            let direction = if current < size { "up" } else { "down" };
            self.record(
                "ScalingReplicaSet",
                format!("Scaled {direction} replica set {} from {current} to {size}", object::name(rs)),
            );
        }
        Ok(current != size)
    }

    fn rolling(mut self, sets: Vec<Value>) -> Result<Action, ApiError> {
        let (new, mut old) = self.get_all(sets, true)?;
        let Some(mut new) = new else {
            return self.rollout_status(None, &old);
        };
        if self.reconcile_new(&mut new, &old)? || self.reconcile_old(&new, &mut old)? {
            return self.rollout_status(Some(&new), &old);
        }
        if status::is_complete(&self.original, &self.original["status"]) {
            self.clean_up(&old)?;
        }
        self.rollout_status(Some(&new), &old)
    }

    fn reconcile_new(&self, new: &mut Value, old: &[Value]) -> Result<bool, ApiError> {
        let limits = self.limits();
        let size = int(&new["spec"]["replicas"]);
        let total: i64 = old.iter().map(|rs| int(&rs["spec"]["replicas"])).sum::<i64>() + size;
        let target =
            if size >= limits.desired { limits.desired } else { rollout::rolling_new_size(limits, size, total) };
        self.scale(new, target, false)
    }

    fn reconcile_old(&self, new: &Value, old: &mut [Value]) -> Result<bool, ApiError> {
        let size = |rs: &Value| Size {
            replicas: int(&rs["spec"]["replicas"]),
            available: int(&rs["status"]["availableReplicas"]),
        };
        let sizes: Vec<Size> = old.iter().map(size).collect();
        let targets = rollout::rolling_old_sizes(self.limits(), size(new), &sizes);
        let mut scaled = false;
        for (rs, target) in old.iter_mut().zip(targets) {
            scaled |= self.scale(rs, target, false)?;
        }
        Ok(scaled)
    }

    fn recreate(mut self, sets: Vec<Value>) -> Result<Action, ApiError> {
        let (new, mut old) = self.get_all(sets, false)?;
        let mut scaled = false;
        for rs in old.iter_mut().filter(|rs| int(&rs["spec"]["replicas"]) > 0) {
            scaled |= self.scale(rs, 0, false)?;
        }
        if scaled || self.old_pods_running(new.as_ref(), &old) {
            return self.rollout_status(new.as_ref(), &old);
        }
        let (new, old) = match new {
            Some(new) => (Some(new), old),
            None => self.get_all(old, true)?,
        };
        let Some(mut new) = new else {
            return self.rollout_status(None, &old);
        };
        self.scale(&mut new, self.limits().desired, false)?;
        if status::is_complete(&self.original, &self.original["status"]) {
            self.clean_up(&old)?;
        }
        self.rollout_status(Some(&new), &old)
    }

    /// Whether pods of the old ReplicaSets still exist and have not finished.
    fn old_pods_running(&self, new: Option<&Value>, old: &[Value]) -> bool {
        if old.iter().map(|rs| int(&rs["status"]["replicas"])).sum::<i64>() > 0 {
            return true;
        }
        let pods = builtin_type("", "pods");
        let (snapshot, _) = self.sb.store().list(&pods.id(), Some(object::namespace(&self.d)), None, 0, |_| true);
        snapshot.items.iter().any(|pod| {
            let phase = pod["status"]["phase"].as_str().unwrap_or_default();
            let finished = phase == "Succeeded" || phase == "Failed";
            !finished
                && old.iter().any(|rs| owners::is_controlled_by(pod, rs))
                && !new.is_some_and(|n| owners::is_controlled_by(pod, n))
        })
    }
}

fn set_min_ready(rs: &mut Value, seconds: i64) {
    if seconds > 0 {
        rs["spec"]["minReadySeconds"] = json!(seconds);
    } else if let Some(spec) = rs["spec"].as_object_mut() {
        spec.remove("minReadySeconds");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_differing_only_in_the_hash_label_are_the_same() {
        let deployment = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}});
        let rs = json!({"metadata": {"labels": {"app": "web", HASH_LABEL: "abc"}}, "spec": {"containers": []}});
        assert!(same_template(&deployment, &rs));
        let restarted = json!({"metadata": {"labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}, "spec": {"containers": []}});
        assert!(!same_template(&restarted, &rs));
        assert!(same_template(&json!({"metadata": {}}), &json!({"metadata": {"labels": {HASH_LABEL: "x"}}})));
    }

    #[test]
    fn replica_sets_sort_oldest_first() {
        let mut sets = vec![
            json!({"metadata": {"name": "b", "creationTimestamp": "2026-01-01T00:00:02Z"}}),
            json!({"metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:01Z"}}),
        ];
        by_age(&mut sets);
        assert_eq!(object::name(&sets[0]), "a");
    }
}

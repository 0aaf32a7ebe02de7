//! The HorizontalPodAutoscaler controller (autoscaling/v2): every 15 s it measures the simulated
//! CPU use of the scale target's ready pods, computes the replica count as upstream does (see
//! [`autoscaler_math`](super::autoscaler_math)) and writes it through the target's `scale`
//! subresource, recording `SuccessfulRescale` events and upstream's status and conditions.
//!
//! The CPU the target's pods use: the scale target's [`LOAD_ANNOTATION`], a total its ready pods
//! share evenly (so more replicas each use less, and the autoscaler settles); without it, each
//! container uses its pod's [`CPU_ANNOTATION`] or else what the node's image table declares for
//! its image (given to the controller by the composition root, since this crate does not see the
//! node).

use super::autoscaler_math::{self as math, Rules, Target, Usage};
use super::owners::{self, int, is_active, is_ready};
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType, builtin_type};
use gitops_sandbox_core::selectors::LabelSelector;
use gitops_sandbox_core::time;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SOURCE: Source = Source { component: "horizontal-pod-autoscaler", host: None };
/// The annotation on a pod (or in a pod template) setting the CPU each of its containers uses, as
/// a quantity: `gitops-lab.dev/cpu-usage: 400m`.
pub const CPU_ANNOTATION: &str = "gitops-lab.dev/cpu-usage";
/// The annotation on a scaled workload setting the CPU all its ready pods use together, shared
/// evenly between them: `gitops-lab.dev/cpu-load: 160m`.
pub const LOAD_ANNOTATION: &str = "gitops-lab.dev/cpu-load";
/// Upstream's `--horizontal-pod-autoscaler-sync-period`.
pub const SYNC_PERIOD: Duration = Duration::from_secs(15);
/// How upstream names the utilization metric in events and conditions.
const CPU_UTILIZATION: &str = "cpu resource utilization (percentage of request)";

/// The CPU (millicores) a container of this image uses when nothing overrides it.
pub type ImageCpu = Arc<dyn Fn(&str) -> Option<i64> + Send + Sync>;

/// An autoscaler's namespace and name.
type Key = (String, String);

/// Scales workloads from their simulated CPU use.
pub struct Autoscaler {
    image_cpu: ImageCpu,
    period: Duration,
    /// Past recommendations per autoscaler, for the stabilization window (in memory, as upstream).
    history: Mutex<HashMap<Key, Vec<(Timestamp, i64)>>>,
    /// Per autoscaler, the resourceVersion it was left at by its last sync, and when: the watch
    /// event of the controller's own status write must not start a new measure before the period.
    synced: Mutex<HashMap<Key, (String, Instant)>>,
}

impl Autoscaler {
    /// An autoscaler reading images' CPU use from `image_cpu`, syncing every [`SYNC_PERIOD`].
    pub fn new(image_cpu: ImageCpu) -> Self {
        Self::with_period(image_cpu, SYNC_PERIOD)
    }

    /// The same with another sync period (tests use zero to measure at every reconcile).
    pub fn with_period(image_cpu: ImageCpu, period: Duration) -> Self {
        Self { image_cpu, period, history: Mutex::default(), synced: Mutex::default() }
    }

    /// How long to wait if this version of the autoscaler was synced less than a period ago.
    fn too_soon(&self, hpa: &Value) -> Result<Option<Duration>, ApiError> {
        let synced = self.synced.lock().map_err(|_| ApiError::internal("autoscaler state poisoned"))?;
        let key = (object::namespace(hpa).to_string(), object::name(hpa).to_string());
        Ok(synced.get(&key).and_then(|(version, at)| {
            (version == resource_version(hpa))
                .then(|| self.period.checked_sub(at.elapsed()))
                .flatten()
                .filter(|d| !d.is_zero())
        }))
    }

    fn note_synced(&self, hpa: &Value, version: String) -> Result<(), ApiError> {
        let mut synced = self.synced.lock().map_err(|_| ApiError::internal("autoscaler state poisoned"))?;
        synced.insert((object::namespace(hpa).to_string(), object::name(hpa).to_string()), (version, Instant::now()));
        Ok(())
    }
}

fn autoscalers() -> &'static ResourceType {
    builtin_type("autoscaling", "horizontalpodautoscalers")
}

/// The type of a scale target, for the kinds the sandbox can scale.
fn scalable(kind: &str, api_version: &str) -> Option<&'static ResourceType> {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    match (kind, group) {
        ("Deployment", "apps") => Some(builtin_type("apps", "deployments")),
        ("ReplicaSet", "apps") => Some(builtin_type("apps", "replicasets")),
        ("StatefulSet", "apps") => Some(builtin_type("apps", "statefulsets")),
        ("ReplicationController", "") => Some(builtin_type("", "replicationcontrollers")),
        _ => None,
    }
}

impl Controller for Autoscaler {
    fn name(&self) -> &'static str {
        "horizontal-pod-autoscaler"
    }

    fn primary(&self) -> ResourceId {
        autoscalers().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(hpa) = sb.get(autoscalers(), Some(&target.namespace), &target.name) else {
            self.history.lock().map_err(|_| ApiError::internal("autoscaler history poisoned"))?.remove(&key(target));
            return Ok(Action::Done);
        };
        if owners::is_deleting(&hpa) {
            return Ok(Action::Done);
        }
        if let Some(wait) = self.too_soon(&hpa)? {
            return Ok(Action::RequeueAfter(wait));
        }
        let mut run = Run { sb, hpa: hpa.as_ref().clone(), status: hpa["status"].clone(), now: Timestamp::now() };
        run.status["observedGeneration"] = json!(int(&hpa["metadata"]["generation"]));
        match run.scale_target() {
            Ok((rt, workload)) => self.autoscale(&mut run, rt, &workload)?,
            Err(message) => {
                run.warn("FailedGetScale", &message);
                run.condition(
                    "AbleToScale",
                    "False",
                    "FailedGetScale",
                    &format!("the HPA controller was unable to get the target's current scale: {message}"),
                );
            }
        }
        let version = run.write()?;
        self.note_synced(&hpa, version)?;
        Ok(Action::RequeueAfter(self.period.max(Duration::from_millis(1))))
    }
}

fn resource_version(obj: &Value) -> &str {
    obj["metadata"]["resourceVersion"].as_str().unwrap_or_default()
}

fn key(target: &ObjectRef) -> Key {
    (target.namespace.clone(), target.name.clone())
}

impl Autoscaler {
    /// Measures, decides and rescales one autoscaler's target.
    fn autoscale(&self, run: &mut Run, rt: &'static ResourceType, workload: &Value) -> Result<(), ApiError> {
        let current = workload["spec"]["replicas"].as_i64().unwrap_or(1);
        run.status["currentReplicas"] = json!(current);
        run.condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
        let (desired, reason) = self.decide(run, workload, current)?;
        run.status["desiredReplicas"] = json!(desired);
        if desired == current {
            return Ok(());
        }
        match rescale(run.sb, rt, workload, desired) {
            Ok(()) => {
                let message = format!("New size: {desired}; reason: {reason}");
                run.sb.record(SOURCE, &run.hpa, EventType::Normal, "SuccessfulRescale", message);
                let message = format!("the HPA controller was able to update the target scale to {desired}");
                run.condition("AbleToScale", "True", "SucceededRescale", &message);
                run.status["lastScaleTime"] = json!(time::rfc3339(run.now));
            }
            Err(error) => {
                run.warn("FailedRescale", &format!("New size: {desired}; reason: {reason}; error: {}", error.message));
                let message = format!("the HPA controller was unable to update the target scale: {}", error.message);
                run.condition("AbleToScale", "False", "FailedUpdateScale", &message);
            }
        }
        Ok(())
    }

    /// The size to scale to and why (upstream's rescale reasons): the min/max bounds first, then
    /// the metrics; a metric that cannot be measured keeps the current size.
    fn decide(&self, run: &mut Run, workload: &Value, current: i64) -> Result<(i64, String), ApiError> {
        let (min, max) = (run.hpa["spec"]["minReplicas"].as_i64().unwrap_or(1), int(&run.hpa["spec"]["maxReplicas"]));
        if current == 0 && min != 0 {
            let message = "scaling is disabled since the replica count of the target is zero";
            run.condition("ScalingActive", "False", "ScalingDisabled", message);
            return Ok((0, String::new()));
        }
        if current > max {
            return Ok((max, "Current number of replicas above Spec.MaxReplicas".into()));
        }
        if current < min {
            return Ok((min, "Current number of replicas below Spec.MinReplicas".into()));
        }
        match self.measure(run, workload, current) {
            Ok((proposal, metric)) => {
                let desired = self.normalize(run, current, proposal, min, max)?;
                let reason = if desired > current {
                    format!("{metric} above target")
                } else {
                    "All metrics below target".into()
                };
                Ok((desired, reason))
            }
            Err(message) => {
                run.warn("FailedGetResourceMetric", &message);
                let first = format!("invalid metrics (1 invalid out of 1), first error is: {message}");
                run.warn("FailedComputeMetricsReplicas", &first);
                let condition = format!("the HPA was unable to compute the replica count: {message}");
                run.condition("ScalingActive", "False", "FailedGetResourceMetric", &condition);
                Ok((current, String::new()))
            }
        }
    }

    /// The replica count the metrics propose (the largest over the metrics), and the metric's
    /// name for the rescale reason; sets `currentMetrics` and ScalingActive.
    fn measure(&self, run: &mut Run, workload: &Value, current: i64) -> Result<(i64, String), String> {
        let usage = self.usage(run, workload)?;
        let mut best: Option<(i64, String)> = None;
        let mut measured = Vec::new();
        for metric in run.hpa["spec"]["metrics"].as_array().cloned().unwrap_or_default() {
            let (target, name) = metric_target(&metric)?;
            let (proposal, value) = math::proposal(usage, target, current);
            let (current_value, label) = match target {
                Target::Utilization(_) => (
                    json!({"averageUtilization": value, "averageValue": format!("{}m", usage.used / usage.ready.max(1))}),
                    CPU_UTILIZATION.to_string(),
                ),
                Target::AverageValue(_) => (json!({"averageValue": format!("{value}m")}), format!("{name} resource")),
            };
            measured.push(json!({"type": "Resource", "resource": {"name": name, "current": current_value}}));
            if best.as_ref().is_none_or(|(b, _)| proposal > *b) {
                best = Some((proposal, label));
            }
        }
        let (proposal, label) = best.ok_or("the autoscaler has no metrics")?;
        run.status["currentMetrics"] = json!(measured);
        run.condition(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            &format!("the HPA was able to successfully calculate a replica count from {label}"),
        );
        Ok((proposal, label))
    }

    /// The target's pods' CPU: ready pods are measured, pods still starting only counted.
    fn usage(&self, run: &Run, workload: &Value) -> Result<Usage, String> {
        let selector = if workload["kind"] == "ReplicationController" {
            LabelSelector::from_object(&json!({"matchLabels": workload["spec"]["selector"]}))
        } else {
            LabelSelector::from_object(&workload["spec"]["selector"])
        }?;
        let namespace = object::namespace(workload);
        let (pods, _) = run.sb.store().list(&builtin_type("", "pods").id(), Some(namespace), None, 0, |p| {
            is_active(p) && selector.matches(p["metadata"].get("labels"))
        });
        let mut usage = Usage::default();
        for pod in &pods.items {
            if !(pod["status"]["phase"] == "Running" && is_ready(pod)) {
                usage.unready += 1;
                continue;
            }
            usage.ready += 1;
            for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
                let request = container["resources"]["requests"]["cpu"].as_str().and_then(math::millicores);
                let Some(request) =
                    request.or_else(|| container["resources"]["requests"]["cpu"].as_i64().map(|c| c * 1000))
                else {
                    return Err(format!(
                        "failed to get cpu utilization: missing request for cpu in container {} of Pod {}",
                        container["name"].as_str().unwrap_or_default(),
                        object::name(pod)
                    ));
                };
                usage.requested += request;
                usage.used += self.cpu_of(pod, container);
            }
        }
        if usage.ready == 0 {
            return Err(
                "failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)"
                    .into(),
            );
        }
        if let Some(load) = workload["metadata"]["annotations"][LOAD_ANNOTATION].as_str().and_then(math::millicores) {
            usage.used = load;
        }
        Ok(usage)
    }

    /// A container's simulated CPU use: its pod's annotation, or its image's.
    fn cpu_of(&self, pod: &Value, container: &Value) -> i64 {
        pod["metadata"]["annotations"][CPU_ANNOTATION]
            .as_str()
            .and_then(math::millicores)
            .or_else(|| container["image"].as_str().and_then(|image| (self.image_cpu)(image)))
            .unwrap_or(0)
    }

    /// Stabilization, rate limits and the min/max clamp, with the conditions they set.
    fn normalize(&self, run: &mut Run, current: i64, proposal: i64, min: i64, max: i64) -> Result<i64, ApiError> {
        let behavior = run.hpa["spec"]["behavior"].clone();
        let (up, down) = (Rules::up(&behavior), Rules::down(&behavior));
        let keep = up.window.max(down.window);
        let earlier: Vec<(i64, i64)> = {
            let mut all = self.history.lock().map_err(|_| ApiError::internal("autoscaler history poisoned"))?;
            let own = all.entry((object::namespace(&run.hpa).into(), object::name(&run.hpa).into())).or_default();
            let age = |at: &Timestamp| run.now.duration_since(*at).as_millis() as i64;
            own.retain(|(at, _)| age(at) < keep * 1000);
            let earlier = own.iter().map(|(at, r)| (age(at), *r)).collect();
            own.push((run.now, proposal));
            earlier
        };
        let stable = math::stabilize(current, proposal, &earlier, &up, &down);
        if stable != proposal {
            run.condition(
                "AbleToScale",
                "True",
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            );
        }
        let limited = math::rate_limit(current, stable, &up, &down);
        let clamped = limited.clamp(min, max.max(min));
        let reason = if limited > max {
            "TooManyReplicas"
        } else if limited < min {
            "TooFewReplicas"
        } else if limited < stable {
            "ScaleUpLimit"
        } else if limited > stable {
            "ScaleDownLimit"
        } else {
            "DesiredWithinRange"
        };
        let (status, reason, message) = math::limited(reason != "DesiredWithinRange", reason);
        run.condition("ScalingLimited", status, &reason, &message);
        Ok(clamped)
    }
}

/// Writes the new size through the target's `scale` subresource, if it is still the same object.
fn rescale(sb: &Sandbox, rt: &'static ResourceType, workload: &Value, desired: i64) -> Result<(), ApiError> {
    let uid = workload["metadata"]["uid"].clone();
    let options = WriteOptions { subresource: Some("scale".into()), ..Default::default() };
    let (namespace, name) = (object::namespace(workload), object::name(workload));
    sb.modify(rt, Some(namespace), name, UpdateScope::Main, options, |current| {
        if current["metadata"]["uid"] != uid {
            return Err(ApiError::conflict(rt, name, "the object was replaced"));
        }
        let mut next = current.clone();
        next["spec"]["replicas"] = json!(desired);
        Ok(next)
    })?;
    Ok(())
}

/// A metric's target and resource name; only the cpu resource is simulated.
fn metric_target(metric: &Value) -> Result<(Target, String), String> {
    let name = metric["resource"]["name"].as_str().unwrap_or_default().to_string();
    if metric["type"] != "Resource" || name != "cpu" {
        let what =
            if metric["type"] == "Resource" { name } else { metric["type"].as_str().unwrap_or_default().to_string() };
        return Err(format!("the sandbox simulates only the cpu resource metric, not {what}"));
    }
    let target = &metric["resource"]["target"];
    match (target["averageUtilization"].as_i64(), target["averageValue"].as_str().and_then(math::millicores)) {
        (Some(percent), _) => Ok((Target::Utilization(percent), name)),
        (None, Some(value)) => Ok((Target::AverageValue(value), name)),
        _ => Err("the cpu metric has neither averageUtilization nor averageValue".into()),
    }
}

/// One reconcile of one autoscaler: the object as read and the status being built.
struct Run<'a> {
    sb: &'a Sandbox,
    hpa: Value,
    status: Value,
    now: Timestamp,
}

impl Run<'_> {
    /// The scale target, or why it cannot be read (upstream's wording).
    fn scale_target(&self) -> Result<(&'static ResourceType, Arc<Value>), String> {
        let target = &self.hpa["spec"]["scaleTargetRef"];
        let (kind, name) = (target["kind"].as_str().unwrap_or_default(), target["name"].as_str().unwrap_or_default());
        let api_version = target["apiVersion"].as_str().unwrap_or_default();
        let Some(rt) = scalable(kind, api_version) else {
            let group = api_version.split_once('/').map_or("", |(g, _)| g);
            return Err(format!("no matches for kind \"{kind}\" in group \"{group}\""));
        };
        match self.sb.get(rt, Some(object::namespace(&self.hpa)), name) {
            Some(workload) => Ok((rt, workload)),
            None if rt.group.is_empty() => Err(format!("{} \"{name}\" not found", rt.plural)),
            None => Err(format!("{}.{} \"{name}\" not found", rt.plural, rt.group)),
        }
    }

    fn warn(&self, reason: &str, message: &str) {
        self.sb.record(SOURCE, &self.hpa, EventType::Warning, reason, message.to_string());
    }

    /// Sets a condition in upstream's order (AbleToScale, ScalingActive, ScalingLimited), keeping
    /// its transition time when the status did not change.
    fn condition(&mut self, kind: &str, status: &str, reason: &str, message: &str) {
        let mut conditions: Vec<Value> = self.status["conditions"].as_array().cloned().unwrap_or_default();
        let since = match conditions.iter().find(|c| c["type"] == kind) {
            Some(old) if old["status"] == status => old["lastTransitionTime"].clone(),
            _ => json!(time::rfc3339(self.now)),
        };
        conditions.retain(|c| c["type"] != kind);
        conditions.push(json!({"type": kind, "status": status, "lastTransitionTime": since, "reason": reason,
            "message": message}));
        let order = |c: &Value| ["AbleToScale", "ScalingActive", "ScalingLimited"].iter().position(|k| c["type"] == *k);
        conditions.sort_by_key(order);
        self.status["conditions"] = json!(conditions);
    }

    /// Writes the status if it changed; returns the autoscaler's resourceVersion after it.
    fn write(&self) -> Result<String, ApiError> {
        let version = resource_version(&self.hpa).to_string();
        if self.hpa["status"] == self.status {
            return Ok(version);
        }
        let (uid, status) = (self.hpa["metadata"]["uid"].clone(), self.status.clone());
        let (namespace, name) = (object::namespace(&self.hpa), object::name(&self.hpa));
        let written = self.sb.modify(
            autoscalers(),
            Some(namespace),
            name,
            UpdateScope::Status,
            WriteOptions::default(),
            |current| {
                if current["metadata"]["uid"] != uid {
                    return Err(ApiError::conflict(autoscalers(), name, "the object was replaced"));
                }
                let mut next = current.clone();
                next["status"] = status;
                Ok(next)
            },
        );
        match written {
            Ok(outcome) => Ok(resource_version(&outcome.object).to_string()),
            // Deleted or changed meanwhile: the change brings it back.
            Err(error) if error.is_not_found() || error.is_conflict() => Ok(version),
            Err(error) => Err(error),
        }
    }
}

//! The node's pace: `instant` (pulls, starts and stops happen at once: tests and benchmarks) or
//! `realistic` (they take as long as on a small local cluster), so `kubectl get pods -w` during a
//! rollout shows a pod pass through `ContainerCreating` and `Terminating` as on minikube.
//!
//! The setting lives on the Node object, as the annotation `gitops-lab.dev/pace`: `sandbox serve
//! --pace` (or `GITOPS_LAB_SANDBOX_PACE`) writes it at start, and a learner may change it with
//! `kubectl annotate node sandbox gitops-lab.dev/pace=realistic --overwrite`. The durations are
//! data: the `pace` section of `data/images.yaml`.

use crate::SimulatedNode;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::builtin_type;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The Node annotation that holds the pace.
pub const ANNOTATION: &str = "gitops-lab.dev/pace";

/// How fast the node's containers come and go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pace {
    /// Everything at once (the default without a setting).
    #[default]
    Instant,
    /// Image pulls, container starts and graceful stops take as long as the table says.
    Realistic,
}

/// A pace name that is neither `instant` nor `realistic`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown pace \"{0}\": use \"instant\" or \"realistic\" / 未知的节奏 \"{0}\"：请使用 \"instant\" 或 \"realistic\""
)]
pub struct UnknownPace(pub String);

impl std::str::FromStr for Pace {
    type Err = UnknownPace;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "instant" => Ok(Pace::Instant),
            "realistic" => Ok(Pace::Realistic),
            other => Err(UnknownPace(other.to_string())),
        }
    }
}

impl Pace {
    /// The name the annotation and the flag use.
    pub fn as_str(self) -> &'static str {
        match self {
            Pace::Instant => "instant",
            Pace::Realistic => "realistic",
        }
    }

    /// The pace a Node object asks for; `instant` without the annotation or with a value it does
    /// not know (a typo must not stop the node).
    pub fn of_node(node: &Value) -> Pace {
        node["metadata"]["annotations"][ANNOTATION].as_str().and_then(|v| v.parse().ok()).unwrap_or_default()
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(value: u8) -> Pace {
        if value == Pace::Realistic as u8 { Pace::Realistic } else { Pace::Instant }
    }
}

/// How long things take at the realistic pace (`pace` in `data/images.yaml`); durations are
/// written as `600ms` or `1.5s`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Setting up a pod's sandbox and creating a container, before its first start.
    #[serde(with = "text")]
    pub create: Duration,
    /// The fixed part of an image pull (resolving, the manifest, unpacking).
    #[serde(with = "text")]
    pub pull_base: Duration,
    /// Download speed for the image's size.
    pub pull_bytes_per_second: u64,
    /// How long a main process that handles SIGTERM takes to exit.
    #[serde(with = "text")]
    pub stop: Duration,
    /// The longest wait for a main process that ignores SIGTERM (a real kubelet waits the whole
    /// grace period, 30 s by default, before SIGKILL; a lesson should not).
    #[serde(with = "text")]
    pub longest_stop: Duration,
}

impl Timings {
    /// How long pulling an image of `size` bytes takes.
    pub fn pull(&self, size: u64) -> Duration {
        let speed = self.pull_bytes_per_second.max(1);
        self.pull_base + Duration::from_millis(size.saturating_mul(1000) / speed)
    }

    /// How long stopping a container takes: `handles_term` says whether its main process exits on
    /// SIGTERM; `grace` is the pod's deletion grace period in seconds.
    pub fn stopping(&self, handles_term: bool, grace: u64) -> Duration {
        let grace = Duration::from_secs(grace);
        if handles_term { self.stop.min(grace) } else { grace.min(self.longest_stop) }
    }
}

/// Durations in the table's text form.
mod text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_duration(&text).ok_or_else(|| serde::de::Error::custom(format!("not a duration: {text}")))
    }
}

/// Parses `250ms`, `2s` or `1.5s`.
fn parse_duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// A duration as Go prints one truncated to milliseconds (`812ms`, `1.8s`, `1m2.5s`), as the
/// kubelet's `Pulled` event does.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (minutes, rest) = (ms / 60_000, ms % 60_000);
    let seconds = format!("{}.{:03}", rest / 1000, rest % 1000);
    let seconds = seconds.trim_end_matches('0').trim_end_matches('.');
    if minutes > 0 { format!("{minutes}m{seconds}s") } else { format!("{seconds}s") }
}

/// Writes the pace on the Node object (registering the node first if needed), as `sandbox serve
/// --pace` does at start.
pub fn write(sandbox: &Sandbox, pace: Pace) -> Result<(), ApiError> {
    crate::heartbeat::ensure(sandbox)?;
    let nodes = builtin_type("", "nodes");
    sandbox.modify(nodes, None, SimulatedNode::NAME, UpdateScope::Main, Default::default(), |current| {
        let mut new = current.clone();
        if !new["metadata"]["annotations"].is_object() {
            new["metadata"]["annotations"] = json!({});
        }
        new["metadata"]["annotations"][ANNOTATION] = json!(pace.as_str());
        Ok(new)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_comes_from_the_node_annotation_and_a_typo_keeps_it_instant() {
        let node = |value: &str| json!({"metadata": {"annotations": {ANNOTATION: value}}});
        assert_eq!(Pace::of_node(&node("realistic")), Pace::Realistic);
        assert_eq!(Pace::of_node(&node("instant")), Pace::Instant);
        assert_eq!(Pace::of_node(&node("Realistic")), Pace::Instant);
        assert_eq!(Pace::of_node(&json!({"metadata": {}})), Pace::Instant);
        let error = "fast".parse::<Pace>().unwrap_err().to_string();
        assert!(error.contains("unknown pace \"fast\"") && error.contains("未知的节奏"), "{error}");
    }

    #[test]
    fn durations_parse_from_the_table_and_print_like_go() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("2"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(go_duration(Duration::from_millis(812)), "812ms");
        assert_eq!(go_duration(Duration::from_millis(1800)), "1.8s");
        assert_eq!(go_duration(Duration::from_millis(2000)), "2s");
        assert_eq!(go_duration(Duration::from_millis(1803)), "1.803s");
        assert_eq!(go_duration(Duration::from_millis(62_500)), "1m2.5s");
    }

    #[test]
    fn the_tables_timings_make_a_pull_grow_with_the_image_and_bound_a_stop() {
        let timings = &crate::images::table().pace;
        let nginx = timings.pull(72_955_450);
        let busybox = timings.pull(2_166_802);
        assert!(nginx > busybox && busybox > timings.pull_base, "{nginx:?} {busybox:?}");
        assert!(nginx < Duration::from_secs(5), "a pull a learner can wait for: {nginx:?}");
        assert_eq!(timings.stopping(true, 30), timings.stop);
        assert_eq!(timings.stopping(false, 30), timings.longest_stop);
        assert_eq!(timings.stopping(false, 0), Duration::ZERO, "--grace-period=0 stops at once");
        assert_eq!(timings.stopping(true, 0), Duration::ZERO);
    }
}

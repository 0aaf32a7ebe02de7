//! Pulling a container's image: the `Pulling`/`Pulled` events and their failures, and at the
//! realistic pace the wait before a start (the pod's sandbox being created, the image coming down).

use super::{event, field_path};
use crate::SimulatedNode;
use crate::images::{self, Resolved};
use crate::pace::{self, Pace};
use crate::runtime::{PodRuntime, Preparing};
use gitops_sandbox_core::events::EventType;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

/// Whether a start can go ahead now; at the realistic pace it first waits while the pod's sandbox
/// is created (first run) and the image is pulled.
pub(super) enum Prepared {
    /// Start now; `Some` is how long the image pull took (already announced by `Pulling`).
    Now(Option<Duration>),
    /// Look again after this long.
    After(Duration),
}

/// At the realistic pace, begins (or checks on) the wait before a container start: announces
/// the pull, and says when the container may start.
pub(super) fn prepare(node: &SimulatedNode, pod: &Value, rt: &PodRuntime, spec: &Value, init: bool) -> Prepared {
    if node.pace() == Pace::Instant {
        return Prepared::Now(None);
    }
    let name = spec["name"].as_str().unwrap_or_default();
    let now = Instant::now();
    let mut containers = rt.containers();
    let Some(c) = containers.get_mut(name) else { return Prepared::Now(None) };
    match c.preparing {
        Some(p) if now < p.ready_at => Prepared::After(p.ready_at - now),
        Some(p) => {
            c.preparing = None;
            Prepared::Now(p.pulling.then(|| now - p.since))
        }
        None => {
            let timings = &images::table().pace;
            let size = pull_size(node, spec);
            let create = if c.run == 0 { timings.create } else { Duration::ZERO };
            let wait = create + size.map_or(Duration::ZERO, |size| timings.pull(size));
            if wait.is_zero() {
                return Prepared::Now(None);
            }
            c.preparing = Some(Preparing { since: now, ready_at: now + wait, pulling: size.is_some() });
            drop(containers);
            if size.is_some() {
                let image = spec["image"].as_str().unwrap_or_default();
                let path = Some(field_path(init, name));
                event(node.sandbox(), pod, path, EventType::Normal, "Pulling", format!("Pulling image \"{image}\""));
            }
            Prepared::After(wait)
        }
    }
}

/// The size of the image a start of `spec` will pull, or `None` when it pulls nothing (present,
/// `Never`, or an invalid reference that fails at once).
fn pull_size(node: &SimulatedNode, spec: &Value) -> Option<u64> {
    let image = spec["image"].as_str().unwrap_or_default();
    match images::table().resolve(image) {
        Resolved::Invalid => None,
        resolved => pulls(node, spec, image).then(|| image_size(&resolved)),
    }
}

/// Whether a start of `spec` pulls `image` under its pull policy (`IfNotPresent` by default).
fn pulls(node: &SimulatedNode, spec: &Value, image: &str) -> bool {
    let policy = spec["imagePullPolicy"].as_str().unwrap_or("IfNotPresent");
    policy == "Always" || (policy == "IfNotPresent" && !node.pulled(image))
}

/// The size the `Pulled` event reports: the table's, or a small default for an image the node
/// does not simulate.
fn image_size(resolved: &Resolved<'_>) -> u64 {
    match resolved {
        Resolved::Known(spec, _) => spec.size,
        _ => 4_000_000,
    }
}

/// Pulls (or finds) the image, reporting events; `Err` is the waiting reason and message.
/// `pulled_in` is how long a pull took at the realistic pace (its `Pulling` event already sent).
pub(super) fn pull(
    node: &SimulatedNode,
    pod: &Value,
    spec: &Value,
    init: bool,
    pulled_in: Option<Duration>,
) -> Result<Resolved<'static>, (String, String)> {
    let sb = node.sandbox();
    let table = images::table();
    let image = spec["image"].as_str().unwrap_or_default();
    let name = spec["name"].as_str().unwrap_or_default();
    let path = Some(field_path(init, name));
    let resolved = table.resolve(image);
    let present = node.pulled(image);
    let policy = spec["imagePullPolicy"].as_str().unwrap_or("IfNotPresent");
    if matches!(resolved, Resolved::Invalid) {
        event(sb, pod, path.clone(), EventType::Normal, "Pulling", format!("Pulling image \"{image}\""));
        let message = format!(
            "Failed to pull image \"{image}\": rpc error: code = InvalidArgument desc = invalid reference format"
        );
        event(sb, pod, path.clone(), EventType::Warning, "Failed", message.clone());
        event(sb, pod, path, EventType::Warning, "Failed", "Error: ErrImagePull".into());
        return Err(("ErrImagePull".into(), message));
    }
    if pulls(node, spec, image) {
        if pulled_in.is_none() {
            event(sb, pod, path.clone(), EventType::Normal, "Pulling", format!("Pulling image \"{image}\""));
        }
        let size = image_size(&resolved);
        let took = pace::go_duration(pulled_in.unwrap_or(Duration::from_millis(1)));
        let message = format!(
            "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {size} bytes."
        );
        event(sb, pod, path, EventType::Normal, "Pulled", message);
        node.mark_pulled(image);
    } else if policy == "Never" && !present && !matches!(resolved, Resolved::Known(..)) {
        let message = format!("Container image \"{image}\" is not present with pull policy of Never");
        event(sb, pod, path, EventType::Warning, "ErrImageNeverPull", message.clone());
        return Err(("ErrImageNeverPull".into(), message));
    } else {
        event(
            sb,
            pod,
            path,
            EventType::Normal,
            "Pulled",
            format!("Container image \"{image}\" already present on machine"),
        );
    }
    Ok(resolved)
}

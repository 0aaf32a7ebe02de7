//! The arithmetic of the HorizontalPodAutoscaler, kept pure for testing: CPU quantities, the
//! replica count a metric proposes (upstream's ratio with a 0.1 tolerance), the `behavior`
//! stabilization window and rate limits (simplified: policies limit the change from the current
//! size, not from the size at the start of each policy period), and the min/max clamp.

use serde_json::Value;

/// Upstream's default tolerance: a usage within 10% of the target changes nothing.
pub const TOLERANCE: f64 = 0.1;

/// A CPU quantity in millicores: `250m`, `0.5`, `2`, `100000u`, `5000000n`; `None` if unreadable.
pub fn millicores(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, scale) = match text.char_indices().last()? {
        (i, 'm') => (&text[..i], 1.0),
        (i, 'u') => (&text[..i], 0.001),
        (i, 'n') => (&text[..i], 0.000_001),
        (i, 'k') => (&text[..i], 1_000_000.0),
        _ => (text, 1000.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| (value * scale).ceil() as i64)
}

/// What the ready pods of a target use and ask for, summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// CPU used by the ready pods, in millicores.
    pub used: i64,
    /// CPU requested by the ready pods, in millicores.
    pub requested: i64,
    /// Ready pods (the ones with metrics).
    pub ready: i64,
    /// Pods not ready yet (no metrics): counted as idle when scaling up, as upstream does.
    pub unready: i64,
}

/// How a metric's target is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// `averageUtilization`: percent of the request.
    Utilization(i64),
    /// `averageValue`: millicores per pod.
    AverageValue(i64),
}

/// The replica count a metric proposes for `current` replicas, and its current value (percent
/// for a utilization target, millicores per pod for an average value).
pub fn proposal(usage: Usage, target: Target, current: i64) -> (i64, i64) {
    let (value, ratio) = match target {
        Target::Utilization(want) => {
            let percent = usage.used * 100 / usage.requested.max(1);
            (percent, percent as f64 / want.max(1) as f64)
        }
        Target::AverageValue(want) => {
            let average = usage.used / usage.ready.max(1);
            (average, usage.used as f64 / (want.max(1) * usage.ready.max(1)) as f64)
        }
    };
    if (1.0 - ratio).abs() <= TOLERANCE {
        return (current, value);
    }
    let mut desired = (ratio * usage.ready as f64).ceil() as i64;
    if ratio > 1.0 && usage.unready > 0 {
        // Pods still starting count as idle: scale up only if that still calls for more.
        let all = usage.ready + usage.unready;
        let idle_ratio = ratio * usage.ready as f64 / all as f64;
        desired = if idle_ratio > 1.0 + TOLERANCE { (idle_ratio * all as f64).ceil() as i64 } else { current };
    }
    (desired, value)
}

/// One direction's rules from `spec.behavior` (upstream's defaults when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Seconds of past recommendations to consider.
    pub window: i64,
    /// `(type, value)`: `Pods` or `Percent`.
    pub policies: Vec<(String, i64)>,
    /// `Max`, `Min` or `Disabled`.
    pub select: String,
}

impl Rules {
    /// The scale-up rules: window 0, at most 4 pods or 100% more per step, whichever is more.
    pub fn up(behavior: &Value) -> Self {
        Self::read(&behavior["scaleUp"], 0, &[("Pods", 4), ("Percent", 100)])
    }

    /// The scale-down rules: a 300 s window, up to 100% less per step.
    pub fn down(behavior: &Value) -> Self {
        Self::read(&behavior["scaleDown"], 300, &[("Percent", 100)])
    }

    fn read(rules: &Value, window: i64, policies: &[(&str, i64)]) -> Self {
        let given: Vec<(String, i64)> = rules["policies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["type"].as_str()?.to_string(), p["value"].as_i64()?)))
            .collect();
        Self {
            window: rules["stabilizationWindowSeconds"].as_i64().unwrap_or(window),
            policies: if given.is_empty() {
                policies.iter().map(|(t, v)| (t.to_string(), *v)).collect()
            } else {
                given
            },
            select: rules["selectPolicy"].as_str().unwrap_or("Max").to_string(),
        }
    }
}

/// Upstream's stabilization: the size moves up only to the lowest recommendation within the
/// scale-up window and down only to the highest within the scale-down window. `earlier` holds
/// the earlier recommendations as `(age in milliseconds, replicas)`; `latest` is this one's.
pub fn stabilize(current: i64, latest: i64, earlier: &[(i64, i64)], up: &Rules, down: &Rules) -> i64 {
    let within = |window: i64| earlier.iter().filter(move |(age, _)| *age < window * 1000).map(|(_, r)| *r);
    let up_to = within(up.window).fold(latest, i64::min);
    let down_to = within(down.window).fold(latest, i64::max);
    current.max(up_to).min(down_to)
}

/// How far one step may go from `current`, by the direction's policies.
pub fn rate_limit(current: i64, desired: i64, up: &Rules, down: &Rules) -> i64 {
    if desired > current {
        let limits = up.policies.iter().map(|(kind, value)| match kind.as_str() {
            "Percent" => (current as f64 * (1.0 + *value as f64 / 100.0)).ceil() as i64,
            _ => current + value,
        });
        let limit = match up.select.as_str() {
            "Disabled" => current,
            "Min" => limits.min().unwrap_or(current),
            _ => limits.max().unwrap_or(current),
        };
        desired.min(limit)
    } else if desired < current {
        let limits = down.policies.iter().map(|(kind, value)| match kind.as_str() {
            "Percent" => (current as f64 * (1.0 - *value as f64 / 100.0)).ceil() as i64,
            _ => current - value,
        });
        let limit = match down.select.as_str() {
            "Disabled" => current,
            "Min" => limits.max().unwrap_or(current),
            _ => limits.min().unwrap_or(current),
        };
        desired.max(limit)
    } else {
        desired
    }
}

/// The ScalingLimited condition's status, reason and message for a limited or free count.
pub fn limited(status: bool, reason: &str) -> (&'static str, String, String) {
    let message = match reason {
        "TooManyReplicas" => "the desired replica count is more than the maximum replica count",
        "TooFewReplicas" => "the desired replica count is less than the minimum replica count",
        "ScaleUpLimit" => "the desired replica count is increasing faster than the maximum scale rate",
        "ScaleDownLimit" => "the desired replica count is decreasing faster than the maximum scale rate",
        _ => "the desired count is within the acceptable range",
    };
    (if status { "True" } else { "False" }, reason.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cpu_quantities_read_as_millicores() {
        assert_eq!(millicores("250m"), Some(250));
        assert_eq!(millicores("0.5"), Some(500));
        assert_eq!(millicores("2"), Some(2000));
        assert_eq!(millicores("5000000n"), Some(5));
        assert_eq!(millicores("lots"), None);
        assert_eq!(millicores(""), None);
    }

    #[test]
    fn the_proposal_follows_the_ratio_outside_the_tolerance() {
        let usage = Usage { used: 800, requested: 1000, ready: 2, unready: 0 };
        assert_eq!(proposal(usage, Target::Utilization(50), 2), (4, 80), "80% of 50%: 1.6 × 2, rounded up");
        assert_eq!(proposal(usage, Target::Utilization(75), 2), (2, 80), "within 10% of the target");
        let idle = Usage { used: 20, requested: 1000, ready: 4, unready: 0 };
        assert_eq!(proposal(idle, Target::Utilization(50), 4), (1, 2));
        assert_eq!(proposal(usage, Target::AverageValue(200), 2), (4, 400));
    }

    #[test]
    fn pods_still_starting_hold_back_a_scale_up() {
        let usage = Usage { used: 600, requested: 1000, ready: 2, unready: 2 };
        // 60% of 50% over ready pods, but 30% over all four: no scale up.
        assert_eq!(proposal(usage, Target::Utilization(50), 4).0, 4);
    }

    #[test]
    fn scaling_down_waits_for_the_window_and_up_is_rate_limited() {
        let (up, down) = (Rules::up(&Value::Null), Rules::down(&Value::Null));
        assert_eq!(stabilize(4, 1, &[(200_000, 4)], &up, &down), 4, "a higher recommendation 200 s ago");
        assert_eq!(stabilize(4, 1, &[(400_000, 4)], &up, &down), 1);
        assert_eq!(stabilize(2, 9, &[(1, 2)], &up, &down), 9, "scale-up is not stabilized by default");
        let now = Rules::down(&json!({"scaleDown": {"stabilizationWindowSeconds": 0}}));
        assert_eq!(stabilize(4, 1, &[(0, 4)], &up, &now), 1, "a zero window keeps only the latest");
        assert_eq!(rate_limit(2, 20, &up, &down), 6, "4 pods beats 100%");
        assert_eq!(rate_limit(10, 40, &up, &down), 20, "100% beats 4 pods");
        assert_eq!(rate_limit(10, 1, &up, &down), 1);
        let slow = Rules::down(&json!({"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
            "stabilizationWindowSeconds": 0}}));
        assert_eq!(slow.window, 0);
        assert_eq!(rate_limit(10, 1, &up, &slow), 9);
    }
}

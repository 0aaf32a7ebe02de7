//! The arithmetic of Deployment rollouts, kept pure for testing: the pod-template hash,
//! maxSurge/maxUnavailable resolution, rolling-update steps and proportional scaling.

use gitops_sandbox_core::{digest, names};
use serde_json::Value;

/// The `pod-template-hash` of a template: FNV-1a (32 bits) over the template in a canonical
/// form (keys sorted), plus the collision count when there is one; the decimal number is then
/// spelt in upstream's safe alphabet, which gives names like `web-6b7f9c5d84`.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut text = String::new();
    canonical(template, &mut text);
    if let Some(count) = collision_count {
        text.push_str(&count.to_string());
    }
    let hash = digest::fnv1a_32(text.as_bytes());
    names::safe_encode(hash.to_string().as_bytes())
}

/// JSON with object keys in sorted order, so equal templates always hash equally.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// An int-or-percent value (`3`, `"25%"`) scaled against `total`: percents round up or down.
pub fn scaled_value(value: &Value, total: i64, round_up: bool) -> Result<i64, String> {
    match value {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("invalid value for IntOrString: {n}")),
        Value::String(text) => {
            let percent: i64 = text.strip_suffix('%').and_then(|p| p.parse().ok()).ok_or_else(|| {
                format!("invalid value for IntOrString: invalid type: string is not a percentage: {text:?}")
            })?;
            let scaled = percent * total;
            Ok(if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) })
        }
        other => Err(format!("invalid value for IntOrString: {other}")),
    }
}

/// maxSurge (rounded up) and maxUnavailable (rounded down) for `desired` replicas; both zero
/// would stall a rollout, so unavailable becomes 1 then, as upstream does.
pub fn fenceposts(max_surge: &Value, max_unavailable: &Value, desired: i64) -> Result<(i64, i64), String> {
    let surge = scaled_value(max_surge, desired, true)?;
    let unavailable = scaled_value(max_unavailable, desired, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// The rollout parameters of a Deployment: desired replicas, surge, unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `spec.replicas`.
    pub desired: i64,
    /// Pods allowed above `desired` during a rolling update (0 for Recreate).
    pub surge: i64,
    /// Pods allowed to be unavailable during a rolling update (0 for Recreate).
    pub unavailable: i64,
}

impl Limits {
    /// Reads a Deployment's spec; bad values count as 0 (validation rejects them anyway).
    pub fn of(deployment: &Value) -> Self {
        let spec = &deployment["spec"];
        let desired = spec["replicas"].as_i64().unwrap_or(1);
        if spec["strategy"]["type"] == "Recreate" {
            return Self { desired, surge: 0, unavailable: 0 };
        }
        let rolling = &spec["strategy"]["rollingUpdate"];
        let (surge, unavailable) =
            fenceposts(&rolling["maxSurge"], &rolling["maxUnavailable"], desired).unwrap_or((0, 1));
        // More unavailable than desired means all of them.
        Self { desired, surge, unavailable: unavailable.min(desired) }
    }

    /// The fewest available pods a rolling update keeps.
    pub fn min_available(&self) -> i64 {
        self.desired - self.unavailable
    }
}

/// A ReplicaSet as the rollout arithmetic sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// `spec.replicas`.
    pub replicas: i64,
    /// `status.availableReplicas`.
    pub available: i64,
}

/// The new ReplicaSet's size for the next rolling step: up to `desired`, within the surge.
pub fn rolling_new_size(limits: Limits, new: i64, total: i64) -> i64 {
    let max_total = limits.desired + limits.surge;
    if total >= max_total {
        return new;
    }
    new + (max_total - total).min(limits.desired - new).max(0)
}

/// How far old ReplicaSets may shrink in this step without going below minimum availability,
/// counting the new ReplicaSet's unavailable pods as already missing.
pub fn max_scale_down(limits: Limits, total: i64, new: Size) -> i64 {
    total - limits.min_available() - (new.replicas - new.available)
}

/// New sizes of the old ReplicaSets (oldest first) for one rolling step: first their unavailable
/// pods go, up to `allowed`; then available ones, as far as minimum availability permits.
pub fn rolling_old_sizes(limits: Limits, new: Size, old: &[Size]) -> Vec<i64> {
    let total: i64 = old.iter().map(|s| s.replicas).sum::<i64>() + new.replicas;
    let mut sizes: Vec<i64> = old.iter().map(|s| s.replicas).collect();
    let allowed = max_scale_down(limits, total, new);
    if allowed <= 0 || sizes.iter().all(|&s| s == 0) {
        return sizes;
    }
    let mut cleaned = 0;
    for (size, set) in sizes.iter_mut().zip(old) {
        if cleaned >= allowed {
            break;
        }
        let unhealthy = (set.replicas - set.available).max(0);
        let cut = unhealthy.min(allowed - cleaned);
        *size -= cut;
        cleaned += cut;
    }
    let available: i64 = old.iter().map(|s| s.available).sum::<i64>() + new.available;
    let mut budget = available - limits.min_available();
    for size in sizes.iter_mut() {
        if budget <= 0 {
            break;
        }
        let cut = (*size).min(budget);
        *size -= cut;
        budget -= cut;
    }
    sizes
}

/// One ReplicaSet in a proportional scale: its size, its `max-replicas` annotation, and its age
/// rank (higher is newer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// `spec.replicas`.
    pub replicas: i64,
    /// The `deployment.kubernetes.io/max-replicas` annotation, if readable.
    pub max_replicas: Option<i64>,
    /// Creation order: larger is newer.
    pub age_rank: usize,
}

/// New sizes when a Deployment is scaled in the middle of a rollout: the difference is spread
/// over the active ReplicaSets in proportion to their size, leftovers going to the largest
/// (upstream's proportional scaling). `status_replicas` stands in for a missing annotation.
pub fn proportional_sizes(limits: Limits, status_replicas: i64, shares: &[Share]) -> Vec<i64> {
    let allowed = if limits.desired > 0 { limits.desired + limits.surge } else { 0 };
    let current: i64 = shares.iter().map(|s| s.replicas).sum();
    let to_add = allowed - current;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    // Growing favours the newer of equal sets, shrinking the older.
    order.sort_by(|&a, &b| {
        let (x, y) = (&shares[a], &shares[b]);
        let age = if to_add > 0 { y.age_rank.cmp(&x.age_rank) } else { x.age_rank.cmp(&y.age_rank) };
        y.replicas.cmp(&x.replicas).then(age)
    });
    let mut sizes: Vec<i64> = shares.iter().map(|s| s.replicas).collect();
    if to_add == 0 {
        return sizes;
    }
    let mut added = 0;
    for &i in &order {
        let share = shares[i];
        if share.replicas == 0 || added == to_add {
            continue;
        }
        let fraction = if limits.desired == 0 {
            -share.replicas
        } else {
            let annotated = share.max_replicas.unwrap_or(status_replicas).max(1);
            let scaled = (share.replicas * allowed) as f64 / annotated as f64;
            scaled.round() as i64 - share.replicas
        };
        let room = to_add - added;
        let part = if to_add > 0 { fraction.min(room) } else { fraction.max(room) };
        sizes[i] += part;
        added += part;
    }
    if let Some(&largest) = order.first() {
        sizes[largest] = (sizes[largest] + to_add - added).max(0);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rolling(desired: i64, surge: Value, unavailable: Value) -> Value {
        json!({"spec": {"replicas": desired, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge,
            "maxUnavailable": unavailable}}}})
    }

    #[test]
    fn the_hash_is_stable_short_and_in_upstreams_alphabet() {
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx",
            "image": "nginx"}]}});
        let reordered = json!({"spec": {"containers": [{"image": "nginx", "name": "nginx"}]},
            "metadata": {"labels": {"app": "web"}}});
        let hash = template_hash(&template, None);
        assert_eq!(hash, template_hash(&reordered, None));
        assert!((1..=10).contains(&hash.len()), "{hash}");
        assert!(hash.bytes().all(|b| names::SAFE_ALPHABET.contains(&b)), "{hash}");
        let changed = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx",
            "image": "nginx:1.7.9"}]}});
        assert_ne!(hash, template_hash(&changed, None));
        assert_ne!(hash, template_hash(&template, Some(1)));
    }

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        assert_eq!(fenceposts(&json!("25%"), &json!("25%"), 3), Ok((1, 0)));
        assert_eq!(fenceposts(&json!("25%"), &json!("25%"), 10), Ok((3, 2)));
        assert_eq!(fenceposts(&json!(2), &json!("50%"), 5), Ok((2, 2)));
        assert_eq!(fenceposts(&json!(0), &json!("10%"), 5), Ok((0, 1)), "both zero would stall");
        assert!(fenceposts(&json!("lots"), &json!(1), 5).is_err());
    }

    #[test]
    fn recreate_has_no_surge_and_unavailable_is_capped_at_desired() {
        let recreate = json!({"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}});
        assert_eq!(Limits::of(&recreate), Limits { desired: 3, surge: 0, unavailable: 0 });
        assert_eq!(Limits::of(&rolling(2, json!(1), json!(5))).unavailable, 2);
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        let limits = Limits::of(&rolling(3, json!("25%"), json!("25%")));
        assert_eq!(rolling_new_size(limits, 0, 3), 1, "3 old pods, room for one more");
        assert_eq!(rolling_new_size(limits, 1, 4), 1, "at the surge limit");
        assert_eq!(rolling_new_size(limits, 2, 2), 3, "never past desired");
        assert_eq!(rolling_new_size(limits, 0, 0), 3, "a first rollout starts at full size");
    }

    #[test]
    fn old_replica_sets_shrink_only_as_new_pods_become_available() {
        let limits = Limits::of(&rolling(3, json!("25%"), json!("25%")));
        let old = [Size { replicas: 3, available: 3 }];
        assert_eq!(
            rolling_old_sizes(limits, Size { replicas: 1, available: 0 }, &old),
            [3],
            "the new pod is not available yet"
        );
        assert_eq!(rolling_old_sizes(limits, Size { replicas: 1, available: 1 }, &old), [2]);
        assert_eq!(
            rolling_old_sizes(limits, Size { replicas: 3, available: 3 }, &[Size { replicas: 1, available: 1 }]),
            [0]
        );
    }

    #[test]
    fn unavailable_old_pods_go_first() {
        let limits = Limits::of(&rolling(4, json!(1), json!(1)));
        let old = [Size { replicas: 2, available: 0 }, Size { replicas: 3, available: 3 }];
        // total 6, min available 3, new has 1 unavailable: 2 may go, both from the broken set.
        assert_eq!(rolling_old_sizes(limits, Size { replicas: 1, available: 0 }, &old), [0, 3]);
    }

    #[test]
    fn scaling_mid_rollout_spreads_the_difference_proportionally() {
        // 10 replicas (surge 3) rolling: old 8, new 5 = 13; scaled to 15 (surge 4) allows 19.
        let limits = Limits::of(&rolling(15, json!("25%"), json!("25%")));
        let shares = [
            Share { replicas: 8, max_replicas: Some(13), age_rank: 0 },
            Share { replicas: 5, max_replicas: Some(13), age_rank: 1 },
        ];
        let sizes = proportional_sizes(limits, 13, &shares);
        assert_eq!(sizes.iter().sum::<i64>(), 19);
        assert_eq!(sizes, [12, 7]);
        let zero = Limits { desired: 0, surge: 0, unavailable: 0 };
        assert_eq!(proportional_sizes(zero, 13, &shares), [0, 0]);
    }
}

//! A pod's status as the kubelet reports it: phase, conditions and container statuses, computed
//! from the runtime's container states (upstream's rules for phase and readiness).

use super::runtime::{Container, State, Termination};
use gitops_sandbox_core::time;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn terminated(t: &Termination) -> Value {
    let mut v = json!({"exitCode": t.exit_code, "reason": t.reason, "startedAt": time::rfc3339(t.started),
        "finishedAt": time::rfc3339(t.finished), "containerID": t.container_id});
    if let Some(m) = &t.message {
        v["message"] = json!(m);
    }
    v
}

fn state_json(state: &State) -> Value {
    match state {
        State::Waiting { reason, message } => {
            let mut w = json!({"reason": reason});
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({"waiting": w})
        }
        State::Running { started, .. } => json!({"running": {"startedAt": time::rfc3339(*started)}}),
        State::Terminated(t) => json!({"terminated": terminated(t)}),
    }
}

/// One entry of `containerStatuses`/`initContainerStatuses`.
fn container_status(spec: &Value, c: &Container) -> Value {
    let image = spec["image"].as_str().unwrap_or_default();
    let (full, id) = c.image.clone().unwrap_or_else(|| (image.to_string(), String::new()));
    let ready = c.ready() || (c.init && c.exit_code() == Some(0));
    let mut status = json!({
        "name": c.name, "state": state_json(&c.state),
        "lastState": c.last.as_ref().map_or(json!({}), |t| json!({"terminated": terminated(t)})),
        "ready": ready, "restartCount": c.restarts, "image": full, "imageID": id,
        "started": c.running() && c.started,
    });
    let container_id = match &c.state {
        State::Running { container_id, .. } => Some(container_id.clone()),
        State::Terminated(t) => Some(t.container_id.clone()),
        State::Waiting { .. } => c.last.as_ref().map(|t| t.container_id.clone()),
    };
    if let Some(id) = container_id {
        status["containerID"] = json!(id);
    }
    status
}

/// What the pod's containers add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Every init container completed.
    pub initialized: bool,
    /// An init container failed for good (restartPolicy Never).
    pub init_failed: bool,
    /// The pod phase.
    pub phase: &'static str,
    /// Every app container runs.
    pub ready: bool,
}

/// Phase and readiness from container states, following upstream's `getPhase`.
pub fn summarize(pod: &Value, containers: &BTreeMap<String, Container>) -> Summary {
    let spec = &pod["spec"];
    let policy = spec["restartPolicy"].as_str().unwrap_or("Always");
    let names = |list: &str| -> Vec<String> {
        spec[list].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str().map(String::from)).collect()
    };
    let (inits, apps) = (names("initContainers"), names("containers"));
    let get = |n: &String| containers.get(n);
    let initialized = inits.iter().all(|n| get(n).and_then(Container::exit_code) == Some(0));
    let init_failed =
        policy == "Never" && inits.iter().any(|n| get(n).and_then(Container::exit_code).is_some_and(|c| c != 0));
    let (mut running, mut waiting, mut stopped, mut failed, mut succeeded) = (0, 0, 0, 0, 0);
    for c in apps.iter().map(get) {
        match c.map(|c| (&c.state, c.last.is_some())) {
            Some((State::Running { .. }, _)) => running += 1,
            Some((State::Terminated(t), _)) => {
                stopped += 1;
                failed += usize::from(t.exit_code != 0);
                succeeded += usize::from(t.exit_code == 0);
            }
            // Waiting to restart after a run: stopped, but neither succeeded nor failed (as upstream).
            Some((State::Waiting { .. }, true)) => stopped += 1,
            _ => waiting += 1,
        }
    }
    let phase = if init_failed {
        "Failed"
    } else if !initialized || waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped == 0 {
        "Pending"
    } else {
        match policy {
            "Always" => "Running",
            "OnFailure" if succeeded < stopped => "Running",
            "Never" if failed > 0 => "Failed",
            _ => "Succeeded",
        }
    };
    // A container that completed under Never/OnFailure counts as done, not as restarting.
    let restarting_done = matches!(phase, "Succeeded" | "Failed");
    let ready = !restarting_done && initialized && apps.iter().all(|n| get(n).is_some_and(Container::ready));
    Summary { initialized, init_failed, phase, ready }
}

fn condition(kind: &str, ok: bool, reason: Option<(&str, String)>, previous: &Value, now: &str) -> Value {
    let status = if ok { "True" } else { "False" };
    let old = previous.as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind));
    let since = old.filter(|c| c["status"] == status).and_then(|c| c["lastTransitionTime"].as_str()).unwrap_or(now);
    let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if let (false, Some((reason, message))) = (ok, reason) {
        c["reason"] = json!(reason);
        c["message"] = json!(message);
    }
    c
}

fn not_done(
    pod: &Value,
    list: &str,
    containers: &BTreeMap<String, Container>,
    done: impl Fn(&Container) -> bool,
) -> String {
    let names: Vec<&str> = pod["spec"][list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .filter(|n| !containers.get(*n).is_some_and(&done))
        .collect();
    format!("[{}]", names.join(" "))
}

/// The whole status: the previous one's timestamps and fields are kept where they still hold.
pub fn pod_status(pod: &Value, ip: &str, started: &jiff::Timestamp, containers: &BTreeMap<String, Container>) -> Value {
    let previous = &pod["status"];
    let now = time::now_rfc3339();
    let summary = summarize(pod, containers);
    let conds = &previous["conditions"];
    let unready = (!summary.ready).then(|| {
        let reason =
            if matches!(summary.phase, "Succeeded" | "Failed") { "PodCompleted" } else { "ContainersNotReady" };
        (
            reason,
            format!("containers with unready status: {}", not_done(pod, "containers", containers, Container::ready)),
        )
    });
    let uninit = format!(
        "containers with incomplete status: {}",
        not_done(pod, "initContainers", containers, |c| c.exit_code() == Some(0))
    );
    let conditions = vec![
        condition("PodReadyToStartContainers", true, None, conds, &now),
        condition("Initialized", summary.initialized, Some(("ContainersNotInitialized", uninit)), conds, &now),
        condition("Ready", summary.ready, unready.clone(), conds, &now),
        condition("ContainersReady", summary.ready, unready, conds, &now),
        condition("PodScheduled", true, None, conds, &now),
    ];
    let statuses = |list: &str| -> Vec<Value> {
        pod["spec"][list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|spec| containers.get(spec["name"].as_str()?).map(|c| container_status(spec, c)))
            .collect()
    };
    let mut status = previous.as_object().cloned().unwrap_or_default();
    let host = super::HOST_IP;
    for (key, value) in [
        ("phase", json!(summary.phase)),
        ("conditions", json!(conditions)),
        ("hostIP", json!(host)),
        ("hostIPs", json!([{"ip": host}])),
        ("podIP", json!(ip)),
        ("podIPs", json!([{"ip": ip}])),
        ("startTime", json!(time::rfc3339(*started))),
        ("containerStatuses", json!(statuses("containers"))),
    ] {
        status.insert(key.into(), value);
    }
    let inits = statuses("initContainers");
    if !inits.is_empty() {
        status.insert("initContainerStatuses".into(), json!(inits));
    }
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(policy: &str) -> Value {
        json!({"spec": {"restartPolicy": policy,
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [{"name": "web", "image": "nginx"}]}})
    }

    fn done(code: i32) -> State {
        let t = jiff::Timestamp::now();
        State::Terminated(Termination {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started: t,
            finished: t,
            container_id: "sandbox://1".into(),
        })
    }

    fn containers(init: State, web: State) -> BTreeMap<String, Container> {
        let mut i = Container::new("init", true, "PodInitializing");
        i.state = init;
        let mut w = Container::new("web", false, "PodInitializing");
        w.state = web;
        [("init".to_string(), i), ("web".to_string(), w)].into()
    }

    fn waiting(reason: &str) -> State {
        State::Waiting { reason: reason.into(), message: None }
    }

    fn running() -> State {
        State::Running { started: jiff::Timestamp::now(), container_id: "sandbox://2".into() }
    }

    #[test]
    fn a_pod_is_pending_until_init_containers_complete_then_running_and_ready() {
        let p = pod("Always");
        let s = summarize(&p, &containers(running(), waiting("PodInitializing")));
        assert_eq!((s.phase, s.initialized, s.ready), ("Pending", false, false));
        let s = summarize(&p, &containers(done(0), running()));
        assert_eq!((s.phase, s.initialized, s.ready), ("Running", true, true));
    }

    #[test]
    fn a_crash_looping_container_keeps_the_pod_running_but_unready() {
        let p = pod("Always");
        let mut cs = containers(done(0), waiting("CrashLoopBackOff"));
        cs.get_mut("web").unwrap().last = Some(match done(1) {
            State::Terminated(t) => t,
            _ => unreachable!(),
        });
        let s = summarize(&p, &cs);
        assert_eq!((s.phase, s.ready), ("Running", false));
    }

    #[test]
    fn an_on_failure_pod_waiting_to_restart_after_a_failure_is_still_running() {
        let mut cs = containers(done(0), waiting("CrashLoopBackOff"));
        cs.get_mut("web").unwrap().last = Some(match done(1) {
            State::Terminated(t) => t,
            _ => unreachable!(),
        });
        assert_eq!(summarize(&pod("OnFailure"), &cs).phase, "Running");
    }

    #[test]
    fn finished_pods_succeed_or_fail_by_restart_policy() {
        assert_eq!(summarize(&pod("Never"), &containers(done(0), done(0))).phase, "Succeeded");
        assert_eq!(summarize(&pod("Never"), &containers(done(0), done(2))).phase, "Failed");
        assert_eq!(summarize(&pod("OnFailure"), &containers(done(0), done(2))).phase, "Running");
        assert_eq!(summarize(&pod("Never"), &containers(done(1), waiting("PodInitializing"))).phase, "Failed");
    }

    #[test]
    fn the_status_lists_conditions_and_container_states_like_upstream() {
        let mut p = pod("Always");
        let status =
            pod_status(&p, "10.244.0.3", &jiff::Timestamp::now(), &containers(running(), waiting("PodInitializing")));
        let types: Vec<&str> =
            status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
        assert_eq!(status["conditions"][1]["message"], "containers with incomplete status: [init]");
        assert_eq!(status["containerStatuses"][0]["state"]["waiting"]["reason"], "PodInitializing");
        assert_eq!(status["initContainerStatuses"][0]["started"], true);
        assert_eq!(status["podIP"], "10.244.0.3");
        // Transition times stay while a condition keeps its status.
        p["status"] = status.clone();
        p["status"]["conditions"][0]["lastTransitionTime"] = json!("2020-01-01T00:00:00Z");
        let again =
            pod_status(&p, "10.244.0.3", &jiff::Timestamp::now(), &containers(running(), waiting("PodInitializing")));
        assert_eq!(again["conditions"][0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
    }
}

//! The node's pace with the real kubectl: at the realistic pace a pod passes through
//! `ContainerCreating` while its image is pulled and through `Terminating` while it stops, as on
//! minikube, and the `Pulled` event says how long the pull took; the pace follows the Node's
//! `gitops-lab.dev/pace` annotation; a pace the sandbox does not know is refused at start.

#![forbid(unsafe_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::Watcher;
use gitops_lab_e2e::{Sandbox, gitops_lab_bin, kubectl_available, text};

/// The `Pulled` event of a pod, once there is one.
fn pulled_message(sb: &Sandbox, pod: &str) -> String {
    let selector = format!("involvedObject.name={pod},reason=Pulled");
    gitops_lab_e2e::eventually("the Pulled event", || {
        let out =
            sb.kubectl_ok(&["get", "events", "--field-selector", &selector, "-o", "jsonpath={.items[*].message}"]);
        (!out.trim().is_empty()).then(|| out.trim().to_string())
    })
}

/// The duration a `Pulled` message reports (`in 1.803s (…)`, `in 812ms (…)`).
fn pull_took(message: &str) -> Duration {
    let took = message.split(" in ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
    if let Some(ms) = took.strip_suffix("ms") {
        return Duration::from_millis(ms.parse().unwrap_or_else(|_| panic!("a duration in {message}")));
    }
    let seconds: f64 =
        took.strip_suffix('s').and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a duration in {message}"));
    Duration::from_secs_f64(seconds)
}

#[test]
fn at_the_realistic_pace_a_pod_is_seen_creating_then_running_then_terminating() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start_with_env(&[("GITOPS_LAB_SANDBOX_PACE", "realistic")]);
    let pace =
        sb.kubectl_ok(&["get", "node", "sandbox", "-o", "jsonpath={.metadata.annotations.gitops-lab\\.dev/pace}"]);
    assert_eq!(pace, "realistic", "the pace is kept on the Node");
    let mut watch = Watcher::spawn(&sb, &["get", "pods", "-w"]);
    let created = Instant::now();
    sb.kubectl_ok(&["run", "web", "--image=nginx:1.27"]);
    watch.wait_for("web creating", Duration::from_secs(20), |l| {
        l.starts_with("web ") && l.contains("ContainerCreating")
    });
    watch.wait_for("web running", Duration::from_secs(20), |l| l.starts_with("web ") && l.contains("Running"));
    let to_running = created.elapsed();
    let message = pulled_message(&sb, "web");
    let took = pull_took(&message);
    assert!(took >= Duration::from_secs(1), "an nginx pull takes a while at this pace: {message}");
    assert!(message.contains(&format!(
        "({} including waiting)",
        message.split(" in ").nth(1).unwrap().split(' ').next().unwrap()
    )));
    assert!(to_running >= took, "the pod ran only after the pull: {to_running:?} against {took:?}");

    // The image is on the node now: the next pod starts without a pull, sooner.
    let again = Instant::now();
    sb.kubectl_ok(&["run", "web2", "--image=nginx:1.27"]);
    watch.wait_for("web2 running", Duration::from_secs(20), |l| l.starts_with("web2 ") && l.contains("Running"));
    assert!(again.elapsed() < to_running, "no second pull: {:?} against {to_running:?}", again.elapsed());
    let present = pulled_message(&sb, "web2");
    assert!(present.contains("already present on machine"), "{present}");

    // nginx stops on SIGTERM in a moment: the pod is seen Terminating, then gone.
    let deleting = Instant::now();
    sb.kubectl_ok(&["delete", "pod", "web"]);
    let deleted_in = deleting.elapsed();
    watch.wait_for("web terminating", Duration::from_secs(5), |l| l.starts_with("web ") && l.contains("Terminating"));
    assert!(deleted_in >= Duration::from_millis(250), "the stop took nginx's time: {deleted_in:?}");
    assert!(deleted_in < Duration::from_secs(5), "not the whole grace period: {deleted_in:?}");
}

#[test]
fn the_pace_follows_the_node_annotation() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start_with_env(&[("GITOPS_LAB_SANDBOX_PACE", "instant")]);
    sb.kubectl_ok(&["run", "quick", "--image=busybox", "--", "sleep", "3600"]);
    assert_eq!(pull_took(&pulled_message(&sb, "quick")), Duration::from_millis(1), "instant: the pull takes no time");

    sb.kubectl_ok(&["annotate", "node", "sandbox", "gitops-lab.dev/pace=realistic", "--overwrite"]);
    // The node takes the annotation on from its watch: a pod created right after may still be quick.
    let mut tries = 0;
    let slow = gitops_lab_e2e::eventually("a pod pulled at the realistic pace", || {
        tries += 1;
        let name = format!("slow-{tries}");
        sb.kubectl_ok(&["run", &name, "--image=nginx:1.27", "--image-pull-policy=Always"]);
        let took = pull_took(&pulled_message(&sb, &name));
        (took >= Duration::from_millis(500)).then_some(took)
    });
    assert!(slow < Duration::from_secs(10), "{slow:?}");

    // A shell's `sleep` ignores SIGTERM: at the realistic pace its pod waits for the capped grace period.
    let deleting = Instant::now();
    sb.kubectl_ok(&["delete", "pod", "quick"]);
    assert!(deleting.elapsed() >= Duration::from_secs(2), "the stop waited: {:?}", deleting.elapsed());
    // A pod already stopping is cut short by --grace-period=0 --force, as upstream.
    sb.kubectl_ok(&["run", "stubborn", "--image=busybox", "--", "sleep", "3600"]);
    gitops_lab_e2e::eventually("stubborn running", || {
        (sb.kubectl_ok(&["get", "pod", "stubborn", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(())
    });
    sb.kubectl_ok(&["delete", "pod", "stubborn", "--wait=false"]);
    let cutting = Instant::now();
    sb.kubectl_ok(&["delete", "pod", "stubborn", "--grace-period=0", "--force"]);
    assert!(cutting.elapsed() < Duration::from_secs(2), "the wait was cut short: {:?}", cutting.elapsed());
    // And --grace-period=0 --force does not wait at all.
    sb.kubectl_ok(&["run", "forced", "--image=busybox", "--", "sleep", "3600"]);
    gitops_lab_e2e::eventually("forced running", || {
        (sb.kubectl_ok(&["get", "pod", "forced", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(())
    });
    let forcing = Instant::now();
    sb.kubectl_ok(&["delete", "pod", "forced", "--grace-period=0", "--force"]);
    assert!(forcing.elapsed() < Duration::from_secs(2), "a forced delete does not wait: {:?}", forcing.elapsed());
}

#[test]
fn a_pace_the_sandbox_does_not_know_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let by_flag = Command::new(gitops_lab_bin())
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--pace", "fast", "--data-dir"])
        .arg(dir.path().join("a"))
        .stdin(Stdio::null())
        .output()
        .expect("gitops-lab runs");
    assert!(!by_flag.status.success());
    let said = text(&by_flag.stderr);
    assert!(said.contains("unknown pace \"fast\"") && said.contains("realistic"), "{said}");
    let by_env = Command::new(gitops_lab_bin())
        .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("b"))
        .env("GITOPS_LAB_SANDBOX_PACE", "slow")
        .stdin(Stdio::null())
        .output()
        .expect("gitops-lab runs");
    assert!(!by_env.status.success());
    let said = text(&by_env.stderr);
    assert!(said.contains("GITOPS_LAB_SANDBOX_PACE") && said.contains("unknown pace \"slow\""), "{said}");
}

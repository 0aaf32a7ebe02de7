//! Per-sandbox limits in a workshop, against the real `gitops-lab workshop`: a learner creating
//! objects in a loop through their kubectl door is slowed by the command rate (429 with
//! `Retry-After`) and meets a clear "exceeded quota" refusal at the object limit, while another
//! learner's steps keep answering; the real kubectl prints the refusal; deleting makes room again.
//! CPU: every sandbox thread runs at the lower priority from its start (`sandbox serve --nice`, or
//! the variable the workshop sets), the server's at 0.

mod workshop_common;

use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use workshop_common::Workshop;

// The sandbox's own objects (namespaces, Services, …) count too; its default RBAC does not.
const LIMIT: usize = 60;

fn kubectl(config: &Path, args: &[&str]) -> Output {
    Command::new(gitops_lab_e2e::kubectl_path())
        .arg("--kubeconfig")
        .arg(config)
        .args(args)
        .output()
        .expect("kubectl runs")
}

#[test]
fn a_create_loop_meets_the_object_limit_while_another_learner_is_served() {
    if !gitops_lab_e2e::kubectl_available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // A low command rate, so the loop also meets the door's own pace (429) before the limit.
    let args = ["--tls", "--max-objects", &LIMIT.to_string(), "--command-rate", "2"];
    let workshop = Workshop::start(data.path(), &args);
    let (ada, lei) = (workshop.join("Ada"), workshop.join("Lei"));
    let (status, _, config) = workshop.call_with("GET", "/api/kubeconfig", Some(&ada), &[], None);
    assert_eq!(status, 200, "{config}");
    let token = config.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("a token").to_string();
    let config_path = data.path().join("ada.yaml");
    std::fs::write(&config_path, &config).unwrap();
    workshop.command(&lei, json!({"type": "openExercise", "id": "2.1-nginx-pod"}));

    let path = "/k8s/learner-1/api/v1/namespaces/default/configmaps";
    let (refused_at, refusal, lei_slowest) = std::thread::scope(|scope| {
        let looping = scope.spawn(|| {
            let mut slowed = 0;
            for i in 0..LIMIT * 3 {
                let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("loop-{i}")}});
                let (mut status, mut head, mut answer) =
                    workshop.call_with("POST", path, Some(&token), &[], Some(&body));
                // Over its pace the door answers 429 with when to come back, as kubectl expects.
                while status == 429 {
                    slowed += 1;
                    assert!(answer.contains("\"reason\":\"TooManyRequests\""), "{answer}");
                    let after = head
                        .lines()
                        .find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after: ").map(str::to_string));
                    let seconds: u64 = after.and_then(|s| s.trim().parse().ok()).expect("a Retry-After header");
                    std::thread::sleep(Duration::from_secs(seconds));
                    (status, head, answer) = workshop.call_with("POST", path, Some(&token), &[], Some(&body));
                }
                if status == 403 {
                    assert!(slowed > 0, "a loop of {i} creates at --command-rate 2 was never slowed");
                    return (i, answer);
                }
                assert_eq!(status, 201, "create {i}: {answer}");
            }
            panic!("{} creates and no refusal", LIMIT * 3);
        });
        // Meanwhile the other learner's commands answer promptly.
        let mut slowest = Duration::ZERO;
        while !looping.is_finished() {
            let started = Instant::now();
            workshop.command(&lei, json!({"type": "listExercises"}));
            slowest = slowest.max(started.elapsed());
            // Paced like a person (the command rate would slow a loop of Lei's own).
            std::thread::sleep(Duration::from_millis(600));
        }
        let (at, answer) = looping.join().unwrap();
        (at, answer, slowest)
    });
    assert!(
        refused_at > 0 && refused_at < LIMIT,
        "refused after {refused_at} creates (the objects of `default` and the Node count too)"
    );
    assert!(refusal.contains("\"reason\":\"Forbidden\""), "{refusal}");
    assert!(
        refusal.contains("exceeded quota: sandbox-objects") && refusal.contains(&format!("limited: objects={LIMIT}")),
        "{refusal}"
    );
    assert!(lei_slowest < Duration::from_secs(5), "the other learner waited {lei_slowest:?}");
    // The other learner's sandbox has its own count: a step that creates a pod still works.
    workshop.command(&lei, json!({"type": "predict", "exercise": "2.1-nginx-pod", "step": 0, "choice": 1}));
    workshop.command(&lei, json!({"type": "runStep", "exercise": "2.1-nginx-pod", "step": 0}));

    // The real kubectl shows the refusal; deleting makes room.
    let out = kubectl(&config_path, &["create", "configmap", "one-more"]);
    let err = gitops_lab_e2e::text(&out.stderr);
    assert!(!out.status.success(), "refused");
    assert!(
        err.contains("configmaps \"one-more\" is forbidden: exceeded quota") && err.contains("delete some"),
        "{err}"
    );
    let out = kubectl(&config_path, &["delete", "configmap", "loop-0", "loop-1"]);
    assert!(out.status.success(), "{}", gitops_lab_e2e::text(&out.stderr));
    let out = kubectl(&config_path, &["create", "configmap", "one-more"]);
    assert!(out.status.success(), "{}", gitops_lab_e2e::text(&out.stderr));
    // CPU: every thread of both sandbox children runs below the server (nice 10, set by each
    // sandbox before its first thread: no waiting for a sweep; no cgroup v2 cpu controller here).
    let sandboxes = children_serving_sandboxes(workshop.child.id());
    assert_eq!(sandboxes.len(), 2, "one sandbox child per learner: {sandboxes:?}");
    let nices: Vec<i32> = sandboxes.iter().flat_map(|pid| thread_nices(*pid)).collect();
    assert!(nices.len() > 2 && nices.iter().all(|n| *n == 10), "every sandbox thread at nice 10: {nices:?}");
    assert!(thread_nices(workshop.child.id()).iter().all(|n| *n == 0), "the server itself keeps its priority");
    workshop.stop();
}

#[test]
fn a_sandbox_started_with_nice_runs_every_thread_at_it_and_a_bad_value_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(gitops_lab_e2e::gitops_lab_bin())
        .args(["sandbox", "serve", "--nice", "7", "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("gitops-lab starts");
    gitops_lab_e2e::printed_until(&mut child, "kubeconfig: ");
    let nices = thread_nices(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(nices.len() > 1 && nices.iter().all(|n| *n == 7), "every thread at nice 7: {nices:?}");
    let out = Command::new(gitops_lab_e2e::gitops_lab_bin())
        .args(["sandbox", "serve", "--data-dir"])
        .arg(data.path())
        .env("GITOPS_LAB_SANDBOX_NICE", "lowest")
        .output()
        .expect("gitops-lab runs");
    let err = gitops_lab_e2e::text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("GITOPS_LAB_SANDBOX_NICE=lowest: give a niceness from 0 to 19"),
        "{err}"
    );
}

fn children_serving_sandboxes(parent: u32) -> Vec<u32> {
    let entries = std::fs::read_dir("/proc").unwrap();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains("sandbox\0serve")
        })
        .collect()
}

/// The niceness of each thread of a process (field 19 of each thread's stat).
fn thread_nices(pid: u32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            stat.rsplit_once(") ")?.1.split(' ').nth(16)?.parse().ok()
        })
        .collect()
}

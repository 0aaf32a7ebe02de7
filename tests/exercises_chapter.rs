//! The chapter's exercises played end to end on the sandbox, each with its own data directory (so
//! its own sandbox, progress and repositories), several at a time: `exercises check` fails on a
//! fresh cluster with every verify check that can fail unmet, `exercises run` plays every step,
//! `exercises check` then passes, and `exercises reset` leaves the cluster with exactly the objects
//! it had before (Events aside).

use gitops_lab::exercises::{Exercise, load_all};
use gitops_lab_e2e::{Sandbox, gitops_lab_bin, kubectl_available, text};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many exercises play at once: each runs a sandbox and an engine, mostly waiting on each other.
const PARALLEL: usize = 4;
/// How long reset's deletions (namespaces, the garbage collector) may take to settle.
const SETTLE: Duration = Duration::from_secs(30);

fn chapter() -> PathBuf {
    gitops_lab_e2e::tests_dir().join("../exercises")
}

fn cli(data: &Path, args: &[&str]) -> Output {
    Command::new(gitops_lab_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("GITOPS_LAB_EXERCISES", chapter())
        .env("GITOPS_LAB_BIN", gitops_lab_bin())
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .expect("gitops-lab runs")
}

fn shown(output: &Output) -> String {
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// Every object of the cluster a learner or an exercise could have made, as `kind namespace/name`:
/// all listable types except Events (which record history, and expire on their own).
fn objects(sandbox: &Sandbox) -> BTreeSet<String> {
    let types = sandbox.kubectl_ok(&["api-resources", "--verbs=list", "-o", "name"]);
    let wanted: Vec<&str> = types.lines().filter(|t| !t.starts_with("events")).collect();
    let listed = sandbox.kubectl_ok(&["get", &wanted.join(","), "--all-namespaces", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&listed).expect("kubectl prints JSON");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|item| {
            let meta = &item["metadata"];
            let namespace = meta["namespace"].as_str().unwrap_or("");
            format!("{} {namespace}/{}", item["kind"].as_str().unwrap_or("?"), meta["name"].as_str().unwrap_or("?"))
        })
        .collect()
}

/// The cluster's objects on the sandbox of `data` (started for the count, then stopped), once they
/// stop changing towards `expected` (or as they are when `SETTLE` runs out).
fn objects_at(data: &Path, expected: Option<&BTreeSet<String>>) -> BTreeSet<String> {
    let sandbox = Sandbox::start_in(&data.join("sandbox"));
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = objects(&sandbox);
        if expected.is_none_or(|e| *e == now) || Instant::now() > deadline {
            sandbox.stop();
            return now;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Which verify checks may already hold on a fresh cluster: only `absent` ones.
fn may_hold_fresh(exercise: &Exercise) -> Vec<bool> {
    let verify = if exercise.file.verify.is_empty() {
        exercise.file.steps.last().map(|s| s.checks.clone()).unwrap_or_default()
    } else {
        exercise.file.verify.clone()
    };
    verify.iter().map(|c| c.absent.is_some()).collect()
}

/// Plays one exercise through fresh check, run, check and reset; returns what went wrong.
fn play(exercise: &Exercise) -> Result<(), String> {
    let id = exercise.file.id.as_str();
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = temp.path();
    let before = objects_at(data, None);

    let fresh = cli(data, &["exercises", "check", id]);
    if fresh.status.code() != Some(1) {
        return Err(format!("{id}: check on a fresh cluster should fail\n{}", shown(&fresh)));
    }
    let marks: Vec<String> = text(&fresh.stdout).lines().map(String::from).collect();
    let may_hold = may_hold_fresh(exercise);
    if marks.len() != may_hold.len() {
        return Err(format!("{id}: expected {} verify lines\n{}", may_hold.len(), shown(&fresh)));
    }
    for (line, may) in marks.iter().zip(&may_hold) {
        if !may && !line.starts_with('✗') {
            return Err(format!("{id}: this verify check already holds on a fresh cluster: {line}"));
        }
    }

    let played = cli(data, &["exercises", "run", id]);
    if !played.status.success() {
        return Err(format!("{id}: run failed\n{}", shown(&played)));
    }
    let passed = cli(data, &["exercises", "check", id]);
    if !passed.status.success() {
        return Err(format!("{id}: check after run failed\n{}", shown(&passed)));
    }
    let reset = cli(data, &["exercises", "reset", id]);
    if !reset.status.success() {
        return Err(format!("{id}: reset failed\n{}", shown(&reset)));
    }
    let after = objects_at(data, Some(&before));
    if after != before {
        let left: Vec<_> = after.difference(&before).collect();
        let lost: Vec<_> = before.difference(&after).collect();
        return Err(format!("{id}: reset left the cluster changed\nleft behind: {left:?}\nremoved: {lost:?}"));
    }
    Ok(())
}

#[test]
fn every_exercise_fails_fresh_runs_to_the_end_passes_check_and_resets_to_the_cluster_it_found() {
    if !kubectl_available() {
        return;
    }
    let (mut exercises, problems) = load_all(&chapter());
    assert!(problems.is_empty(), "{problems:?}");
    assert!(exercises.len() >= 10, "the chapter's exercises are there: {}", exercises.len());
    // `GITOPS_LAB_EXERCISES_ONLY=2.1-nginx-pod,2.3-controllers` plays just those (while writing one).
    if let Ok(only) = std::env::var("GITOPS_LAB_EXERCISES_ONLY") {
        exercises.retain(|e| only.split(',').any(|id| id.trim() == e.file.id));
    }
    let queue = Arc::new(Mutex::new(exercises));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..PARALLEL)
        .map(|_| {
            let queue = queue.clone();
            let failures = failures.clone();
            std::thread::spawn(move || {
                loop {
                    let Some(exercise) = queue.lock().unwrap().pop() else { return };
                    let started = Instant::now();
                    let result = play(&exercise);
                    eprintln!("{} played in {:.1} s", exercise.file.id, started.elapsed().as_secs_f64());
                    if let Err(why) = result {
                        failures.lock().unwrap().push(why);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker does not panic");
    }
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

//! Load on `gitops-lab workshop`: simulated learners join and play exercises through the web API
//! at the same time, each in their own sandbox, until every step is done.
//!
//! By default (in `scripts/test`) 5 learners play exercise 2.1: every one must complete. The same
//! test is the benchmark of docs/benchmarks.md with more learners and exercises:
//! `WORKSHOP_LEARNERS=50 WORKSHOP_EXERCISES=2.1-nginx-pod,2.2-imperative-declarative cargo test
//! -p gitops-lab-e2e --test workshop_load -- --nocapture`; it prints the step-action latencies
//! (p50, p95, max) and the resident memory of the server and its sandboxes. Times are printed,
//! never asserted.

mod workshop_common;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use workshop_common::{Workshop, done_steps, wait_for};

/// Plays one exercise to the end as the UI would: open it, then per step answer the prediction
/// (the engine tells the right answer after a first guess), run the action, and wait until the
/// board shows the step done. Returns each action's latency.
fn play(workshop: &Workshop, learner: &str, token: &str, exercise: &str) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let view = workshop.command(token, json!({"type": "openExercise", "id": exercise}));
    let steps = view["data"]["steps"].as_array().expect("an exercise view").clone();
    for (index, step) in steps.iter().enumerate() {
        let mut timed = |command: Value| {
            let started = Instant::now();
            let reply = workshop.command(token, command);
            latencies.push(started.elapsed());
            reply
        };
        if !step["prediction"].is_null() {
            let verdict = timed(json!({"type": "predict", "exercise": exercise, "step": index, "choice": 0}));
            assert!(verdict["data"]["answer"].is_u64(), "{verdict}");
        }
        if !step["action"].is_null() {
            // Some steps fail on purpose (2.2 shows `create` refusing an existing object): the
            // step's checks, not the action's error, say whether it is done.
            timed(json!({"type": "runStep", "exercise": exercise, "step": index}));
        }
        if step["checks"].as_array().is_some_and(|c| !c.is_empty()) {
            wait_for(&format!("{learner}'s step {index} of {exercise}"), Duration::from_secs(180), || {
                done_steps(&workshop.board_line(learner), exercise) > index as u64
            });
        }
    }
    latencies
}

/// Resident memory of a process and all its descendants, in KiB (from /proc).
fn tree_rss_kib(root: u32) -> u64 {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name is in parentheses and may hold spaces: the parent id follows it.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        parents.push((pid, ppid.unwrap_or(0)));
    }
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, ppid) in &parents {
            if tree.contains(ppid) && !tree.contains(pid) {
                tree.push(*pid);
                grew = true;
            }
        }
    }
    tree.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
fn simulated_learners_all_complete_their_exercises() {
    let learners: usize = std::env::var("WORKSHOP_LEARNERS").ok().and_then(|n| n.parse().ok()).unwrap_or(5);
    let exercises = std::env::var("WORKSHOP_EXERCISES").unwrap_or_else(|_| "2.1-nginx-pod".into());
    let data = tempfile::tempdir().unwrap();
    let max = learners.to_string();
    let workshop =
        Workshop::start(data.path(), &["--exercises", &exercises, "--max-learners", &max, "--reserve-mib", "64"]);
    let tokens: Vec<(String, String)> =
        (1..=learners).map(|n| (format!("learner-{n}"), workshop.join(&format!("Learner {n}")))).collect();
    let started = Instant::now();
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let playing: Vec<_> = tokens
            .iter()
            .map(|(id, token)| {
                let (workshop, exercises) = (&workshop, &exercises);
                scope.spawn(move || exercises.split(',').flat_map(|e| play(workshop, id, token, e)).collect::<Vec<_>>())
            })
            .collect();
        playing.into_iter().flat_map(|p| p.join().expect("a learner finished")).collect()
    });
    let rss_mib = tree_rss_kib(workshop.child.id()) / 1024;
    for (id, _) in &tokens {
        for exercise in exercises.split(',') {
            let line = workshop.board_line(id);
            let summary = line["progress"].as_array().unwrap().iter().find(|p| p["id"] == exercise).cloned().unwrap();
            assert_eq!(summary["status"], "completed", "{id} completed {exercise}: {summary}");
        }
    }
    let mut sorted = latencies.clone();
    sorted.sort();
    println!(
        "workshop load: {learners} learners, {exercises}: all completed in {:.1} s; {} step actions, p50 {} ms, p95 {} ms, max {} ms; server and sandboxes {rss_mib} MiB resident",
        started.elapsed().as_secs_f64(),
        sorted.len(),
        percentile(&sorted, 0.5).as_millis(),
        percentile(&sorted, 0.95).as_millis(),
        sorted.last().map(|d| d.as_millis()).unwrap_or(0),
    );
    workshop.stop();
}

//! Exercises end to end against a sandbox the engine runs itself: every action kind and every check
//! kind, checks turning green from watch events, predictions before runs, reset leaving nothing
//! behind, and the headless CLI (`validate`, `check`, `run`, `reset`), including progress that
//! survives a killed process.

use gitops_lab::exercises::EXERCISE_LABEL;
use gitops_lab::protocol::{Command, Event, FieldOutcome, Reply, StreamId};
use gitops_lab::{Engine, EngineConfig};
use gitops_lab_e2e::{gitops_lab_bin, text};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

fn fixtures() -> PathBuf {
    gitops_lab_e2e::tests_dir().join("fixtures/exercises")
}

fn chapter_exercises() -> PathBuf {
    gitops_lab_e2e::tests_dir().join("../exercises")
}

async fn engine(exercises: &Path, data: &Path) -> Engine {
    let mut config = EngineConfig::new(data, exercises);
    config.sandbox_binary = Some(gitops_lab_bin());
    let engine = Engine::start(config).await;
    assert!(
        engine.connection().handle().is_some(),
        "the engine reaches its sandbox: {:?}",
        engine.connection().status()
    );
    engine
}

/// The kubectl of the engine's sandbox.
fn kubectl(data: &Path, args: &[&str]) -> String {
    let out = Process::new(gitops_lab_e2e::kubectl_path())
        .env("KUBECONFIG", data.join("sandbox/kubeconfig"))
        .args(args)
        .output()
        .expect("kubectl runs");
    text(&out.stdout) + &text(&out.stderr)
}

async fn run(engine: &Engine, step: usize) -> gitops_lab::protocol::StepOutcome {
    match engine.handle(Command::RunStep { exercise: "all-kinds".into(), step }).await {
        Ok(Reply::StepOutcome(outcome)) => outcome,
        other => panic!("step {step}: {other:?}"),
    }
}

async fn wait(engine: &Engine, step: usize) {
    let done = engine.exercises().wait_step("all-kinds", step, Duration::from_secs(60)).await;
    if !done {
        let view = engine.exercises().view("all-kinds").await.unwrap();
        panic!("step {step} not done: {:#?}", view.steps[step].checks);
    }
}

/// Waits for an exec session's output to contain `wanted`.
async fn read_stream(events: &mut gitops_lab::Subscription, stream: StreamId, wanted: &str) {
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            if let Event::Stream(data) = event
                && data.stream == stream
            {
                seen.push_str(&data.data);
                if seen.contains(wanted) {
                    return;
                }
            }
        }
    })
    .await;
    assert!(found.is_ok(), "the terminal printed {wanted:?}; it printed {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_action_kind_and_check_kind_works_and_checks_turn_green_from_watch_events() {
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&fixtures(), data.path()).await;
    let mut events = engine.subscribe();
    let opened = engine.handle(Command::OpenExercise { id: "all-kinds".into() }).await.unwrap();
    let Reply::Exercise(view) = opened else { panic!("{opened:?}") };
    assert_eq!(view.steps.len(), 8);

    run(&engine, 0).await;
    wait(&engine, 0).await;

    // A prediction comes before the run.
    let refused = engine.handle(Command::RunStep { exercise: "all-kinds".into(), step: 1 }).await.unwrap_err();
    assert_eq!(refused.code, "predict-first");
    let Ok(Reply::Prediction(verdict)) =
        engine.handle(Command::Predict { exercise: "all-kinds".into(), step: 1, choice: 0 }).await
    else {
        panic!("a verdict")
    };
    assert!(verdict.correct);
    let applied = run(&engine, 1).await;
    assert!(
        applied.output.contains("$ kubectl apply -f web.yaml\ndeployment.apps/web created\nservice/web created\n"),
        "{}",
        applied.output
    );
    wait(&engine, 1).await;

    // Check events were published as the watches saw the rollout.
    let mut green = 0;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(200), events.next()).await {
        if let Event::Check { step: 1, check, .. } = event
            && check.met
        {
            green += 1;
        }
    }
    assert!(green >= 6, "every check of the apply step turned green by an event ({green})");

    let forwarded = run(&engine, 2).await;
    let forward = forwarded.port_forward.expect("a port-forward");
    assert!(forward.url.starts_with("http://127.0.0.1:"));
    wait(&engine, 2).await;

    let edited = run(&engine, 3).await;
    assert!(
        edited.output.contains("-    team: blue") && edited.output.contains("+    team: green"),
        "{}",
        edited.output
    );

    let diffed = run(&engine, 4).await;
    let diff = diffed.diff.expect("a diff");
    let team =
        diff.objects[0].fields.iter().find(|f| f.path == "metadata.annotations.team").expect("the team annotation");
    assert_eq!(team.outcome, FieldOutcome::Overwrite);

    let terminal = run(&engine, 5).await;
    let stream = terminal.stream.expect("a terminal");
    engine.handle(Command::ExecInput { stream, data: "echo hello-from-$((40+2))\n".into() }).await.unwrap();
    read_stream(&mut events, stream, "hello-from-42").await;

    run(&engine, 6).await;
    wait(&engine, 6).await;

    // gitHead without a commit stays red, with its reason.
    let view = engine.exercises().view("all-kinds").await.unwrap();
    let commit = &view.steps[7].checks[0];
    assert!(!commit.met && commit.reason.en.contains("No new commit"), "{commit:?}");
    assert_eq!(
        engine.handle(Command::RunStep { exercise: "all-kinds".into(), step: 7 }).await.unwrap_err().code,
        "no-action"
    );
    let summary = engine.exercises().summaries().into_iter().find(|s| s.id == "all-kinds").unwrap();
    assert_eq!(summary.done_steps, 7);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_removes_exactly_what_the_exercise_created_and_restores_its_files() {
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&fixtures(), data.path()).await;
    engine.handle(Command::OpenExercise { id: "all-kinds".into() }).await.unwrap();
    // Something the learner made by hand, outside the exercise, must survive.
    kubectl(data.path(), &["create", "configmap", "mine", "--from-literal=a=b"]);
    run(&engine, 0).await;
    wait(&engine, 0).await;
    engine.handle(Command::Predict { exercise: "all-kinds".into(), step: 1, choice: 1 }).await.unwrap();
    run(&engine, 1).await;
    run(&engine, 3).await;
    kubectl(data.path(), &["create", "configmap", "typed-by-hand", "-n", "default", "--from-literal=a=b"]);

    let mut events = engine.subscribe();
    let Ok(Reply::Reset(report)) = engine.handle(Command::ResetExercise { id: "all-kinds".into() }).await else {
        panic!("a reset")
    };
    assert!(report.removed.contains(&"namespace/kinds".to_string()), "{:?}", report.removed);
    assert!(report.removed.contains(&"deployment.apps/web".to_string()), "{:?}", report.removed);
    let labelled =
        kubectl(data.path(), &["get", "all", "-A", "-l", &format!("{EXERCISE_LABEL}=all-kinds"), "-o", "name"]);
    assert!(labelled.trim().is_empty() || labelled.contains("No resources"), "{labelled}");
    assert!(kubectl(data.path(), &["get", "namespace", "kinds"]).contains("NotFound"));
    assert!(kubectl(data.path(), &["get", "configmap", "typed-by-hand"]).contains("NotFound"));
    assert!(kubectl(data.path(), &["get", "configmap", "mine", "-o", "name"]).contains("configmap/mine"));
    let workspace = std::fs::read_to_string(data.path().join("workspace/default/all-kinds/web.yaml")).unwrap();
    assert!(workspace.contains("team: blue"), "the file is back to its original");
    let summary = engine.exercises().summaries().into_iter().find(|s| s.id == "all-kinds").unwrap();
    assert_eq!(summary.done_steps, 0);
    // The reset is announced on the event stream (the navigator and the workshop board follow it),
    // and nothing marks a step done again afterwards: the open exercise's checks stopped first.
    let mut last = None;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(event) = events.next().await {
            if let Event::Progress(summary) = event
                && summary.id == "all-kinds"
            {
                last = Some(summary.done_steps);
            }
        }
    })
    .await;
    assert_eq!(last, Some(0), "the last progress announced after the reset");
    let summary = engine.exercises().summaries().into_iter().find(|s| s.id == "all-kinds").unwrap();
    assert_eq!(summary.done_steps, 0, "still nothing done once the deleted objects' events have settled");
    engine.shutdown().await;
}

fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    Process::new(gitops_lab_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("GITOPS_LAB_EXERCISES", chapter_exercises())
        .env("GITOPS_LAB_BIN", gitops_lab_bin())
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .expect("gitops-lab runs")
}

#[test]
fn the_2_1_exercise_fails_check_on_a_fresh_cluster_runs_to_the_end_then_passes_check() {
    let data = tempfile::tempdir().unwrap();
    let fresh = cli(data.path(), &["exercises", "check", "2.1-nginx-pod"]);
    assert_eq!(fresh.status.code(), Some(1), "{}", text(&fresh.stdout));
    assert!(text(&fresh.stderr).contains("Not passed yet:"), "{}", text(&fresh.stderr));
    let played = cli(data.path(), &["exercises", "run", "2.1-nginx-pod"]);
    assert!(played.status.success(), "{}\n{}", text(&played.stdout), text(&played.stderr));
    assert!(text(&played.stdout).contains("pod/nginx created"));
    let passed = cli(data.path(), &["exercises", "check", "2.1-nginx-pod"]);
    assert!(passed.status.success(), "{}\n{}", text(&passed.stdout), text(&passed.stderr));
}

#[test]
fn the_lab_runs_its_sandbox_at_the_realistic_pace_unless_told_otherwise() {
    let data = tempfile::tempdir().unwrap();
    let played = Process::new(gitops_lab_bin())
        .args(["exercises", "run", "2.1-nginx-pod", "--data-dir"])
        .arg(data.path())
        .env("GITOPS_LAB_EXERCISES", chapter_exercises())
        .env("GITOPS_LAB_BIN", gitops_lab_bin())
        .env("GITOPS_LAB_LANG", "en")
        .env_remove("GITOPS_LAB_SANDBOX_PACE")
        .output()
        .unwrap();
    assert!(played.status.success(), "{}\n{}", text(&played.stdout), text(&played.stderr));
    // The sandbox the lab ran, opened again as it was left (an empty variable keeps its pace).
    let sandbox =
        gitops_lab_e2e::Sandbox::start_in_with_env(&data.path().join("sandbox"), &[("GITOPS_LAB_SANDBOX_PACE", "")]);
    let pace =
        sandbox.kubectl_ok(&["get", "node", "sandbox", "-o", "jsonpath={.metadata.annotations.gitops-lab\\.dev/pace}"]);
    assert_eq!(pace, "realistic");
    let pulled = sandbox.kubectl_ok(&[
        "get",
        "events",
        "-A",
        "--field-selector",
        "reason=Pulled",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(pulled.contains("Successfully pulled image") && !pulled.contains(" in 1ms "), "pulls took time: {pulled}");
}

#[test]
fn progress_survives_a_killed_process_and_its_sandbox_goes_with_it() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Process::new(gitops_lab_bin())
        .args(["exercises", "run", "2.1-nginx-pod", "--data-dir"])
        .arg(data.path())
        .env("GITOPS_LAB_EXERCISES", chapter_exercises())
        .env("GITOPS_LAB_BIN", gitops_lab_bin())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let progress = data.path().join("progress/default/sandbox.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let first_step_done = || {
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&progress).unwrap_or_default()).unwrap_or_default();
        saved["exercises"]["2.1-nginx-pod"]["done_steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == "create-pod"))
    };
    while !first_step_done() {
        assert!(std::time::Instant::now() < deadline, "the first step completes");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&progress).unwrap()).expect("a whole file");
    assert!(saved["exercises"]["2.1-nginx-pod"]["done_steps"].as_array().unwrap().iter().any(|s| s == "create-pod"));
    // The orphaned sandbox stops when its parent's pipe closes, so the data directory is free again.
    let again = cli(data.path(), &["exercises", "check", "2.1-nginx-pod"]);
    assert_eq!(again.status.code(), Some(1), "{}{}", text(&again.stdout), text(&again.stderr));
    assert!(text(&again.stdout).contains("✗") || text(&again.stdout).contains("✓"), "{}", text(&again.stderr));
}

#[test]
fn validate_accepts_the_chapter_and_names_file_line_and_field_of_a_broken_exercise() {
    let good =
        Process::new(gitops_lab_bin()).args(["exercises", "validate"]).arg(chapter_exercises()).output().unwrap();
    assert!(good.status.success(), "{}{}", text(&good.stdout), text(&good.stderr));
    let broken = tempfile::tempdir().unwrap();
    let dir = broken.path().join("all-kinds");
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read_to_string(fixtures().join("all-kinds/exercise.yaml")).unwrap();
    std::fs::write(
        dir.join("exercise.yaml"),
        original.replace("kubectl apply -f web.yaml", "kubectl apply -f missing.yaml"),
    )
    .unwrap();
    let out = Process::new(gitops_lab_bin())
        .args(["exercises", "validate"])
        .arg(broken.path())
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stdout);
    assert!(
        said.contains("exercise.yaml:") && said.contains("(steps[1].action.kubectl)") && said.contains("missing.yaml"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn git_sync_and_ci_actions_drive_the_labs_gitops_loop() {
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&fixtures(), data.path()).await;
    let id = "gitops-kinds";
    engine.handle(Command::OpenExercise { id: id.into() }).await.unwrap();
    let step = |step: usize| {
        let engine = engine.clone();
        async move {
            match engine.handle(Command::RunStep { exercise: id.into(), step }).await {
                Ok(Reply::StepOutcome(outcome)) => {
                    assert!(outcome.error.is_none(), "step {step}: {:?}\n{}", outcome.error, outcome.output);
                    assert!(
                        engine.exercises().wait_step(id, step, Duration::from_secs(90)).await,
                        "step {step} completes"
                    );
                    outcome
                }
                other => panic!("step {step}: {other:?}"),
            }
        }
    };
    let synced = step(0).await;
    assert!(synced.output.contains("deployment.apps/sample-app"), "{}", synced.output);
    let committed = step(1).await;
    assert!(committed.output.starts_with("[config "), "{}", committed.output);
    let built = step(2).await;
    assert!(built.output.contains("sample-app:"), "{}", built.output);
    step(3).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sync_loop_set_up_before_a_restart_goes_on_after_it() {
    let data = tempfile::tempdir().unwrap();
    let first = engine(&fixtures(), data.path()).await;
    let configure = Command::SyncConfigure { repo: "config".into(), path: ".".into(), prune: true, auto: true };
    first.handle(configure).await.unwrap();
    first.shutdown().await;
    drop(first);
    let again = engine(&fixtures(), data.path()).await;
    let Ok(Reply::Sync(view)) = again.handle(Command::SyncStatus).await else { panic!("a sync status") };
    assert_eq!((view.repo.as_str(), view.path.as_str(), view.prune, view.auto), ("config", ".", true, true));
    again.shutdown().await;
}

//! The CI bump end to end on the sandbox: stages reported one by one, the new version answering
//! through a port-forward, then a rollback by reverting the config commit; and the `latest`
//! pitfalls (re-applying an unchanged manifest does nothing, `rollout restart` forces new pods).

#[path = "engine_gitops_common.rs"]
mod common;

use common::*;
use gitops_lab::ci::{pitfalls, verify};
use gitops_lab::gitops::Repos;
use gitops_lab::kubectl::{ApplyAction, Kubectl};
use gitops_lab::protocol::{CiStage, Command, Event, OperationOutcome, Reply, StageState};
use gitops_lab_e2e::Sandbox;
use std::time::Duration;

const IMAGE: &str = "gitops-lab/sample-app";

#[tokio::test(flavor = "multi_thread")]
async fn the_ci_bump_rolls_out_the_new_version_and_a_revert_rolls_it_back() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&sandbox, data.path()).await;
    let mut events = engine.subscribe();
    ask(&engine, Command::SyncConfigure { repo: "config".into(), path: ".".into(), prune: true, auto: true }).await;
    wait_for(&mut events, Duration::from_secs(20), |e| run_where(e, all_synced)).await;

    let Reply::Operation(id) = ask(&engine, Command::CiBump { message: Some("Greet in French".into()) }).await else {
        panic!()
    };
    let mut stages_seen = Vec::new();
    let mut last_run = None;
    let outcome = wait_for(&mut events, Duration::from_secs(120), |e| match e {
        Event::Ci(run) => {
            for stage in &run.stages {
                if stage.state == StageState::Running && stages_seen.last() != Some(&stage.stage) {
                    stages_seen.push(stage.stage);
                }
            }
            last_run = Some(run.clone());
            None
        }
        Event::OperationFinished { id: done, outcome } if *done == id => Some(outcome.clone()),
        _ => None,
    })
    .await;
    let run = last_run.expect("stages were reported");
    assert!(matches!(outcome, OperationOutcome::Succeeded { .. }), "{outcome:?}\n{run:#?}");
    assert_eq!(
        stages_seen,
        [
            CiStage::Commit,
            CiStage::Version,
            CiStage::Image,
            CiStage::ManifestPatch,
            CiStage::ConfigCommit,
            CiStage::Sync,
            CiStage::Rollout,
            CiStage::Verify
        ],
        "each stage was reported running, in order"
    );
    assert!(run.stages.iter().all(|s| s.state == StageState::Succeeded), "{run:#?}");
    let Reply::Commits(app) = ask(&engine, Command::RepoLog { repo: "sample-app".into(), limit: 1 }).await else {
        panic!()
    };
    assert_eq!(app[0].summary, "Greet in French");
    let version = &app[0].sha[..7];
    let verify_detail = &run.stages.last().unwrap().detail;
    assert!(verify_detail.ends_with(&format!("answered {version}")), "{verify_detail}");
    let image = sandbox.kubectl_ok(&[
        "get",
        "deploy",
        "sample-app",
        "-n",
        "sample-app",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, format!("{IMAGE}:{version}"));

    // Only the tag changed in the config file: comments and everything else stay as they were.
    let Reply::File(after) =
        ask(&engine, Command::RepoFile { repo: "config".into(), path: "deployment.yaml".into() }).await
    else {
        panic!()
    };
    let template = include_str!("../crates/lab/src/gitops/templates/config/deployment.yaml");
    assert_eq!(after, template.replace("sample-app:v0.1.0", &format!("sample-app:{version}")));

    // Rollback: revert the config commit with git (outside the engine); the loop sees the ref move.
    let Reply::Commits(config) = ask(&engine, Command::RepoLog { repo: "config".into(), limit: 1 }).await else {
        panic!()
    };
    let repos_dir = data.path().join("lab/repos/default");
    let revert = Repos::new(&repos_dir).revert("config", &config[0].sha).unwrap();
    let back =
        wait_for(&mut events, Duration::from_secs(20), |e| run_where(e, |r| r.commit == revert.sha && all_synced(r)))
            .await;
    assert!(back.resources.iter().any(|r| r.message == "deployment.apps/sample-app configured"), "{back:#?}");
    let client = client(&sandbox).await;
    let old = format!("{IMAGE}:v0.1.0");
    verify::wait_rollout(&client, "sample-app", "sample-app", &old, Duration::from_secs(60)).await.unwrap();
    let pod = verify::ready_pod(&client, "sample-app", "app=sample-app", &old).await.unwrap();
    let answer = gitops_lab::live::http_get(&client, "sample-app", &pod, 8080, "/").await.unwrap();
    assert_eq!((answer.status, answer.body.as_str()), (200, "v0.1.0\n"));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reapplying_an_unchanged_manifest_changes_nothing_and_rollout_restart_forces_new_pods() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&sandbox, data.path()).await;
    ask(&engine, Command::SyncConfigure { repo: "config".into(), path: ".".into(), prune: false, auto: false }).await;
    let Reply::SyncRun(run) = ask(&engine, Command::SyncNow).await else { panic!() };
    assert!(all_synced(&run), "{run:#?}");
    let client = client(&sandbox).await;
    let image = format!("{IMAGE}:v0.1.0");
    verify::wait_rollout(&client, "sample-app", "sample-app", &image, Duration::from_secs(60)).await.unwrap();
    let before = verify::ready_pod(&client, "sample-app", "app=sample-app", &image).await.unwrap();

    let repos = Repos::new(data.path().join("lab/repos/default"));
    let kubectl = Kubectl::from_client(client.clone(), "default".into());
    let applied = pitfalls::reapply_unchanged(&kubectl, &repos).await.unwrap();
    assert_eq!(applied[0].action, ApplyAction::Unchanged, "the same tag again is no change at all");
    assert_eq!(applied[0].line(), "deployment.apps/sample-app unchanged");
    assert_eq!(verify::ready_pod(&client, "sample-app", "app=sample-app", &image).await.unwrap(), before);

    assert_eq!(pitfalls::rollout_restart(&kubectl, &repos).await.unwrap(), "deployment.apps/sample-app restarted");
    // The watch-based wait sees the new generation rolled out; the old pod is gone or terminating.
    verify::wait_rollout(&client, "sample-app", "sample-app", &image, Duration::from_secs(60)).await.unwrap();
    let after = verify::ready_pod(&client, "sample-app", "app=sample-app", &image).await.unwrap();
    assert_ne!(after, before, "rollout restart replaced the pod although the image is the same");
    engine.shutdown().await;
}

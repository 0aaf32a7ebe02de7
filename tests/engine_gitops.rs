//! The lab's own sync loop against a real sandbox: a commit becomes Synced objects without polling,
//! drift shows as OutOfSync, pruning deletes only what the loop created (and nothing while a
//! manifest is broken), and a broken manifest is reported by file and line while the rest syncs.

#[path = "engine_gitops_common.rs"]
mod common;

use common::*;
use gitops_lab::protocol::{Command, FileChange, Reply, ResourceSyncState};
use gitops_lab_e2e::Sandbox;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn add(path: &str, content: &str) -> FileChange {
    FileChange { path: path.into(), content: Some(content.into()) }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_through_the_lab_is_synced_at_once_and_drift_shows_as_out_of_sync() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&sandbox, data.path()).await;
    let mut events = engine.subscribe();
    ask(&engine, Command::SyncConfigure { repo: "config".into(), path: ".".into(), prune: false, auto: true }).await;
    let first = wait_for(&mut events, WAIT, |e| run_where(e, all_synced)).await;
    assert_eq!(first.resources.len(), 3, "{first:#?}");
    let head = match ask(&engine, Command::RepoLog { repo: "config".into(), limit: 1 }).await {
        Reply::Commits(commits) => commits[0].sha.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(first.commit, head);

    let commit = match ask(
        &engine,
        Command::RepoCommit {
            repo: "config".into(),
            changes: vec![add("settings.yaml", &config_map("settings", "sample-app", "one"))],
            message: "Add settings".into(),
        },
    )
    .await
    {
        Reply::Commit(commit) => commit,
        other => panic!("{other:?}"),
    };
    let second = wait_for(&mut events, WAIT, |e| run_where(e, |r| r.commit == commit.sha && all_synced(r))).await;
    assert_eq!(state_of(&second, "configmap/settings"), Some(ResourceSyncState::Synced));
    let line = second.resources.iter().find(|r| r.object.name == "settings").unwrap();
    assert_eq!(line.message, "configmap/settings created");
    assert_eq!(line.source, "settings.yaml:1");
    let label =
        sandbox.kubectl_ok(&["get", "configmap", "settings", "-n", "sample-app", "-o", "jsonpath={.metadata.labels}"]);
    assert!(label.contains("gitops-lab.dev/sync"), "{label}");

    // Someone scales the Deployment by hand: git says one replica, so the loop reports drift.
    sandbox.kubectl_ok(&["scale", "deployment/sample-app", "-n", "sample-app", "--replicas=3"]);
    let drifted = wait_for(&mut events, WAIT, |e| {
        run_where(e, |r| state_of(r, "deployment.apps/sample-app") == Some(ResourceSyncState::OutOfSync))
    })
    .await;
    let deployment = drifted.resources.iter().find(|r| r.object.kind == "Deployment").unwrap();
    assert!(deployment.message.contains("spec.replicas"), "{}", deployment.message);
    // A deleted object is drift too.
    sandbox.kubectl_ok(&["delete", "configmap", "settings", "-n", "sample-app"]);
    wait_for(&mut events, WAIT, |e| {
        run_where(e, |r| {
            r.resources.iter().any(|x| x.object.name == "settings" && x.message.contains("missing from the cluster"))
        })
    })
    .await;

    // Syncing again puts git's state back.
    let Reply::SyncRun(healed) = ask(&engine, Command::SyncNow).await else { panic!() };
    assert!(all_synced(&healed), "{healed:#?}");
    assert_eq!(
        sandbox.kubectl_ok(&["get", "deploy", "sample-app", "-n", "sample-app", "-o", "jsonpath={.spec.replicas}"]),
        "1"
    );
    let Reply::SyncHistory(history) = ask(&engine, Command::SyncHistory).await else { panic!() };
    assert!(history.len() >= 3);
    assert_eq!(history[0].commit, commit.sha);
    assert_eq!(history.last().unwrap().commit, head);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_deletes_only_what_the_loop_created_and_nothing_while_a_manifest_is_broken() {
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "team"]);
    // An object that existed before the loop and that git later describes too: never the loop's to delete.
    sandbox.kubectl_ok(&["create", "configmap", "precious", "-n", "team", "--from-literal=value=mine"]);
    let data = tempfile::tempdir().unwrap();
    let repo = repo_with(
        &data.path().join("repo"),
        &[
            ("apps/made.yaml", &config_map("made", "team", "1")),
            ("apps/precious.yaml", &config_map("precious", "team", "git")),
            ("apps/kept.yaml", &config_map("kept", "team", "1")),
        ],
    );
    let engine = engine(&sandbox, data.path()).await;
    let mut events = engine.subscribe();
    let spec = repo.to_str().unwrap().to_string();
    ask(&engine, Command::SyncConfigure { repo: spec, path: "apps".into(), prune: true, auto: true }).await;
    let first = wait_for(&mut events, WAIT, |e| run_where(e, all_synced)).await;
    let lines: Vec<_> = first.resources.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(lines, ["configmap/kept created", "configmap/made created", "configmap/precious configured"]);

    // A broken file arrives together with the removal of made.yaml: nothing may be pruned.
    let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: oops\n  labels: [unclosed\n";
    let sha = commit_files(&repo, &[("apps/made.yaml", ""), ("apps/zz-broken.yaml", broken)], "Break it");
    let blocked = wait_for(&mut events, WAIT, |e| run_where(e, |r| r.commit == sha)).await;
    assert_eq!(blocked.errors.len(), 1, "{blocked:#?}");
    assert!(
        blocked.errors[0].message.en.starts_with("apps/zz-broken.yaml:6: this is not valid YAML"),
        "{}",
        blocked.errors[0].message.en
    );
    assert_eq!(state_of(&blocked, "configmap/kept"), Some(ResourceSyncState::Synced), "the rest still syncs");
    assert_eq!(state_of(&blocked, "configmap/made"), Some(ResourceSyncState::Orphaned));
    sandbox.kubectl_ok(&["get", "configmap", "made", "-n", "team"]);

    // Fixed: now made.yaml is pruned, and removing precious.yaml leaves the learner's own object alone.
    let sha = commit_files(&repo, &[("apps/zz-broken.yaml", ""), ("apps/precious.yaml", "")], "Fix it");
    let pruned = wait_for(&mut events, WAIT, |e| run_where(e, |r| r.commit == sha)).await;
    assert!(pruned.errors.is_empty(), "{pruned:#?}");
    assert_eq!(state_of(&pruned, "configmap/made"), Some(ResourceSyncState::Pruned), "{pruned:#?}");
    assert_eq!(state_of(&pruned, "configmap/kept"), Some(ResourceSyncState::Synced));
    assert_eq!(state_of(&pruned, "configmap/precious"), None, "never in the inventory, so never a candidate");
    assert!(!sandbox.kubectl(&["get", "configmap", "made", "-n", "team"]).status.success(), "made was pruned");
    sandbox.kubectl_ok(&["get", "configmap", "precious", "-n", "team"]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_manifest_is_reported_by_file_and_line_while_the_rest_syncs() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let bad_kind = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\n# no kind below\napiVersion: v1\nmetadata:\n  name: nameless\n";
    let repo = repo_with(
        &data.path().join("repo"),
        &[
            ("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"),
            ("cm.yaml", &config_map("web", "shop", "x")),
            ("half.yaml", bad_kind),
            ("widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: shop\n"),
        ],
    );
    let engine = engine(&sandbox, data.path()).await;
    let spec = repo.to_str().unwrap().to_string();
    ask(&engine, Command::SyncConfigure { repo: spec, path: ".".into(), prune: true, auto: false }).await;
    let Reply::SyncRun(run) = ask(&engine, Command::SyncNow).await else { panic!() };
    assert_eq!(run.errors.len(), 1, "{run:#?}");
    let error = &run.errors[0];
    assert_eq!(error.code, "invalid-manifest");
    assert!(error.message.en.starts_with("half.yaml:6 (kind): kind is not set"), "{}", error.message.en);
    assert!(error.message.zh.starts_with("half.yaml:6"));
    assert_eq!(state_of(&run, "namespace/shop"), Some(ResourceSyncState::Synced));
    assert_eq!(state_of(&run, "configmap/web"), Some(ResourceSyncState::Synced));
    let widget = run.resources.iter().find(|r| r.object.kind == "Widget").unwrap();
    assert_eq!(widget.state, ResourceSyncState::Failed);
    assert!(widget.message.contains("no matches for kind \"Widget\""), "{}", widget.message);
    sandbox.kubectl_ok(&["get", "configmap", "web", "-n", "shop"]);
    // The whole half.yaml was refused: its good first document was not applied either.
    assert!(!sandbox.kubectl(&["get", "configmap", "fine", "-n", "shop"]).status.success());
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_without_manifests_says_so_and_changes_nothing() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let repo = repo_with(&data.path().join("repo"), &[("README.md", "nothing to see\n")]);
    let engine = engine(&sandbox, data.path()).await;
    let spec = repo.to_str().unwrap().to_string();
    ask(&engine, Command::SyncConfigure { repo: spec.clone(), path: ".".into(), prune: true, auto: false }).await;
    let Reply::SyncRun(run) = ask(&engine, Command::SyncNow).await else { panic!() };
    assert!(run.resources.is_empty());
    assert_eq!(run.errors[0].code, "no-manifests");
    assert!(run.errors[0].message.en.contains("has no manifests (.yaml, .yml or .json files) under \".\""));
    // A directory that is not there, and a path that is no repository, are explained too.
    ask(&engine, Command::SyncConfigure { repo: spec, path: "deploy".into(), prune: true, auto: false }).await;
    let Reply::SyncRun(run) = ask(&engine, Command::SyncNow).await else { panic!() };
    assert_eq!(run.errors[0].code, "no-manifests");
    let error = engine
        .handle(Command::SyncConfigure {
            repo: data.path().join("nope").display().to_string(),
            path: ".".into(),
            prune: false,
            auto: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code, "not-a-repository");
    engine.shutdown().await;
}

//! Helpers shared by the GitOps engine suites (included with `#[path]`): an engine on a test
//! sandbox, waiting for its events, and git repositories made with the real `git` command.

#![allow(dead_code)]

use gitops_lab::protocol::{ClusterChoice, Command, Event, Reply, ResourceSyncState, SyncRunView, SyncView};
use gitops_lab::{Engine, EngineConfig, Subscription};
use gitops_lab_e2e::Sandbox;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An engine connected to `sandbox` through its kubeconfig, keeping its data in `data`.
pub async fn engine(sandbox: &Sandbox, data: &Path) -> Engine {
    let mut config = EngineConfig::new(data.join("lab"), data.join("exercises"));
    config.kubeconfig = Some(sandbox.kubeconfig.clone());
    config.cluster = ClusterChoice::Context { name: "gitops-lab-sandbox".into() };
    let engine = Engine::start(config).await;
    engine.connection().require().expect("the engine reaches the test sandbox");
    engine
}

/// The kube-rs client of a sandbox.
pub async fn client(sandbox: &Sandbox) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a config");
    kube::Client::try_from(config).expect("a client")
}

/// Waits for an event that `pick` accepts; panics with what was seen after `limit`.
pub async fn wait_for<T>(events: &mut Subscription, limit: Duration, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.next()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
                seen.push(format!("{event:?}"));
            }
            Ok(None) => panic!("the engine stopped; seen: {seen:#?}"),
            Err(_) => panic!("no matching event within {limit:?}; seen: {seen:#?}"),
        }
    }
}

/// The last run of a sync event whose run satisfies `wanted`.
pub fn run_where(event: &Event, wanted: impl Fn(&SyncRunView) -> bool) -> Option<SyncRunView> {
    match event {
        Event::Sync(SyncView { last: Some(run), .. }) if wanted(run) => Some(run.clone()),
        _ => None,
    }
}

/// Whether every resource of a run is Synced.
pub fn all_synced(run: &SyncRunView) -> bool {
    !run.resources.is_empty() && run.resources.iter().all(|r| r.state == ResourceSyncState::Synced)
}

/// The state of the resource whose apply line or message names `name` (`configmap/a`).
pub fn state_of(run: &SyncRunView, name: &str) -> Option<ResourceSyncState> {
    run.resources.iter().find(|r| r.object.kubectl_name() == name).map(|r| r.state)
}

/// Sends a command and returns its reply, failing the test on an error.
pub async fn ask(engine: &Engine, command: Command) -> Reply {
    match engine.handle(command.clone()).await {
        Ok(reply) => reply,
        Err(error) => panic!("{command:?} failed: {error:?}"),
    }
}

/// Runs the real `git` in `dir` with a fixed identity; panics when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=Learner", "-c", "user.email=learner@example.invalid", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A new git repository (made with the real `git init`) holding `files`, committed.
pub fn repo_with(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    commit_files(dir, files, "Start");
    dir.to_path_buf()
}

/// Writes `files` (an empty content deletes the file) and commits them with the real `git`.
pub fn commit_files(dir: &Path, files: &[(&str, &str)], message: &str) -> String {
    for (path, content) in files {
        let file = dir.join(path);
        if content.is_empty() {
            let _ = std::fs::remove_file(&file);
        } else {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, content).unwrap();
        }
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// A ConfigMap manifest.
pub fn config_map(name: &str, namespace: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  value: \"{value}\"\n"
    )
}

//! The lab's read-only git server: the real `git clone` and libgit2 both clone over smart HTTP,
//! `git push` is refused with the server's sentence, and a sandbox pod running the GitOps operator
//! image clones from the URL the engine hands out.

#[path = "engine_gitops_common.rs"]
mod common;

use common::*;
use gitops_lab::gitops::{Repos, server};
use gitops_lab::protocol::{Command, Reply};
use gitops_lab_e2e::Sandbox;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use std::time::Duration;

/// A git server on port 0 over a fresh set of repositories; the server stops when the sender drops.
async fn served() -> (tempfile::TempDir, Repos, String, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let repos = Repos::new(dir.path().join("repos"));
    repos.dir("config").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::run(listener, repos.root().to_path_buf(), async move {
        let _ = stopped.await;
    }));
    (dir, repos, base, stop)
}

fn git_output(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git").args(args).current_dir(dir).output().expect("git runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_git_and_libgit2_clone_the_head_over_smart_http() {
    let (dir, repos, base, _stop) = served().await;
    let head = repos.head("config").unwrap().unwrap().sha;
    for url in [format!("{base}/config"), format!("{base}/config.git")] {
        let target = dir.path().join(format!("by-git-{}", url.len()));
        let work = dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking({
            let (url, target) = (url.clone(), target.clone());
            move || git_output(&work, &["clone", "-q", &url, target.to_str().unwrap()])
        })
        .await
        .unwrap();
        assert!(out.status.success(), "git clone {url}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(git(&target, &["rev-parse", "HEAD"]).trim(), head);
        assert!(std::fs::read_to_string(target.join("deployment.yaml")).unwrap().contains("gitops-lab/sample-app:"));
    }
    let target = dir.path().join("by-git2");
    let url = format!("{base}/config");
    let cloned =
        tokio::task::spawn_blocking(move || git2::Repository::clone(&url, &target).map(|r| r.path().to_path_buf()))
            .await
            .unwrap()
            .expect("git2 clones over http");
    let repo = git2::Repository::open(cloned).unwrap();
    assert_eq!(repo.head().unwrap().peel_to_commit().unwrap().id().to_string(), head);
    // A name the lab does not serve is a plain 404 for git.
    let missing = git_output(dir.path(), &["ls-remote", &format!("{base}/nope")]);
    assert!(!missing.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_is_refused_with_a_sentence_git_prints() {
    let (dir, _repos, base, _stop) = served().await;
    let clone = dir.path().join("clone");
    let work = dir.path().to_path_buf();
    let url = format!("{base}/config");
    let push = tokio::task::spawn_blocking(move || {
        let out = git_output(&work, &["clone", "-q", &url, clone.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        commit_files(&clone, &[("note.txt", "hi\n")], "A note");
        git_output(&clone, &["push", "origin", "HEAD:main"])
    })
    .await
    .unwrap();
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("This git server is read-only"), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
    assert!(!dir.path().join("repos/config/note.txt").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_pod_with_the_operator_image_clones_from_the_engines_server() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let engine = engine(&sandbox, data.path()).await;
    let Reply::Repos(repos) = ask(&engine, Command::Repos).await else { panic!() };
    let config = repos.iter().find(|r| r.name == "config").unwrap();
    assert!(config.url.starts_with("http://127.0.0.1:"), "{}", config.url);
    assert_eq!(config.files, ["README.md", "deployment.yaml", "namespace.yaml", "service.yaml"]);
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: cloner\nspec:\n  restartPolicy: Never\n  containers:\n    - name: git\n      image: gitops-lab/gitops-operator:v1\n      command: [sh, -e, -c]\n      args: [\"git clone {} /tmp/config && ls /tmp/config\"]\n",
        config.url
    );
    let file = data.path().join("cloner.yaml");
    std::fs::write(&file, pod).unwrap();
    sandbox.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    let pods: Api<Pod> = Api::namespaced(client(&sandbox).await, "default");
    let done = |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref()?.phase.clone()).is_some_and(|phase| phase == "Succeeded" || phase == "Failed")
    };
    tokio::time::timeout(Duration::from_secs(30), kube::runtime::wait::await_condition(pods.clone(), "cloner", done))
        .await
        .expect("the pod finishes")
        .unwrap();
    let log = sandbox.kubectl_ok(&["logs", "cloner"]);
    let phase = sandbox.kubectl_ok(&["get", "pod", "cloner", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Succeeded", "log: {log}");
    for file in ["deployment.yaml", "namespace.yaml", "service.yaml"] {
        assert!(log.contains(file), "{log}");
    }
    engine.shutdown().await;
}

//! `gitops-lab sync` as a learner runs it: once (lines, states, file:line errors, exit status) and
//! with `--watch`, reacting to a commit made with the real `git` command.

#[path = "engine_gitops_common.rs"]
mod common;

use common::*;
use gitops_lab_e2e::{Sandbox, gitops_lab_bin, text};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn sync_command(sandbox: &Sandbox, data: &std::path::Path, repo: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(gitops_lab_bin());
    command
        .args(["sync", "--repo", repo.to_str().unwrap(), "--cluster", "context:gitops-lab-sandbox", "--data-dir"])
        .arg(data)
        .args(extra)
        .env("KUBECONFIG", &sandbox.kubeconfig)
        .env("GITOPS_LAB_LANG", "en");
    command
}

#[test]
fn sync_once_prints_each_resource_and_fails_on_a_broken_manifest() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let repo = repo_with(
        &data.path().join("repo"),
        &[
            ("a.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cli\n"),
            ("b.yaml", &config_map("one", "cli", "1")),
        ],
    );
    let out = sync_command(&sandbox, &data.path().join("lab"), &repo, &[]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Synced      namespace/cli created  (a.yaml:1)"), "{stdout}");
    assert!(stdout.contains("Synced      configmap/one created  (b.yaml:1)"), "{stdout}");
    assert!(stdout.contains(": 2 synced, 0 failed"), "{stdout}");
    sandbox.kubectl_ok(&["get", "configmap", "one", "-n", "cli"]);

    commit_files(
        &repo,
        &[("c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n  namespace: cli\ndata: [\n")],
        "Broken",
    );
    let out = sync_command(&sandbox, &data.path().join("lab"), &repo, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: c.yaml:7: this is not valid YAML"), "{stderr}");
    assert!(text(&out.stdout).contains("Synced      configmap/one unchanged  (b.yaml:1)"));

    let missing = sync_command(&sandbox, &data.path().join("lab"), &data.path().join("nowhere"), &[]).output().unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("is neither one of the lab's repositories"), "{}", text(&missing.stderr));
}

#[test]
fn sync_watch_applies_a_commit_made_with_the_real_git() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let repo = repo_with(
        &data.path().join("repo"),
        &[("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: watched\n")],
    );
    let mut child = sync_command(&sandbox, &data.path().join("lab"), &repo, &["--watch", "--prune"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_line = |wanted: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
                seen.push(line.clone());
                if line.contains(wanted) {
                    return;
                }
            }
        }
        panic!("no line with {wanted:?}; seen: {seen:#?}");
    };
    wait_line("Synced      namespace/watched created");
    let sha = commit_files(&repo, &[("cm.yaml", &config_map("fresh", "watched", "v1"))], "Add fresh");
    wait_line("Synced      configmap/fresh created  (cm.yaml:1)");
    wait_line(&format!("Commit {}", &sha[..7]));
    commit_files(&repo, &[("cm.yaml", "")], "Remove fresh");
    wait_line("Pruned      configmap/fresh pruned");
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    assert!(!sandbox.kubectl(&["get", "configmap", "fresh", "-n", "watched"]).status.success());
}

//! Commit → every resource Synced with the lab's sync loop (3 and 100 manifests, commits made through
//! the lab and with git outside it), and beside it the chapter's CronJob operator on a one-minute
//! schedule (commit → the change applied in the cluster). A plain `harness = false` binary: it
//! prints a Markdown table on stdout and progress on stderr. See docs/benchmarks.md.

mod support;
use support::{gitops_lab_bin, knob};

use futures::StreamExt;
use gitops_lab::gitops::Repos;
use gitops_lab::protocol::{Command, Event, FileChange, Reply, ResourceSyncState, SyncView};
use gitops_lab::{Engine, EngineConfig, Subscription};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::watcher;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn stats(name: &str, mut samples: Vec<f64>, target: &str) {
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {target} |",
        samples.len(),
        samples[0],
        at(0.5),
        at(0.95),
        samples[samples.len() - 1]
    );
}

/// Waits for a sync event whose run covers `sha` with every resource Synced.
async fn synced(events: &mut Subscription, sha: &str) {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.next()).await {
            Ok(Some(Event::Sync(SyncView { last: Some(run), .. })))
                if run.commit == sha && run.resources.iter().all(|r| r.state == ResourceSyncState::Synced) =>
            {
                return;
            }
            Ok(Some(_)) => {}
            other => panic!("no synced run for {sha}: {other:?}"),
        }
    }
}

fn config_map(name: &str, namespace: &str, value: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  value: \"{value}\"\n"
    )
}

/// Creates (once) a repository named `name` under the lab's repositories with `files`, via git2.
fn bench_repo(root: &Path, name: &str, files: &[(String, String)]) -> PathBuf {
    let dir = root.join(name);
    let repo = git2::Repository::init(&dir).expect("git init");
    write_commit(&repo, &dir, files, "Start")
}

fn write_commit(repo: &git2::Repository, dir: &Path, files: &[(String, String)], message: &str) -> PathBuf {
    let mut index = repo.index().unwrap();
    for (path, content) in files {
        std::fs::write(dir.join(path), content).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let me = git2::Signature::now("Bench", "bench@gitops-lab.invalid").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &me, &me, message, &tree, &parents).unwrap();
    dir.to_path_buf()
}

fn head(dir: &Path) -> String {
    git2::Repository::open(dir).unwrap().head().unwrap().peel_to_commit().unwrap().id().to_string()
}

async fn configure(engine: &Engine, repo: &str) {
    let command = Command::SyncConfigure { repo: repo.into(), path: ".".into(), prune: false, auto: true };
    engine.handle(command).await.expect("sync configured");
}

/// Part 1: the config repository (Namespace, Deployment, Service); commits through the lab and with git2.
async fn three_manifests(engine: &Engine, repos_root: &Path, runs: usize) {
    let mut events = engine.subscribe();
    configure(engine, "config").await;
    let first = head(&repos_root.join("config"));
    synced(&mut events, &first).await;
    let (mut announced, mut outside) = (Vec::new(), Vec::new());
    let template = include_str!("../src/gitops/templates/config/service.yaml");
    let outside_repos = Repos::new(repos_root);
    for i in 0..runs {
        let text = template.replace(
            "  name: sample-app\n  namespace",
            &format!("  name: sample-app\n  annotations:\n    bench: \"{i}\"\n  namespace"),
        );
        let change = vec![FileChange { path: "service.yaml".into(), content: Some(text.clone()) }];
        let clock = Instant::now();
        let Ok(Reply::Commit(commit)) = engine
            .handle(Command::RepoCommit { repo: "config".into(), changes: change, message: format!("bench {i}") })
            .await
        else {
            panic!("commit")
        };
        synced(&mut events, &commit.sha).await;
        announced.push(clock.elapsed().as_secs_f64() * 1000.0);
        // The same through another Repos handle: the engine is not told, it sees the refs move.
        let text = text.replace(&format!("bench: \"{i}\""), &format!("bench: \"{i}b\""));
        let change = vec![FileChange { path: "service.yaml".into(), content: Some(text) }];
        let clock = Instant::now();
        let commit = outside_repos.commit("config", &change, &format!("bench {i}b")).unwrap();
        synced(&mut events, &commit.sha).await;
        outside.push(clock.elapsed().as_secs_f64() * 1000.0);
    }
    stats("3 manifests, commit through the lab (announced)", announced, "median ≤ 250 ms");
    stats("3 manifests, commit outside the lab (seen by inotify)", outside, "median ≤ 250 ms");
}

/// Part 2: 100 ConfigMaps; every commit changes all of them.
async fn hundred_manifests(engine: &Engine, repos_root: &Path, runs: usize) {
    let mut events = engine.subscribe();
    let files = |v: usize| -> Vec<(String, String)> {
        let mut files =
            vec![("ns.yaml".to_string(), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench100\n".to_string())];
        files.extend((1..100).map(|i| (format!("cm-{i:03}.yaml"), config_map(&format!("cm-{i:03}"), "bench100", v))));
        files
    };
    let dir = bench_repo(repos_root, "bench-100", &files(0));
    let clock = Instant::now();
    configure(engine, dir.to_str().unwrap()).await;
    synced(&mut events, &head(&dir)).await;
    let first = clock.elapsed().as_secs_f64() * 1000.0;
    let repo = git2::Repository::open(&dir).unwrap();
    let mut samples = Vec::new();
    for v in 1..=runs {
        let clock = Instant::now();
        write_commit(&repo, &dir, &files(v), &format!("bench {v}"));
        synced(&mut events, &head(&dir)).await;
        samples.push(clock.elapsed().as_secs_f64() * 1000.0);
    }
    stats("100 manifests, first sync (100 created)", vec![first], "");
    stats("100 manifests, commit changing all 100 (outside the lab)", samples, "≤ 2 s");
}

/// Part 3: the chapter's CronJob operator, every minute, cloning from the lab's git server.
async fn cron_operator(engine: &Engine, repos_root: &Path, runs: usize) {
    let Ok(Reply::Repos(repos)) = engine.handle(Command::Repos).await else { panic!("repos") };
    let base = repos[0].url.rsplit_once('/').unwrap().0.to_string();
    let dir = bench_repo(
        repos_root,
        "bench-cron",
        &[
            ("ns.yaml".into(), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-cron\n".into()),
            ("cm.yaml".into(), config_map("watched", "bench-cron", 0)),
        ],
    );
    let handle = engine.connection().require().expect("connected");
    let operator = include_str!("gitops_sync_cron.yaml").replace("REPO_URL", &format!("{base}/bench-cron"));
    let manifests = gitops_lab::kubectl::parse("gitops_sync_cron.yaml", &operator).expect("the operator parses");
    let kubectl = gitops_lab::kubectl::Kubectl::new(&handle);
    let (_, output) = kubectl.apply_all(&manifests, &Default::default()).await;
    assert!(output.ok(), "{}", output.combined());
    let api: Api<ConfigMap> = Api::namespaced(handle.client.clone(), "bench-cron");
    let repo = git2::Repository::open(&dir).unwrap();
    let mut samples = Vec::new();
    for v in 1..=runs {
        // Commit at different points of the minute, so the wait for the schedule is sampled fairly.
        let offset = (v * 37) % 60;
        let second = jiff::Timestamp::now().as_second().rem_euclid(60) as usize;
        tokio::time::sleep(Duration::from_secs(((offset + 60 - second) % 60) as u64)).await;
        let clock = Instant::now();
        write_commit(&repo, &dir, &[("cm.yaml".into(), config_map("watched", "bench-cron", v))], &format!("v{v}"));
        let stream = watcher(api.clone(), watcher::Config::default());
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            let value = match event {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm))
                    if cm.metadata.name.as_deref() == Some("watched") =>
                {
                    cm.data.and_then(|d| d.get("value").cloned())
                }
                _ => None,
            };
            if value.as_deref() == Some(v.to_string().as_str()) {
                break;
            }
        }
        samples.push(clock.elapsed().as_secs_f64() * 1000.0);
        eprintln!("cron sample {v}: {:.0} ms", samples.last().unwrap());
    }
    stats("CronJob operator, `* * * * *`, commit → ConfigMap changed", samples, "(baseline)");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let temp =
        tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into())).unwrap();
    let mut config = EngineConfig::new(temp.path().join("lab"), temp.path().join("exercises"));
    config.sandbox_binary = Some(gitops_lab_bin());
    let engine = Engine::start(config.clone()).await;
    engine.connection().require().expect("the engine runs its sandbox");
    let repos_root = config.repos_dir();
    println!("| measurement (ms) | n | min | median | p95 | max | target |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    eprintln!("part 1: 3 manifests");
    three_manifests(&engine, &repos_root, knob("BENCH_RUNS", 30)).await;
    eprintln!("part 2: 100 manifests");
    hundred_manifests(&engine, &repos_root, knob("BENCH_RUNS_100", 10)).await;
    let cron = knob("BENCH_CRON_SAMPLES", 5);
    if cron > 0 {
        eprintln!("part 3: the CronJob operator ({cron} samples, up to a minute each)");
        cron_operator(&engine, &repos_root, cron).await;
    }
    engine.shutdown().await;
}

//! The live model when the cluster goes away or changes: the engine's own sandbox process killed
//! (the supervisor restarts it on the same port; the watches reconnect, say so, and reset the graph),
//! and a switch to another cluster (watches restart there; port-forwards to the old one stop).

#[path = "engine_live_common.rs"]
mod common;

use common::{Model, Recorder, object};
use gitops_lab::protocol::{ClusterChoice, ClusterPhase, Command, Event, PortForwardState, Reply};
use gitops_lab::{Engine, EngineConfig};
use gitops_lab_e2e::{Sandbox, gitops_lab_bin};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use std::path::Path;
use std::time::Duration;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

/// The pid of the `gitops-lab sandbox serve` child this test process started for `data_dir`.
fn sandbox_child(data_dir: &Path) -> u32 {
    let me = std::process::id();
    let wanted = data_dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The parent pid is the second field after the command name, which is in parentheses.
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if parent == Some(me) && cmdline.contains("sandbox serve") && cmdline.contains(&wanted) {
            return pid;
        }
    }
    panic!("no sandbox child of this test for {wanted}")
}

/// Creates a ConfigMap, retrying while the API server is still coming back.
async fn create_soon(api: &Api<ConfigMap>, name: &str) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while let Err(error) = api.create(&PostParams::default(), &config_map(name)).await {
        assert!(tokio::time::Instant::now() < deadline, "cannot create {name}: {error}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// One scenario told in order (longer than ~60 lines): each step builds on the state the last one left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_sandbox_is_announced_and_the_graph_comes_back_with_a_reset() {
    let data = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(data.path().join("lab"), data.path().join("exercises"));
    config.sandbox_binary = Some(gitops_lab_bin());
    let engine = Engine::start(config.clone()).await;
    assert_eq!(engine.connection().status().phase, ClusterPhase::Connected);
    let recorder = Recorder::start(engine.subscribe());
    let client = engine.connection().handle().unwrap().client;
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
    create_soon(&config_maps, "before").await;
    recorder
        .wait_for("the ConfigMap in the graph", |events| {
            // A delta, or the first listing when the watches started after the create.
            events
                .iter()
                .any(|e| match e {
                    Event::Graph(d) => d.upserts.iter().any(|n| n.object.name == "before"),
                    Event::GraphReset(s) => s.nodes.iter().any(|n| n.object.name == "before"),
                    _ => false,
                })
                .then_some(())
        })
        .await;

    let pid = sandbox_child(&config.sandbox_dir());
    let mark = recorder.mark();
    let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let lost = recorder
        .wait_for("the live view saying it lost the cluster", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::Notice { level, message } if level == "warning" && message.en.contains("live view lost") => {
                    Some(message.clone())
                }
                _ => None,
            })
        })
        .await;
    assert!(lost.zh.contains("实时视图"), "{}", lost.zh);
    let reset = recorder
        .wait_for("a reset once the restarted sandbox was listed again", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::GraphReset(snapshot) => Some(snapshot.clone()),
                _ => None,
            })
        })
        .await;
    assert!(reset.nodes.iter().any(|n| n.object.name == "before"), "the stored ConfigMap is back");
    recorder
        .wait_for("the all-clear notice", |events| {
            events[mark..]
                .iter()
                .any(|e| matches!(e, Event::Notice { level, message } if level == "info" && message.en.contains("again")))
                .then_some(())
        })
        .await;
    let reconnecting = recorder.all()[mark..]
        .iter()
        .any(|e| matches!(e, Event::Cluster(status) if status.phase == ClusterPhase::Reconnecting));
    assert!(reconnecting, "the cluster bar showed the restart");
    assert_ne!(sandbox_child(&config.sandbox_dir()), pid, "a new sandbox process");

    // Live again: a new object arrives as a delta continuing from the reset.
    let mark = recorder.mark();
    create_soon(&config_maps, "after").await;
    let events = recorder
        .wait_for("the new ConfigMap as a delta", |events| {
            let mut model = Model::from_snapshot(&reset);
            model.apply_all(events);
            model.find("ConfigMap", "after").is_some().then(|| events[mark..].to_vec())
        })
        .await;
    assert!(events.iter().all(|e| !matches!(e, Event::GraphReset(_))), "no second reset");
    engine.shutdown().await;
}

/// A kubeconfig with one context per sandbox, named `a` and `b`.
fn two_contexts(a: &Sandbox, b: &Sandbox, path: &Path) {
    let field = |sandbox: &Sandbox, key: &str| -> String {
        let text = std::fs::read_to_string(&sandbox.kubeconfig).unwrap();
        let line =
            text.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_else(|| panic!("{key} in kubeconfig"));
        line.trim_start()[key.len()..].trim().to_string()
    };
    let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, sandbox) in [("a", a), ("b", b)] {
        yaml += &format!(
            "- name: {name}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
            field(sandbox, "server:"),
            field(sandbox, "certificate-authority-data:")
        );
    }
    yaml += "users:\n";
    for (name, sandbox) in [("a", a), ("b", b)] {
        yaml += &format!("- name: {name}\n  user:\n    token: {}\n", field(sandbox, "token:"));
    }
    yaml += "contexts:\n";
    for name in ["a", "b"] {
        yaml += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: default\n");
    }
    yaml += "current-context: a\n";
    std::fs::write(path, yaml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_clusters_restarts_the_watches_there_and_stops_forwards_to_the_old_one() {
    let (a, b) = (Sandbox::start(), Sandbox::start());
    let data = tempfile::tempdir().unwrap();
    two_contexts(&a, &b, &data.path().join("kubeconfig"));
    a.kubectl_ok(&["create", "configmap", "in-a"]);
    b.kubectl_ok(&["create", "configmap", "in-b"]);
    a.kubectl_ok(&["run", "web", "--image=nginx:1.27", "--port=80"]);
    a.kubectl_ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]);
    let mut config = EngineConfig::new(data.path().join("lab"), data.path().join("exercises"));
    config.kubeconfig = Some(data.path().join("kubeconfig"));
    config.cluster = ClusterChoice::Context { name: "a".into() };
    let engine = Engine::start(config).await;
    let recorder = Recorder::start(engine.subscribe());
    let forward = Command::PortForwardStart { target: object("v1", "Pod", "web"), port: 80, local_port: None };
    let Ok(Reply::PortForward(view)) = engine.handle(forward).await else { panic!("a forward in cluster a") };
    assert_eq!(view.kubectl, format!("kubectl port-forward --context a pod/web {}:80", view.local_port));
    // The watches list the cluster in the background: wait for cluster a's objects to be shown.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let Ok(Reply::Graph(first)) = engine.handle(Command::Graph).await else { panic!("graph") };
        if first.nodes.iter().any(|n| n.object.name == "in-a") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "cluster a's ConfigMap never reached the graph: {first:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let mark = recorder.mark();
    engine
        .handle(Command::Connect { cluster: ClusterChoice::Context { name: "b".into() } })
        .await
        .expect("connects to b");
    let reset = recorder
        .wait_for("a reset showing cluster b", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::GraphReset(s) if s.nodes.iter().any(|n| n.object.name == "in-b") => Some(s.clone()),
                _ => None,
            })
        })
        .await;
    assert!(reset.nodes.iter().all(|n| n.object.name != "in-a" && n.object.name != "web"), "nothing of cluster a");
    let stopped = recorder.all()[mark..]
        .iter()
        .any(|e| matches!(e, Event::PortForward(v) if v.id == view.id && v.state == PortForwardState::Stopped));
    assert!(stopped, "the forward into cluster a was stopped");
    assert_eq!(engine.handle(Command::PortForwards).await, Ok(Reply::PortForwards(Vec::new())));
    engine.shutdown().await;
}

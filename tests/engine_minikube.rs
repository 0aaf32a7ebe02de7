//! The engine's minikube, driven with duct, against a stand-in `minikube` program
//! (`fixtures/minikube/minikube`) that records its arguments and plays back what the real
//! minikube prints: a start streamed line by line and then connected to (the stand-in writes a
//! "minikube" context that points at a test sandbox), a start that fails for lack of Docker, a
//! cancelled start, `status -o json` for a running, stopped and missing profile, stop, delete, ip,
//! image build and load, and a machine without minikube.

#[path = "site_support/mod.rs"]
mod site_support;

use gitops_lab::cluster::Minikube;
use gitops_lab::protocol::{
    ClusterChoice, ClusterPhase, Command, Event, MinikubeOptions, OperationId, OperationOutcome, Reply,
};
use gitops_lab::{Engine, EngineConfig, Subscription};
use gitops_lab_e2e::Sandbox;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

fn fixtures() -> PathBuf {
    gitops_lab_e2e::tests_dir().join("fixtures").join("minikube")
}

/// A folder with the stand-in program and the play files a test chose.
struct Stand {
    dir: tempfile::TempDir,
}

impl Stand {
    /// The stand-in, playing `fixture` (a file of fixtures/minikube) for each `command`.
    fn new(plays: &[(&str, &str)]) -> Stand {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixtures().join("minikube"), dir.path().join("minikube")).unwrap();
        let stand = Stand { dir };
        for (command, fixture) in plays {
            stand.play(command, fixture, &[]);
        }
        stand
    }

    /// Installs `fixture` as the play of `command`, with text replacements.
    fn play(&self, command: &str, fixture: &str, replace: &[(&str, &str)]) {
        let mut text = std::fs::read_to_string(fixtures().join(fixture)).unwrap();
        for (from, to) in replace {
            text = text.replace(from, to);
        }
        std::fs::write(self.dir.path().join(format!("{command}.play")), text).unwrap();
    }

    fn binary(&self) -> PathBuf {
        self.dir.path().join("minikube")
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The lines a play file prints (out and err), in order.
    fn printed(fixture: &str) -> Vec<String> {
        let text = std::fs::read_to_string(fixtures().join(fixture)).unwrap();
        text.lines()
            .filter_map(|l| {
                l.strip_prefix("out ")
                    .or_else(|| l.strip_prefix("err "))
                    .or_else(|| ["out", "err"].contains(&l).then_some(""))
            })
            .map(String::from)
            .collect()
    }
}

/// An engine whose minikube is the stand-in and whose kubeconfig is `kubeconfig` (maybe absent).
async fn engine(stand: &Stand, data: &Path, kubeconfig: &Path) -> Engine {
    let mut config = EngineConfig::new(data, data.join("exercises"));
    config.minikube_binary = Some(stand.binary());
    config.kubeconfig = Some(kubeconfig.to_path_buf());
    config.cluster = ClusterChoice::Minikube;
    Engine::start(config).await
}

/// The progress lines of operation `id` and how it ended.
async fn follow(events: &mut Subscription, id: OperationId) -> (Vec<String>, OperationOutcome) {
    let mut lines = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, async {
        while let Some(event) = events.next().await {
            match event {
                Event::OperationProgress { id: of, line } if of == id => lines.push(line),
                Event::OperationFinished { id: of, outcome } if of == id => return outcome,
                _ => {}
            }
        }
        panic!("the engine's events ended");
    })
    .await;
    let outcome = ended.unwrap_or_else(|_| panic!("operation {id:?} did not finish; lines so far: {lines:#?}"));
    (lines, outcome)
}

fn operation(reply: Result<Reply, gitops_lab::protocol::ErrorView>) -> OperationId {
    match reply {
        Ok(Reply::Operation(id)) => id,
        other => panic!("expected an operation, got {other:?}"),
    }
}

#[tokio::test]
async fn a_start_streams_minikubes_lines_then_connects_the_lab_to_the_new_cluster() {
    let sandbox = Sandbox::start();
    let data = tempfile::tempdir().unwrap();
    let kubeconfig = data.path().join("kube").join("config");
    std::fs::create_dir_all(kubeconfig.parent().unwrap()).unwrap();
    let stand = Stand::new(&[]);
    // What minikube would write: a "minikube" context (here pointing at the test sandbox).
    let written =
        std::fs::read_to_string(&sandbox.kubeconfig).unwrap().replace(site_support::SANDBOX_CONTEXT, "minikube");
    std::fs::write(stand.dir.path().join("minikube.kubeconfig"), written).unwrap();
    stand.play("start", "start-docker.play", &[("KUBECONFIG_DESTINATION", kubeconfig.to_str().unwrap())]);

    let engine = engine(&stand, data.path(), &kubeconfig).await;
    assert_eq!(engine.connection().status().phase, ClusterPhase::Failed, "nothing to reach before the start");
    let mut events = engine.subscribe();
    let options =
        MinikubeOptions { driver: Some("docker".into()), cpus: Some(2), memory_mib: Some(4096), profile: None };
    let id = operation(engine.handle(Command::MinikubeStart { options }).await);
    let (lines, outcome) = follow(&mut events, id).await;

    assert_eq!(lines, Stand::printed("start-docker.play"), "every line, in order");
    assert_eq!(stand.calls(), ["start -p minikube --driver=docker --cpus=2 --memory=4096mb"]);
    let OperationOutcome::Succeeded { message } = outcome else { panic!("the start succeeds: {outcome:?}") };
    assert!(message.en.starts_with("Connected to "), "{message:?}");
    let status = engine.connection().status();
    assert_eq!((status.phase, status.choice), (ClusterPhase::Connected, ClusterChoice::Minikube));
    assert_eq!(status.server.as_deref(), Some(sandbox.server.as_str()));
    engine.shutdown().await;
}

#[tokio::test]
async fn a_start_without_docker_fails_with_minikubes_reason_and_suggestion() {
    let data = tempfile::tempdir().unwrap();
    let stand = Stand::new(&[("start", "start-no-docker.play")]);
    let engine = engine(&stand, data.path(), &data.path().join("none")).await;
    let mut events = engine.subscribe();
    let options = MinikubeOptions { driver: Some("docker".into()), ..MinikubeOptions::default() };
    let id = operation(engine.handle(Command::MinikubeStart { options }).await);
    let (lines, outcome) = follow(&mut events, id).await;
    assert_eq!(lines, Stand::printed("start-no-docker.play"), "standard error is streamed too");
    let OperationOutcome::Failed { error } = outcome else { panic!("the start fails: {outcome:?}") };
    assert_eq!(error.code, "minikube-failed");
    assert!(
        error.message.en.contains("(exit 65): PROVIDER_DOCKER_NOT_FOUND: The 'docker' provider was not found"),
        "{:?}",
        error.message
    );
    assert!(error.message.zh.contains("退出码 65"));
    let hint = error.hint.unwrap();
    assert!(
        hint.en.contains("Install Docker") && hint.en.contains("https://minikube.sigs.k8s.io/docs/drivers/docker/"),
        "{hint:?}"
    );
    assert_ne!(engine.connection().status().phase, ClusterPhase::Connected);
    engine.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_start_interrupts_minikube_at_once() {
    let data = tempfile::tempdir().unwrap();
    let stand = Stand::new(&[("start", "start-slow.play")]);
    let engine = engine(&stand, data.path(), &data.path().join("none")).await;
    let mut events = engine.subscribe();
    let id = operation(engine.handle(Command::MinikubeStart { options: MinikubeOptions::default() }).await);
    let creating = tokio::time::timeout(PATIENCE, async {
        while let Some(event) = events.next().await {
            if let Event::OperationProgress { line, .. } = event
                && line.contains("Creating docker container")
            {
                return;
            }
        }
    });
    creating.await.expect("the start gets to creating its machine");
    let began = std::time::Instant::now();
    assert_eq!(engine.handle(Command::Cancel { operation: id }).await, Ok(Reply::Done));
    let (_, outcome) = follow(&mut events, id).await;
    assert_eq!(outcome, OperationOutcome::Cancelled);
    assert!(began.elapsed() < Duration::from_secs(5), "cancelled in {:?}", began.elapsed());
    assert_eq!(stand.calls(), ["start -p minikube", "interrupted"], "minikube got Ctrl+C (SIGINT)");
    let again = engine.handle(Command::Cancel { operation: id }).await.unwrap_err();
    assert_eq!(again.code, "no-operation");
    engine.shutdown().await;
}

#[tokio::test]
async fn status_json_is_read_for_a_running_a_stopped_and_a_missing_profile() {
    let stand = Stand::new(&[("status", "status-running.play")]);
    let minikube = Minikube::at(&stand.binary()).unwrap();
    let running = minikube.status("minikube").await.unwrap();
    assert!(running.is_running() && running.exists());
    assert_eq!((running.kubeconfig.as_str(), running.exit_code), ("Configured", 0));

    stand.play("status", "status-stopped.play", &[]);
    let stopped = minikube.status("minikube").await.unwrap();
    assert!(stopped.exists() && !stopped.is_running());
    assert_eq!((stopped.host.as_str(), stopped.exit_code), ("Stopped", 7));

    stand.play("status", "status-nonexistent.play", &[]);
    let missing = minikube.status("nope").await.unwrap();
    assert!(!missing.exists());
    assert_eq!(missing.exit_code, 85);
    assert_eq!(missing.messages[1], "To start a cluster, run: \"minikube start -p nope\"");
    assert!(missing.describe().en.contains("\"nope\" does not exist yet"));
    assert_eq!(stand.calls(), ["status -o json -p minikube", "status -o json -p minikube", "status -o json -p nope"]);
}

#[tokio::test]
async fn the_cluster_bar_shows_minikubes_state() {
    let data = tempfile::tempdir().unwrap();
    let stand = Stand::new(&[("status", "status-stopped.play")]);
    let engine = engine(&stand, data.path(), &data.path().join("none")).await;
    let Ok(Reply::Clusters(options)) = engine.handle(Command::ListClusters).await else { panic!("clusters") };
    let minikube = options.iter().find(|o| o.choice == ClusterChoice::Minikube).unwrap();
    assert!(minikube.available);
    let note = minikube.note.as_ref().unwrap();
    assert!(note.en.contains("is not running (machine: Stopped"), "{note:?}");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_machine_without_minikube_gets_install_guidance() {
    let data = tempfile::tempdir().unwrap();
    let mut config = EngineConfig::new(data.path(), data.path());
    config.minikube_binary = Some(data.path().join("no-such-minikube"));
    let engine = Engine::start(config).await;
    let Ok(Reply::Clusters(options)) = engine.handle(Command::ListClusters).await else { panic!("clusters") };
    let minikube = options.iter().find(|o| o.choice == ClusterChoice::Minikube).unwrap();
    assert!(!minikube.available);
    let note = minikube.note.as_ref().unwrap();
    assert!(note.en.contains("needs nothing installed") && note.zh.contains("无需安装"), "{note:?}");
    let error = engine.handle(Command::MinikubeStart { options: MinikubeOptions::default() }).await.unwrap_err();
    assert_eq!(error.code, "minikube-missing");
    engine.shutdown().await;
}

#[tokio::test]
async fn stop_delete_ip_and_images_pass_the_profile() {
    let data = tempfile::tempdir().unwrap();
    let stand = Stand::new(&[
        ("start", "start-no-docker.play"),
        ("stop", "stop.play"),
        ("delete", "delete.play"),
        ("ip", "ip.play"),
        ("image", "image.play"),
    ]);
    let engine = engine(&stand, data.path(), &data.path().join("none")).await;
    let mut events = engine.subscribe();
    // A start names the profile; stop and delete then use it.
    let options = MinikubeOptions { profile: Some("lab".into()), ..MinikubeOptions::default() };
    let id = operation(engine.handle(Command::MinikubeStart { options }).await);
    follow(&mut events, id).await;
    let id = operation(engine.handle(Command::MinikubeStop).await);
    let (lines, outcome) = follow(&mut events, id).await;
    assert_eq!(lines, Stand::printed("stop.play"));
    assert!(
        matches!(&outcome, OperationOutcome::Succeeded { message } if message.en.contains("\"lab\" is stopped")),
        "{outcome:?}"
    );
    let id = operation(engine.handle(Command::MinikubeDelete).await);
    let (_, outcome) = follow(&mut events, id).await;
    assert!(
        matches!(&outcome, OperationOutcome::Succeeded { message } if message.en.contains("\"lab\" is deleted")),
        "{outcome:?}"
    );

    let minikube = Minikube::at(&stand.binary()).unwrap();
    assert_eq!(minikube.ip("lab").await.unwrap(), "192.168.49.2");
    let mut built = Vec::new();
    let app = Path::new("/src/sample-app");
    minikube
        .image_build("lab", app, "gitops-lab/sample-app:abc1234", Some("Dockerfile"), |l| built.push(l.to_string()))
        .await
        .unwrap();
    assert_eq!(built.last().map(String::as_str), Some("Successfully tagged the image"));
    minikube.image_load("lab", "gitops-lab/sample-app:abc1234", |_| {}).await.unwrap();
    assert_eq!(
        stand.calls(),
        [
            "start -p lab",
            "stop -p lab",
            "delete -p lab",
            "ip -p lab",
            "image build -t gitops-lab/sample-app:abc1234 -f Dockerfile /src/sample-app -p lab",
            "image load gitops-lab/sample-app:abc1234 -p lab",
        ]
    );
    engine.shutdown().await;
}

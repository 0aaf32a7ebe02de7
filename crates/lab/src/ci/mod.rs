//! The CI bump of section 2.5.2 as a pipeline of stages, each reported as it starts and ends:
//! commit to the sample app, version = the commit's first 7 characters, build (or name) the image,
//! patch the tag in the config repository's Deployment (only the tag changes), commit, sync, wait
//! for the rollout, and ask a new pod for its version through a port-forward.
//!
//! [`image`] builds images per cluster behind a trait, [`patch`] edits the manifest, [`verify`]
//! waits and asks, [`pitfalls`] shows why `latest` misleads.

pub mod image;
pub mod patch;
pub mod pitfalls;
pub mod verify;

use crate::bus::EventBus;
use crate::error::{Error, Result};
use crate::gitops::templates::{CONFIG_REPO, DEPLOYMENT_FILE, SAMPLE_APP_IMAGE, SAMPLE_APP_REPO};
use crate::gitops::{Repos, SyncController};
use crate::kubectl::parse;
use gitops_lab_protocol::{
    CiRunView, CiStage, CiStageView, CommitView, ErrorView, Event, FileChange, ResourceSyncState, StageState, Text,
};
use image::ImageBuilder;
use serde_json::Value;
use std::time::Duration;

/// How long the rollout may take before the stage fails.
const ROLLOUT_LIMIT: Duration = Duration::from_secs(180);
/// The container the pipeline updates.
const CONTAINER: &str = "sample-app";

/// What the pipeline uses.
pub struct CiDeps<'a> {
    /// The learner's repositories.
    pub repos: &'a Repos,
    /// Builds the image for the cluster.
    pub builder: &'a dyn ImageBuilder,
    /// Syncs the config repository.
    pub sync: &'a SyncController,
    /// The cluster.
    pub client: kube::Client,
    /// Where the stages are reported.
    pub bus: EventBus,
}

/// What a successful bump did.
#[derive(Clone, Debug)]
pub struct CiOutcome {
    /// The stages.
    pub run: CiRunView,
    /// The version (7 characters of the sample-app commit).
    pub version: String,
    /// The image.
    pub image: String,
    /// The config commit, which a rollback reverts.
    pub config_commit: CommitView,
    /// What the new pod answered.
    pub answer: String,
}

/// The run's stages, published on every change.
struct Progress {
    run: CiRunView,
    bus: EventBus,
}

const STAGES: [CiStage; 8] = [
    CiStage::Commit,
    CiStage::Version,
    CiStage::Image,
    CiStage::ManifestPatch,
    CiStage::ConfigCommit,
    CiStage::Sync,
    CiStage::Rollout,
    CiStage::Verify,
];

impl Progress {
    fn new(id: u64, bus: EventBus) -> Progress {
        let stages = STAGES
            .iter()
            .map(|&stage| CiStageView {
                stage,
                state: StageState::Pending,
                detail: String::new(),
                message: describe(stage),
            })
            .collect();
        Progress { run: CiRunView { id, stages }, bus }
    }

    fn set(&mut self, stage: CiStage, state: StageState, detail: String) {
        if let Some(view) = self.run.stages.iter_mut().find(|s| s.stage == stage) {
            view.state = state;
            view.detail = detail;
        }
        self.bus.publish(Event::Ci(self.run.clone()));
    }

    /// Runs one stage: Running, then Succeeded with its detail, or Failed (and the rest Skipped).
    async fn stage<T>(&mut self, stage: CiStage, work: impl Future<Output = Result<(T, String)>>) -> Result<T> {
        self.set(stage, StageState::Running, String::new());
        match work.await {
            Ok((value, detail)) => {
                self.set(stage, StageState::Succeeded, detail);
                Ok(value)
            }
            Err(error) => {
                let view = error.view();
                let detail = match &view.detail {
                    Some(detail) => format!("{}\n{detail}", view.message.en),
                    None => view.message.en.clone(),
                };
                for later in self.run.stages.iter_mut().filter(|s| s.state == StageState::Pending) {
                    later.state = StageState::Skipped;
                }
                self.set(stage, StageState::Failed, detail);
                Err(error)
            }
        }
    }
}

/// Runs the whole bump; every stage is published as [`Event::Ci`].
pub async fn bump(id: u64, message: Option<String>, deps: CiDeps<'_>) -> Result<CiOutcome> {
    let mut progress = Progress::new(id, deps.bus.clone());
    let message = message.unwrap_or_else(|| "Say hello in a new way".to_string());
    let app = progress.stage(CiStage::Commit, async { commit_app(deps.repos, &message) }).await?;
    let version: String = app.sha.chars().take(7).collect();
    let version = progress.stage(CiStage::Version, async { Ok((version.clone(), version.clone())) }).await?;
    let image = format!("{SAMPLE_APP_IMAGE}:{version}");
    let app_dir = deps.repos.dir(SAMPLE_APP_REPO)?;
    progress.stage(CiStage::Image, async { Ok(((), deps.builder.build(&app_dir, &image, &version).await?)) }).await?;
    let patched = progress.stage(CiStage::ManifestPatch, async { patch_config(deps.repos, &image) }).await?;
    let config_commit = progress
        .stage(CiStage::ConfigCommit, async {
            let change = FileChange { path: DEPLOYMENT_FILE.into(), content: Some(patched.clone()) };
            let commit = deps.repos.commit(CONFIG_REPO, &[change], &format!("Update sample-app image to {image}"))?;
            let detail = format!("{} {}", &commit.sha[..7], commit.summary);
            Ok((commit, detail))
        })
        .await?;
    progress.stage(CiStage::Sync, sync_config(deps.sync, &config_commit.sha)).await?;
    let target = Target::from_manifest(&patched)?;
    progress
        .stage(CiStage::Rollout, async {
            verify::wait_rollout(&deps.client, &target.namespace, &target.name, &image, ROLLOUT_LIMIT).await?;
            Ok(((), format!("deployment/{} runs {image}", target.name)))
        })
        .await?;
    let answer = progress
        .stage(CiStage::Verify, async {
            let pod = verify::ready_pod(&deps.client, &target.namespace, &target.selector, &image).await?;
            let body = crate::live::http_get(&deps.client, &target.namespace, &pod, target.port, "/").await?.body;
            if !body.contains(&version) {
                return Err(wrong_answer(&pod, &version, &body));
            }
            Ok((body.clone(), format!("pod/{pod}:{} answered {}", target.port, body.trim())))
        })
        .await?;
    Ok(CiOutcome { run: progress.run, version, image, config_commit, answer })
}

/// Appends a line to the sample app's change log and commits it.
fn commit_app(repos: &Repos, message: &str) -> Result<(CommitView, String)> {
    let log = repos.read(SAMPLE_APP_REPO, "CHANGELOG.md")?;
    let mut content = log.trim_end().to_string();
    content.push_str(&format!("\n- {}\n", message.lines().next().unwrap_or_default()));
    let change = FileChange { path: "CHANGELOG.md".into(), content: Some(content) };
    let commit = repos.commit(SAMPLE_APP_REPO, &[change], message)?;
    let detail = format!("{} {}", &commit.sha[..7], commit.summary);
    Ok((commit, detail))
}

/// The config repository's Deployment with the new image (only the tag's characters change).
fn patch_config(repos: &Repos, image: &str) -> Result<(String, String)> {
    let text = repos.read(CONFIG_REPO, DEPLOYMENT_FILE)?;
    let (patched, old) =
        patch::set_image(&text, DEPLOYMENT_FILE, Some(CONTAINER), image).map_err(|e| Error::from(*e))?;
    Ok((patched, format!("{DEPLOYMENT_FILE}: {old} → {image}")))
}

async fn sync_config(sync: &SyncController, commit: &str) -> Result<((), String)> {
    let run = sync.sync_head().await?;
    let failed: Vec<String> =
        run.resources.iter().filter(|r| r.state == ResourceSyncState::Failed).map(|r| r.message.clone()).collect();
    if run.commit != commit || !failed.is_empty() || !run.errors.is_empty() {
        let mut view = ErrorView::new("sync", run.message.clone());
        view.detail = Some(failed.join("\n"));
        return Err(view.into());
    }
    let lines: Vec<String> = run.resources.iter().map(|r| r.message.clone()).collect();
    Ok(((), lines.join("\n")))
}

/// The Deployment the pipeline follows, read from the patched manifest.
struct Target {
    namespace: String,
    name: String,
    selector: String,
    port: u16,
}

impl Target {
    fn from_manifest(text: &str) -> Result<Target> {
        let manifests = parse(DEPLOYMENT_FILE, text).map_err(|e| Error::from(e.view()))?;
        let deployment = manifests.into_iter().find(|m| m.kind() == "Deployment").ok_or_else(|| {
            Error::explained("no-deployment", Text::same(format!("{DEPLOYMENT_FILE} holds no Deployment")), None)
        })?;
        let labels = deployment.object.pointer("/spec/selector/matchLabels").and_then(Value::as_object);
        let selector = labels
            .map(|l| {
                l.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
            })
            .unwrap_or_default();
        let port = deployment
            .object
            .pointer("/spec/template/spec/containers/0/ports/0/containerPort")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(8080);
        Ok(Target {
            namespace: deployment.namespace().unwrap_or("default").to_string(),
            name: deployment.name().to_string(),
            selector,
            port,
        })
    }
}

fn wrong_answer(pod: &str, version: &str, body: &str) -> Error {
    Error::explained(
        "wrong-version",
        Text::new(
            format!("pod/{pod} answered \"{}\", not the new version {version}.", body.trim()),
            format!("pod/{pod} 的回答是“{}”，而不是新版本 {version}。", body.trim()),
        ),
        None,
    )
}

/// What each stage does, in plain words.
fn describe(stage: CiStage) -> Text {
    match stage {
        CiStage::Commit => Text::new("Commit a change to the sample app.", "向示例应用提交一个修改。"),
        CiStage::Version => Text::new(
            "The version is the commit's first 7 characters: unique, and it points back to the code.",
            "版本号取提交 SHA 的前 7 个字符：它是唯一的，并且能追溯到代码。",
        ),
        CiStage::Image => Text::new("Build the image tagged with that version.", "构建以该版本为标签的镜像。"),
        CiStage::ManifestPatch => Text::new(
            "Change only the image tag in the config repository's Deployment.",
            "只修改配置仓库中 Deployment 的镜像标签。",
        ),
        CiStage::ConfigCommit => Text::new(
            "Commit the config change: git now holds the new desired state.",
            "提交配置修改：git 中现在是新的期望状态。",
        ),
        CiStage::Sync => Text::new("Sync the config repository to the cluster.", "把配置仓库同步到集群。"),
        CiStage::Rollout => Text::new("Wait for the Deployment to replace its pods.", "等待 Deployment 替换它的 Pod。"),
        CiStage::Verify => {
            Text::new("Ask a new pod for its version through a port-forward.", "通过端口转发向新的 Pod 询问它的版本。")
        }
    }
}

//! The pipeline's "build the image" stage, behind a small trait so that the pipeline runs the same
//! on every cluster and can be tested with a stand-in.

use crate::error::{Error, Result};
use futures::future::BoxFuture;
use gitops_lab_protocol::{ClusterChoice, Text};
use std::path::{Path, PathBuf};

/// Makes the image `image` (`gitops-lab/sample-app:abc1234`) from the source in `dir`, built for
/// `version`, available to the cluster. Returns what was done, in a sentence for the stage's detail.
pub trait ImageBuilder: Send + Sync {
    /// Builds (or names) the image.
    fn build<'a>(&'a self, dir: &'a Path, image: &'a str, version: &'a str) -> BoxFuture<'a, Result<String>>;
}

/// The sandbox's simulated sample-app image answers with whatever tag it is given: nothing to build.
pub struct SandboxImages;

impl ImageBuilder for SandboxImages {
    fn build<'a>(&'a self, _dir: &'a Path, image: &'a str, _version: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            Ok(format!("{image}: no build needed on the sandbox, whose sample-app image answers with its tag"))
        })
    }
}

/// `minikube image build` inside the minikube node, so that no registry is needed. It runs the
/// program [`crate::cluster::Minikube`] found, with `--build-opt=build-arg=VERSION=…` (which
/// `Minikube::image_build` has no parameter for) so the app is built knowing its version.
pub struct MinikubeImages {
    /// The `minikube` program.
    pub program: PathBuf,
    /// The profile (`minikube -p`).
    pub profile: String,
}

impl ImageBuilder for MinikubeImages {
    fn build<'a>(&'a self, dir: &'a Path, image: &'a str, version: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let output = tokio::process::Command::new(&self.program)
                .args(["-p", &self.profile, "image", "build", "-t", image])
                .arg(format!("--build-opt=build-arg=VERSION={version}"))
                .arg(dir)
                .output()
                .await
                .map_err(|e| Error::io(&self.program, e))?;
            if output.status.success() {
                Ok(format!("{image}: built inside minikube"))
            } else {
                Err(build_failed(image, &String::from_utf8_lossy(&output.stderr)))
            }
        })
    }
}

/// What the sandbox answers as `gitCommit` in `/version`: a sandbox reached through any context is
/// recognised by it.
pub const SANDBOX_GIT_COMMIT: &str = "gitops-lab-sandbox";

/// Whether the cluster behind `client` is the lab's sandbox (asked through `/version`).
pub async fn is_sandbox(client: &kube::Client) -> bool {
    client.apiserver_version().await.is_ok_and(|info| info.git_commit == SANDBOX_GIT_COMMIT)
}

/// The builder for a cluster: the sandbox needs none, minikube builds in its node; other clusters
/// need a registry the lab does not run.
pub fn for_cluster(choice: &ClusterChoice, sandbox: bool) -> Result<Box<dyn ImageBuilder>> {
    if sandbox {
        return Ok(Box::new(SandboxImages));
    }
    match choice {
        ClusterChoice::Sandbox => Ok(Box::new(SandboxImages)),
        ClusterChoice::Minikube => {
            let minikube = crate::cluster::Minikube::find()?;
            let profile = crate::cluster::minikube::DEFAULT_PROFILE.to_string();
            Ok(Box::new(MinikubeImages { program: minikube.binary().to_path_buf(), profile }))
        }
        ClusterChoice::Context { name } => Err(Error::explained(
            "no-image-builder",
            Text::new(
                format!(
                    "The lab cannot build images for the cluster \"{name}\": it would need a registry the cluster pulls from."
                ),
                format!("实验室无法为集群“{name}”构建镜像：这需要一个该集群可以拉取的镜像仓库。"),
            ),
            Some(Text::new(
                "Run the CI exercise on the sandbox or on minikube.",
                "请在沙盒集群或 minikube 上做 CI 练习。",
            )),
        )),
    }
}

fn build_failed(image: &str, stderr: &str) -> Error {
    let mut view = gitops_lab_protocol::ErrorView::new(
        "image-build",
        Text::new(format!("Building {image} failed."), format!("构建 {image} 失败。")),
    )
    .with_hint(Text::new(
        "Read the build output below; `minikube status` tells whether minikube runs.",
        "请阅读下面的构建输出；`minikube status` 可以查看 minikube 是否在运行。",
    ));
    view.detail = Some(stderr.trim().to_string());
    Error::from(view)
}

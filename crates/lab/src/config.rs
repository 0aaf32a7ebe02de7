//! What an engine needs to start: where its data lives, which cluster, where the exercises are.

use gitops_lab_protocol::ClusterChoice;
use std::path::{Path, PathBuf};

/// The settings of one engine (one learner's session).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The lab's data directory: the sandbox's state (`sandbox/`), progress (`progress/`), the
    /// learner's git repositories (`repos/`).
    pub data_dir: PathBuf,
    /// The cluster to connect to at start.
    pub cluster: ClusterChoice,
    /// The directory of exercises (`exercises/` of the source tree, or an instructor's own).
    pub exercises_dir: PathBuf,
    /// The `gitops-lab` binary that serves the sandbox; found beside the running program or from
    /// `GITOPS_LAB_BIN` when absent.
    pub sandbox_binary: Option<PathBuf>,
    /// The learner whose progress is kept (`default` outside workshops).
    pub learner: String,
    /// The kubeconfig file for `context:` clusters and minikube; `$KUBECONFIG` or `~/.kube/config` when absent.
    pub kubeconfig: Option<PathBuf>,
    /// The minikube program; looked up on `PATH` when absent.
    pub minikube_binary: Option<PathBuf>,
}

impl EngineConfig {
    /// Settings with the defaults: the sandbox, the learner `default`.
    pub fn new(data_dir: impl Into<PathBuf>, exercises_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            cluster: ClusterChoice::Sandbox,
            exercises_dir: exercises_dir.into(),
            sandbox_binary: None,
            learner: "default".into(),
            kubeconfig: None,
            minikube_binary: None,
        }
    }

    /// Where the sandbox keeps its objects and kubeconfig.
    pub fn sandbox_dir(&self) -> PathBuf {
        self.data_dir.join("sandbox")
    }

    /// Where the learner's progress files live.
    pub fn progress_dir(&self) -> PathBuf {
        self.data_dir.join("progress").join(&self.learner)
    }

    /// Where the learner's copies of exercise files live.
    pub fn workspace_dir(&self) -> PathBuf {
        self.data_dir.join("workspace").join(&self.learner)
    }

    /// Where the learner's git repositories live.
    pub fn repos_dir(&self) -> PathBuf {
        self.data_dir.join("repos").join(&self.learner)
    }

    /// The `gitops-lab` binary to run the sandbox with: the configured one, `$GITOPS_LAB_BIN`, or
    /// `gitops-lab` beside the running program (or one directory up, as in Cargo's `deps/`).
    pub fn resolve_sandbox_binary(&self) -> Option<PathBuf> {
        if let Some(path) = &self.sandbox_binary {
            return Some(path.clone());
        }
        if let Some(path) = std::env::var_os("GITOPS_LAB_BIN").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        let name = format!("gitops-lab{}", std::env::consts::EXE_SUFFIX);
        [Some(dir), dir.parent()].into_iter().flatten().map(|d: &Path| d.join(&name)).find(|p| p.is_file())
    }
}

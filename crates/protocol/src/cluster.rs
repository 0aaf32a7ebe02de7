//! Which cluster the lab works against, how it is doing, and long operations such as `minikube start`.

use crate::error::ErrorView;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// Which Kubernetes cluster the engine works against.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClusterChoice {
    /// The embedded sandbox cluster, run as a supervised child process.
    Sandbox,
    /// A minikube profile started and driven by the engine.
    Minikube,
    /// A context of the user's kubeconfig.
    Context {
        /// The context's name as it appears in the kubeconfig.
        name: String,
    },
}

impl ClusterChoice {
    /// The form the command line uses: `sandbox`, `minikube` or `context:NAME`.
    pub fn to_arg(&self) -> String {
        match self {
            ClusterChoice::Sandbox => "sandbox".into(),
            ClusterChoice::Minikube => "minikube".into(),
            ClusterChoice::Context { name } => format!("context:{name}"),
        }
    }

    /// Parses the command line's form; `None` for anything else.
    pub fn from_arg(arg: &str) -> Option<ClusterChoice> {
        match arg {
            "sandbox" => Some(ClusterChoice::Sandbox),
            "minikube" => Some(ClusterChoice::Minikube),
            other => other
                .strip_prefix("context:")
                .filter(|name| !name.is_empty())
                .map(|name| ClusterChoice::Context { name: name.to_string() }),
        }
    }
}

/// A cluster the learner can pick in the cluster bar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterOption {
    /// What picking it connects to.
    pub choice: ClusterChoice,
    /// Its name in the bar.
    pub label: Text,
    /// Whether it can be picked now (minikube installed, the context readable).
    pub available: bool,
    /// Why not, and what to do, when it cannot.
    pub note: Option<Text>,
}

/// How the connection to the current cluster is doing (the cluster bar's status light).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClusterPhase {
    /// No cluster chosen yet.
    Disconnected,
    /// Starting or reaching it.
    Connecting,
    /// It answers.
    Connected,
    /// It stopped answering; the engine retries with back-off.
    Reconnecting,
    /// It cannot be reached and the engine has stopped trying (see the message).
    Failed,
}

/// The state of the connection, pushed whenever it changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The cluster in use.
    pub choice: ClusterChoice,
    /// Where the connection stands.
    pub phase: ClusterPhase,
    /// The API server's address, once known.
    pub server: Option<String>,
    /// The server's Kubernetes version (`v1.32.0`), once reached.
    pub version: Option<String>,
    /// What is happening, in plain words.
    pub message: Text,
    /// What went wrong, when something did.
    pub error: Option<ErrorView>,
}

/// The learner's choices for `minikube start`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinikubeOptions {
    /// The driver (`docker`, `kvm2`, `hyperkit`, …); minikube picks one when absent.
    pub driver: Option<String>,
    /// CPUs for the VM or container.
    pub cpus: Option<u32>,
    /// Memory in MiB.
    pub memory_mib: Option<u32>,
    /// The minikube profile; `minikube` when absent.
    pub profile: Option<String>,
}

/// Identifies a long operation (a minikube start, a CI run) for its progress events and for cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OperationId(pub u64);

/// How a long operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum OperationOutcome {
    /// It finished.
    Succeeded {
        /// A closing sentence.
        message: Text,
    },
    /// It failed.
    Failed {
        /// What went wrong and what to do.
        error: ErrorView,
    },
    /// The learner cancelled it.
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_arguments_round_trip() {
        for choice in
            [ClusterChoice::Sandbox, ClusterChoice::Minikube, ClusterChoice::Context { name: "kind-a".into() }]
        {
            assert_eq!(ClusterChoice::from_arg(&choice.to_arg()), Some(choice));
        }
        assert_eq!(ClusterChoice::from_arg("context:"), None);
        assert_eq!(ClusterChoice::from_arg("docker"), None);
    }
}

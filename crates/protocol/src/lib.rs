//! The messages that cross the boundary between the GitOps Lab user interface and its engine.
//!
//! The UI (wasm), the Tauri shell and the web server all speak these types, so the crate depends
//! on `serde` alone and compiles for `wasm32-unknown-unknown`. It holds no logic: the engine
//! (`gitops-lab-engine`) gives the messages meaning. The command set grows with the engine's issue.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// Which Kubernetes cluster the engine works against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

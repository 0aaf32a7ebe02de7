//! The GitOps Lab engine.
//!
//! It will hold the exercises (as data), their steps and checks, learner progress, the cluster
//! connections (sandbox child process, minikube, any kubeconfig context), the live watch model, the
//! three-way diff and the GitOps sync loop. It reaches every cluster through the Kubernetes API only
//! and never links the sandbox. Until the engine's issue lands it only re-exports the protocol.
#![deny(missing_docs)]

pub use gitops_lab_protocol as protocol;

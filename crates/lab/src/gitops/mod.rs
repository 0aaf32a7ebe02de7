//! GitOps: the learner's git repositories, the read-only git server that serves them, and the lab's
//! own sync loop from a repository to the cluster.
//!
//! [`repos`] keeps the repositories (created from [`templates`]); [`server`] serves them over git's
//! smart HTTP. The sync loop is split the gitops-engine way: [`source`] reads the manifests of one
//! commit, [`diff`] compares desired and live objects without any I/O, [`sync`] applies (through
//! [`crate::kubectl`]'s client-side apply) and prunes, [`store`] persists the history and the
//! inventory of what the loop created, [`trigger`] notices new commits without polling local
//! repositories, [`drift`] watches the synced objects, and [`controller`] composes them.

pub mod controller;
pub mod diff;
pub mod drift;
mod error;
pub mod repos;
pub mod server;
pub mod source;
pub mod store;
pub mod sync;
pub mod templates;
pub mod trigger;

pub use controller::{SYNC_LABEL, SyncController, SyncDeps, SyncSettings};
pub use repos::{CommitNotice, Repos};
pub use server::GitServer;

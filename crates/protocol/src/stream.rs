//! Streams that outlive one command: followed logs, exec sessions, and port-forwards.

use crate::graph::ObjectRef;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// Identifies a log stream or an exec session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId(pub u64);

/// What a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StreamKind {
    /// A container's log, followed.
    Logs,
    /// A command running in a container (a terminal when it has a TTY).
    Exec,
}

/// A chunk of a stream's output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamData {
    /// Which stream.
    pub stream: StreamId,
    /// The bytes as text (UTF-8; a character split between chunks is held back until complete).
    pub data: String,
    /// Whether it came from standard error (never with a TTY).
    pub stderr: bool,
}

/// Where a port-forward stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum PortForwardState {
    /// Listening; connections reach `pod`.
    Active,
    /// The pod went away; the next connection goes to another ready pod of the same owner.
    Retargeting,
    /// No ready pod is left to forward to; connections are refused until one is.
    NoPod {
        /// Why, and what to do.
        reason: Text,
    },
    /// Stopped by the learner or the engine.
    Stopped,
}

/// A port-forward as the UI lists it: a clickable URL and where it leads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortForwardView {
    /// Its id (for stop).
    pub id: u64,
    /// What was asked for: a pod, or an owner such as a Deployment whose ready pods it follows.
    pub target: ObjectRef,
    /// The pod connections reach now.
    pub pod: Option<String>,
    /// The container port.
    pub remote_port: u16,
    /// The local port on 127.0.0.1.
    pub local_port: u16,
    /// The URL to open (`http://127.0.0.1:PORT/`).
    pub url: String,
    /// The state.
    pub state: PortForwardState,
    /// The equivalent kubectl command.
    pub kubectl: String,
}

//! The simulated node `sandbox`: scheduler, kubelet, the container runtime and the behaviours of
//! images. Containers do not run real programs: each pod gets a virtual filesystem (volumes shared
//! between its containers) and each container runs the behaviour its image maps to.
//!
//! This file is the node's contract with the rest of the sandbox: the streaming API handlers
//! (exec, logs, port-forward, attach) use [`SimulatedNode`]'s methods and the types below only.

pub mod vfs;
pub mod shell;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot};

/// A process started in a container (`kubectl exec`, or attaching to PID 1).
pub struct Process {
    /// Bytes for the process's standard input; `None` when stdin was not asked for.
    pub stdin: Option<mpsc::Sender<Bytes>>,
    /// Standard output and error, in the order they were written; closed when the process ends.
    pub output: mpsc::Receiver<Output>,
    /// The exit code, sent once the process has ended (and `output` has been closed).
    pub exit: oneshot::Receiver<i32>,
    /// Terminal size changes (columns, rows), for tty sessions.
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
}

/// One piece of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Written to standard output.
    Stdout(Bytes),
    /// Written to standard error.
    Stderr(Bytes),
}

/// One line (or partial line) a container wrote, with when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the container wrote it.
    pub at: jiff::Timestamp,
    /// The bytes, including the trailing newline if there was one.
    pub text: Bytes,
}

/// A container's log: what it has written so far, and the rest as it comes when following.
pub struct ContainerLog {
    /// Lines written so far (of the current run, or of the previous one when asked).
    pub lines: Vec<LogLine>,
    /// Later lines, while the container runs; `None` when it has ended (or for a previous run).
    pub follow: Option<broadcast::Receiver<LogLine>>,
}

/// Why the node cannot do what was asked; messages follow upstream's wording.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// The pod is not on this node or not running yet.
    #[error("{0}")]
    PodNotRunning(String),
    /// The container named does not exist in the pod.
    #[error("{0}")]
    NoSuchContainer(String),
    /// Nothing listens on the port inside the pod.
    #[error("{0}")]
    ConnectionRefused(String),
    /// A log of a run that never happened (e.g. `--previous` before any restart).
    #[error("{0}")]
    NoLog(String),
}

/// The node: its pods' virtual filesystems and running containers.
pub struct SimulatedNode {}

impl SimulatedNode {
    /// The node's name, as pods' `spec.nodeName` and events show it.
    pub const NAME: &'static str = "sandbox";

    /// A node with no pods.
    pub fn new() -> Self {
        Self {}
    }

    /// Starts `command` in a container of a running pod (an empty container name means the first).
    pub fn exec(&self, namespace: &str, pod: &str, _container: &str, _command: Vec<String>, _tty: bool, _stdin: bool) -> Result<Process, NodeError> {
        Err(NodeError::PodNotRunning(format!("pod {namespace}/{pod} is not running on the sandbox node")))
    }

    /// The log of a container (`previous`: of its last terminated run).
    pub fn logs(&self, namespace: &str, pod: &str, _container: &str, _previous: bool) -> Result<ContainerLog, NodeError> {
        Err(NodeError::PodNotRunning(format!("pod {namespace}/{pod} is not running on the sandbox node")))
    }

    /// Opens a connection to `port` inside a running pod, as a byte stream both ways.
    pub fn connect(&self, namespace: &str, pod: &str, port: u16) -> Result<tokio::io::DuplexStream, NodeError> {
        Err(NodeError::ConnectionRefused(format!("pod {namespace}/{pod} has nothing listening on port {port}")))
    }
}

impl Default for SimulatedNode {
    fn default() -> Self {
        Self::new()
    }
}

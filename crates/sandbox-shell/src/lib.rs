//! A small POSIX-like shell for the simulated busybox, alpine, whalesay, debian and ubuntu images:
//! it runs containers' `command`/`args` and `kubectl exec` sessions over the pod's virtual
//! filesystem, with builtins for the commands the chapter's exercises use.
//!
//! Layout: [`lexer`] and [`parser`] build the [`ast`]; `interp` walks it (with `expand` for words
//! and `redirect` for redirections); `builtins` holds the command table; `cowsay` and `git` are the
//! two larger commands. Background jobs (`&`) really run concurrently, as tokio tasks. The
//! container's files are a [`vfs`] whose volumes several containers can share; its processes are
//! a [`procs`] table.
//!
//! It imports nothing of the sandbox: `kubectl` inside a container reaches the cluster through the
//! [`ClusterClient`] trait, which the node's owner implements.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod ast;
mod bracket;
mod builtins;
mod cowsay;
mod expand;
mod git;
mod interactive;
mod interp;
pub mod io;
pub mod lexer;
pub mod net;
pub mod parser;
pub mod procs;
mod redirect;
pub mod vfs;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

pub use interp::Shell;
pub use procs::{ProcessGuard, ProcessInfo, ProcessTable};

use vfs::Filesystem;

/// A future the [`ClusterClient`] returns: exit code, stdout, stderr.
pub type KubectlFuture<'a> = Pin<Box<dyn Future<Output = (i32, String, String)> + Send + 'a>>;

/// How the shell's `kubectl` reaches the cluster (implemented by the node with the pod's
/// ServiceAccount token, so that RBAC applies as on a real cluster).
pub trait ClusterClient: Send + Sync {
    /// Runs kubectl with `args` (without the leading `kubectl`); `files` are the contents of the
    /// files that `-f`/`--filename` named, read from the container's filesystem (path, bytes), in
    /// order; a `-f -` brings stdin as the file `-`.
    fn kubectl(&self, args: Vec<String>, files: Vec<(String, Vec<u8>)>) -> KubectlFuture<'_>;
}

/// One piece of a process's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Written to standard output.
    Stdout(Bytes),
    /// Written to standard error.
    Stderr(Bytes),
}

/// What a shell runs in: the container's filesystem, environment and processes.
#[derive(Clone)]
pub struct ShellContext {
    /// The container's filesystem.
    pub fs: Filesystem,
    /// The initial environment (exported variables).
    pub env: BTreeMap<String, String>,
    /// What `hostname` prints (the pod's name).
    pub hostname: String,
    /// The container's process table.
    pub processes: ProcessTable,
    /// The shell's own pid: `Some(1)` for a container's main process; `None` registers a new
    /// process for the run (as `kubectl exec` does) and removes it afterwards.
    pub pid: Option<u32>,
    /// `kubectl` inside the container, when the image has it (the GitOps operator image).
    pub cluster: Option<Arc<dyn ClusterClient>>,
    /// Whether `git` exists in the image.
    pub git: bool,
    /// The cluster network, for `wget`, `curl` and `nslookup` (none: those fail to resolve).
    pub network: Option<Arc<dyn net::Network>>,
    /// Which of the network commands (`wget`, `curl`, `nslookup`) the image has.
    pub net_tools: Vec<String>,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// An argument vector, as a container's `command` + `args` or `kubectl exec -- …` give it.
    Argv(Vec<String>),
    /// A script's source.
    Script(String),
}

/// The shell's connection to its caller.
pub struct Io {
    /// Standard input, if the caller attached one.
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    /// Where stdout and stderr go, in order.
    pub output: mpsc::Sender<Output>,
    /// Whether a terminal is attached: the shell then plays the terminal's line discipline (echo,
    /// backspace, `\r` to `\n`, `\n` to `\r\n`), since `kubectl exec -t` puts the local one in raw mode.
    pub tty: bool,
}

#[cfg(test)]
mod tests;

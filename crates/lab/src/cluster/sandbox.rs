//! The sandbox cluster as a supervised child process: `gitops-lab sandbox serve`, restarted with
//! back-off when it dies, stopped when the engine stops.
//!
//! The child is started with `--stop-with-stdin`: it stops when its standard input closes, so it
//! never outlives the engine, even when the engine is killed. Restarts reuse the first port, so
//! kube-rs clients (and the learner's kubectl) keep working; watchers just reconnect.

use super::StatusBoard;
use crate::error::{Error, Result};
use gitops_lab_protocol::{ClusterPhase, Text};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;

/// How long a starting sandbox may take to print its kubeconfig line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping sandbox may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Back-off between restarts: doubled after each quick failure, up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A sandbox that ran this long before dying restarts with the first back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How many lines of the child's standard error are kept to explain a failure.
const STDERR_LINES: usize = 20;

/// A running child and what it printed.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    listen: String,
    started: Instant,
}

/// Keeps the sandbox running until [`SandboxSupervisor::stop`].
pub struct SandboxSupervisor {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl SandboxSupervisor {
    /// Starts the sandbox and returns once it accepts requests, with the path of its kubeconfig.
    pub async fn start(binary: PathBuf, data_dir: PathBuf, board: Arc<StatusBoard>) -> Result<(Self, PathBuf)> {
        board.update(|s| s.message = Text::new("Starting the sandbox cluster…", "正在启动沙盒集群…"));
        let (running, kubeconfig) = spawn_when_free(&binary, &data_dir).await?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(supervise(binary, data_dir, running, board, stop_rx));
        Ok((SandboxSupervisor { stop: Some(stop_tx), task }, kubeconfig))
    }

    /// Stops the sandbox (gracefully, then by force) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for SandboxSupervisor {
    fn drop(&mut self) {
        // Dropped without stop(): the task ends the child on its own when the channel closes.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How long a start waits for a previous sandbox on the same data to finish stopping.
const LOCK_WAIT: Duration = Duration::from_secs(15);

/// Starts the sandbox; while another sandbox still holds the data directory (one that is stopping
/// because the lab that ran it was killed), tries again for a while.
async fn spawn_when_free(binary: &Path, data_dir: &Path) -> Result<(Running, PathBuf)> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match spawn(binary, data_dir, "127.0.0.1:0").await {
            Err(error) if Instant::now() < deadline && error.view().message.en.contains("Cannot acquire lock") => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return other,
        }
    }
}

/// The pace the lab asks of its sandbox: realistic, so a learner watching `kubectl get pods -w` or
/// the tree sees pods pass through the states a real cluster shows. `GITOPS_LAB_SANDBOX_PACE`, which
/// the sandbox reads itself, overrides it (the test suites run at the instant pace).
fn pace_args() -> &'static [&'static str] {
    match std::env::var_os("GITOPS_LAB_SANDBOX_PACE") {
        Some(value) if !value.is_empty() => &[],
        _ => &["--pace", "realistic"],
    }
}

/// Starts `gitops-lab sandbox serve` and waits for its `kubeconfig:` line.
async fn spawn(binary: &Path, data_dir: &Path, listen: &str) -> Result<(Running, PathBuf)> {
    let mut child = Command::new(binary)
        .args(["sandbox", "serve", "--stop-with-stdin", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .args(pace_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| cannot_start(binary, &error.to_string()))?;
    let stdin = child.stdin.take();
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(pipe) = child.stderr.take() {
        tokio::spawn(keep_last_lines(pipe, stderr.clone()));
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let ready = tokio::time::timeout(START_TIMEOUT, read_address(stdout)).await;
    let (server, kubeconfig) = match ready {
        Ok(Some(found)) => found,
        Ok(None) | Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            // Give the stderr reader a moment to collect the last lines.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let said = stderr.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect::<Vec<_>>().join("\n");
            return Err(cannot_start(binary, &said));
        }
    };
    let listen = server.trim_start_matches("https://").trim_start_matches("http://").to_string();
    Ok((Running { child, stdin, stderr, listen, started: Instant::now() }, kubeconfig))
}

/// Reads `server:` and `kubeconfig:` from the child's output; keeps draining it afterwards.
async fn read_address(stdout: tokio::process::ChildStdout) -> Option<(String, PathBuf)> {
    let mut lines = BufReader::new(stdout).lines();
    let mut server = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.strip_prefix("server: ") {
            server = Some(url.trim().to_string());
        } else if let Some(path) = line.strip_prefix("kubeconfig: ") {
            let found = (server.clone()?, PathBuf::from(path.trim()));
            // The child may print more; a closed pipe would make its writes fail.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(found);
        }
    }
    None
}

async fn keep_last_lines(pipe: tokio::process::ChildStderr, last: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() == STDERR_LINES {
            last.pop_front();
        }
        last.push_back(line);
    }
}

/// Waits for the child to die or for stop; restarts it with back-off when it dies.
async fn supervise(
    binary: PathBuf,
    data_dir: PathBuf,
    mut running: Running,
    board: Arc<StatusBoard>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let status = tokio::select! {
            status = running.child.wait() => status,
            _ = &mut stop => return shut_down(running).await,
        };
        let exit = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
        if running.started.elapsed() > STABLE_AFTER {
            backoff = FIRST_BACKOFF;
        }
        let mut said = running.stderr.lock().unwrap_or_else(|e| e.into_inner()).back().cloned().unwrap_or_default();
        // Restart until it comes back or the engine stops.
        loop {
            announce_restart(&board, &exit, &said, backoff);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = &mut stop => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match spawn(&binary, &data_dir, &running.listen).await {
                Ok((next, _)) => {
                    running = next;
                    break;
                }
                Err(error) => said = error.view().message.en,
            }
        }
        let message = Text::new("The sandbox cluster is running again.", "沙盒集群已重新运行。");
        board.notice("info", message.clone());
        board.update(|s| {
            s.phase = ClusterPhase::Connected;
            s.error = None;
            s.message = message;
        });
    }
}

fn announce_restart(board: &StatusBoard, exit: &str, said: &str, backoff: Duration) {
    let seconds = backoff.as_secs_f32();
    let message = Text::new(
        format!("The sandbox cluster stopped unexpectedly ({exit}). Restarting it in {seconds:.1} s… {said}"),
        format!("沙盒集群意外停止（{exit}）。将在 {seconds:.1} 秒后重启… {said}"),
    );
    board.notice("warning", message.clone());
    board.update(|s| {
        s.phase = ClusterPhase::Reconnecting;
        s.message = message;
    });
}

/// Closes the child's standard input (it then stops on its own), and kills it if it lingers.
async fn shut_down(mut running: Running) {
    drop(running.stdin.take());
    if tokio::time::timeout(STOP_TIMEOUT, running.child.wait()).await.is_err() {
        let _ = running.child.start_kill();
        let _ = running.child.wait().await;
    }
}

fn cannot_start(binary: &Path, said: &str) -> Error {
    let said = if said.trim().is_empty() { "no message".to_string() } else { said.trim().to_string() };
    Error::explained(
        "sandbox-failed",
        Text::new(
            format!("The sandbox cluster ({}) did not start: {said}", binary.display()),
            format!("沙盒集群（{}）未能启动：{said}", binary.display()),
        ),
        Some(Text::new(
            "If another lab or `scripts/lab` already runs a sandbox on the same data directory, stop it or pass another --data-dir.",
            "如果另一个实验室或 `scripts/lab` 已经在同一数据目录上运行沙盒，请先停止它，或指定其他 --data-dir。",
        )),
    )
}

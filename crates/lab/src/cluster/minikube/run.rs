//! Running one minikube command with duct: its merged output read line by line on a blocking
//! thread (never on the async runtime), and cancelled like Ctrl+C in a terminal.

use crate::error::{Error, Result};
use gitops_lab_protocol::Text;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a cancelled command may take to stop after Ctrl+C before it gets a SIGTERM.
const TERM_AFTER: Duration = Duration::from_secs(2);
/// How long it may then take before it is killed.
const GRACE: Duration = Duration::from_secs(10);
/// How many of the last lines are kept to explain a failure.
const KEPT_LINES: usize = 40;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It exited by itself with this code (`None`: killed by a signal), after printing `output`
    /// (its last lines, standard output and error merged).
    Exited {
        /// The exit code.
        code: Option<i32>,
        /// The last lines it printed.
        output: Vec<String>,
    },
    /// It was cancelled.
    Cancelled,
}

impl Ended {
    /// Whether it exited with code 0.
    pub fn succeeded(&self) -> bool {
        matches!(self, Ended::Exited { code: Some(0), .. })
    }
}

/// Runs `binary args`, calling `on_line` for each line it prints, until it ends or `cancel` resolves.
pub async fn stream(
    binary: &Path,
    args: &[String],
    mut on_line: impl FnMut(&str) + Send,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Ended> {
    let expression = duct::cmd(binary, args)
        .stderr_to_stdout()
        .stdin_null()
        .unchecked()
        // Plain `* ` prefixes instead of emoji: the lines go to a UI and to tests, not a terminal.
        .env("MINIKUBE_IN_STYLE", "false");
    #[cfg(unix)]
    let expression = expression.before_spawn(|command| {
        // Its own process group, so that cancelling reaches the helpers minikube starts too.
        std::os::unix::process::CommandExt::process_group(command, 0);
        Ok(())
    });
    let reader = Arc::new(expression.reader().map_err(|error| cannot_run(binary, &error))?);
    let (lines_tx, mut lines) = mpsc::channel::<String>(256);
    let pump = {
        let reader = reader.clone();
        tokio::task::spawn_blocking(move || {
            for line in BufReader::new(&*reader).lines().map_while(std::result::Result::ok) {
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        })
    };
    let mut last = VecDeque::new();
    let mut cancel = std::pin::pin!(cancel);
    loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    on_line(&line);
                    if last.len() == KEPT_LINES {
                        last.pop_front();
                    }
                    last.push_back(line);
                }
                None => break,
            },
            _ = &mut cancel => {
                interrupt(&reader, pump).await;
                return Ok(Ended::Cancelled);
            }
        }
    }
    let _ = pump.await;
    let code = exit_code(reader).await;
    Ok(Ended::Exited { code, output: last.into() })
}

/// The command's exit code once its output ended (waited for on a blocking thread).
async fn exit_code(reader: Arc<duct::ReaderHandle>) -> Option<i32> {
    tokio::task::spawn_blocking(move || {
        loop {
            match reader.try_wait() {
                Ok(Some(output)) => return output.status.code(),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Ctrl+C to the command's process group; if it lingers, a SIGTERM (a program started from a
/// non-interactive shell's background job inherits SIGINT as ignored, as in CI); then a kill.
async fn interrupt(reader: &Arc<duct::ReaderHandle>, mut pump: tokio::task::JoinHandle<()>) {
    let pids = reader.pids();
    signal_group(&pids, "-INT").await;
    if tokio::time::timeout(TERM_AFTER, &mut pump).await.is_ok() {
        return reap(reader).await;
    }
    signal_group(&pids, "-TERM").await;
    if tokio::time::timeout(GRACE, pump).await.is_err() {
        signal_group(&pids, "-KILL").await;
        let _ = reader.kill();
    }
    reap(reader).await;
}

/// Waits for the command so that no zombie is left (it has exited or been killed by now).
async fn reap(reader: &Arc<duct::ReaderHandle>) {
    let reader = reader.clone();
    let _ = tokio::task::spawn_blocking(move || reader.kill()).await;
}

/// Sends a signal to each child's process group with the system's `kill` (no unsafe code here).
async fn signal_group(pids: &[u32], signal: &str) {
    #[cfg(unix)]
    for pid in pids {
        let _ = tokio::process::Command::new("kill").args([signal, "--", &format!("-{pid}")]).status().await;
    }
    #[cfg(not(unix))]
    let _ = (pids, signal);
}

/// Runs `binary args` to its end and returns its exit code, standard output and standard error.
pub async fn capture(binary: &Path, args: &[String]) -> Result<(Option<i32>, String, String)> {
    let expression = duct::cmd(binary, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .env("MINIKUBE_IN_STYLE", "false");
    let owned = binary.to_path_buf();
    let output = tokio::task::spawn_blocking(move || expression.run())
        .await
        .map_err(|error| cannot_run(&owned, &std::io::Error::other(error)))?
        .map_err(|error| cannot_run(binary, &error))?;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Ok((output.status.code(), text(&output.stdout), text(&output.stderr)))
}

fn cannot_run(binary: &Path, error: &std::io::Error) -> Error {
    let shown = binary.display();
    Error::explained(
        "minikube-cannot-run",
        Text::new(
            format!("minikube ({shown}) cannot be run: {error}"),
            format!("无法运行 minikube（{shown}）：{error}"),
        ),
        Some(Text::new(
            "Check that the file is the minikube program and is executable, or reinstall minikube.",
            "请确认该文件是 minikube 程序且可执行，或重新安装 minikube。",
        )),
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, body: &str) -> std::path::PathBuf {
        let path = dir.join("fake");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn lines_arrive_one_by_one_with_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let fake = script(dir.path(), "echo one; echo two >&2; exit 3");
        let mut seen = Vec::new();
        let ended = stream(&fake, &[], |line| seen.push(line.to_string()), std::future::pending()).await.unwrap();
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(ended, Ended::Exited { code: Some(3), output: vec!["one".into(), "two".into()] });
    }

    #[tokio::test]
    async fn cancelling_interrupts_the_whole_process_group_at_once() {
        let dir = tempfile::tempdir().unwrap();
        // The grandchild `sleep` holds the output pipe open: only a group signal ends the read.
        let fake = script(dir.path(), "echo started; sleep 30; echo never");
        let (go, started) = tokio::sync::oneshot::channel::<()>();
        let mut go = Some(go);
        let began = std::time::Instant::now();
        let cancel = async move {
            let _ = started.await;
        };
        let on_line = |_: &str| {
            if let Some(go) = go.take() {
                let _ = go.send(());
            }
        };
        let ended = stream(&fake, &[], on_line, cancel).await.unwrap();
        assert_eq!(ended, Ended::Cancelled);
        assert!(began.elapsed() < Duration::from_secs(5), "took {:?}", began.elapsed());
    }

    #[tokio::test]
    async fn a_command_ignoring_ctrl_c_is_stopped_by_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        // `trap '' INT` makes the shell and its `sleep` ignore SIGINT, as a job started in the
        // background of a non-interactive shell does.
        let fake = script(dir.path(), "trap '' INT; echo started; sleep 30; echo never");
        let (go, started) = tokio::sync::oneshot::channel::<()>();
        let mut go = Some(go);
        let began = std::time::Instant::now();
        let on_line = |_: &str| {
            if let Some(go) = go.take() {
                let _ = go.send(());
            }
        };
        let ended = stream(&fake, &[], on_line, async move {
            let _ = started.await;
        })
        .await
        .unwrap();
        assert_eq!(ended, Ended::Cancelled);
        assert!(began.elapsed() < GRACE, "stopped by SIGTERM, not by the kill: took {:?}", began.elapsed());
    }

    #[tokio::test]
    async fn a_missing_program_is_explained() {
        let error = capture(Path::new("/nonexistent/minikube"), &[]).await.unwrap_err().view();
        assert_eq!(error.code, "minikube-cannot-run");
        assert!(error.message.en.contains("/nonexistent/minikube"));
    }
}

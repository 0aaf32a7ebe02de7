//! Followed logs and exec sessions: output published as `Event::Stream` chunks, then `StreamEnded`.
//!
//! Each stream is a task owning its kube-rs connection. Input and terminal sizes reach an exec
//! session through channels, so commands never wait on the remote side. Output is published as
//! UTF-8 text with a character split between reads held back until it is whole.

use super::utf8::Utf8Chunks;
use crate::bus::EventBus;
use crate::error::{Error, Result};
use futures::channel::mpsc as resize_channel;
use futures::{AsyncReadExt as _, SinkExt};
use gitops_lab_protocol::{Event, ObjectRef, StreamData, StreamId, Text};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, AttachedProcess, LogParams, TerminalSize};
use kube::{Api, Client};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// How much output one read may take.
const READ_CHUNK: usize = 16 * 1024;
/// On a session without a terminal, input that is exactly this (Ctrl-D) closes standard input.
const END_OF_INPUT: &str = "\u{4}";

/// The streams running.
pub struct Streams {
    bus: EventBus,
    next: AtomicU64,
    sessions: Arc<Mutex<HashMap<StreamId, Session>>>,
}

/// What a command needs to reach a running stream.
struct Session {
    input: Option<mpsc::Sender<Vec<u8>>>,
    resize: Option<resize_channel::Sender<TerminalSize>>,
    tty: bool,
    stop: Option<oneshot::Sender<Text>>,
}

/// What an exec session runs.
pub struct ExecRequest {
    /// The pod.
    pub pod: ObjectRef,
    /// The container; the pod's first when absent.
    pub container: Option<String>,
    /// The command; a shell when empty.
    pub command: Vec<String>,
    /// Whether to allocate a terminal.
    pub tty: bool,
    /// Its columns and rows.
    pub size: (u16, u16),
}

impl Streams {
    /// No streams yet.
    pub fn new(bus: EventBus) -> Streams {
        Streams { bus, next: AtomicU64::new(1), sessions: Arc::default() }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, session: Session) -> StreamId {
        let id = StreamId(self.next.fetch_add(1, Ordering::Relaxed));
        self.sessions().insert(id, session);
        id
    }

    /// Follows a container's log from its start.
    pub async fn follow_logs(
        &self,
        client: &Client,
        default_namespace: &str,
        pod: &ObjectRef,
        container: Option<String>,
    ) -> Result<StreamId> {
        let (api, name, container) = checked_pod(client, default_namespace, pod, container).await?;
        let params = LogParams { follow: true, container: Some(container), ..LogParams::default() };
        let reader = api.log_stream(&name, &params).await?;
        let (stop, stopped) = oneshot::channel();
        let id = self.register(Session { input: None, resize: None, tty: false, stop: Some(stop) });
        let (bus, sessions) = (self.bus.clone(), self.sessions.clone());
        tokio::spawn(async move {
            let message = tokio::select! {
                () = pump_log(reader, id, &bus) => Text::new(
                    "The log ended: the container stopped or the pod was deleted.",
                    "日志已结束：容器已停止或 Pod 已被删除。",
                ),
                message = stopped => message.unwrap_or_else(|_| stopped_text()),
            };
            finish(&sessions, &bus, id, message);
        });
        Ok(id)
    }

    /// Starts a command in a container.
    pub async fn exec(&self, client: &Client, default_namespace: &str, request: ExecRequest) -> Result<StreamId> {
        let ExecRequest { pod, container, command, tty, size } = request;
        let (api, name, container) = checked_pod(client, default_namespace, &pod, container).await?;
        let command = if command.is_empty() { vec!["sh".to_string()] } else { command };
        let params = AttachParams {
            container: Some(container.clone()),
            stdin: true,
            stdout: true,
            stderr: !tty,
            tty,
            max_stdout_buf_size: Some(READ_CHUNK),
            max_stderr_buf_size: Some(READ_CHUNK),
            ..AttachParams::default()
        };
        let mut process = api.exec(&name, command.clone(), &params).await.map_err(|error| {
            let detail = crate::cluster::diagnose::cause_chain(&error);
            Error::explained(
                "exec-failed",
                Text::new(
                    format!("Cannot run `{}` in container {container} of pod {name}: {detail}", command.join(" ")),
                    format!("无法在 Pod {name} 的容器 {container} 中运行 `{}`：{detail}", command.join(" ")),
                ),
                Some(Text::new(
                    "Check that the pod is running (a pod that is still starting cannot run commands yet).",
                    "请确认 Pod 正在运行（仍在启动的 Pod 还不能运行命令）。",
                )),
            )
        })?;
        let mut resize = process.terminal_size();
        if let Some(sizes) = &mut resize {
            let _ = sizes.send(TerminalSize { width: size.0, height: size.1 }).await;
        }
        let input = process.stdin().map(|mut stdin| {
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
            tokio::spawn(async move {
                while let Some(bytes) = rx.recv().await {
                    if stdin.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = stdin.shutdown().await;
            });
            tx
        });
        let (stop, stopped) = oneshot::channel();
        let id = self.register(Session { input, resize, tty, stop: Some(stop) });
        let (bus, sessions) = (self.bus.clone(), self.sessions.clone());
        tokio::spawn(async move {
            let message = tokio::select! {
                status = run(&mut process, id, &bus) => ended(status),
                message = stopped => message.unwrap_or_else(|_| stopped_text()),
            };
            process.abort();
            finish(&sessions, &bus, id, message);
        });
        Ok(id)
    }

    /// Sends keystrokes (or piped text) to an exec session.
    pub async fn input(&self, id: StreamId, data: String) -> Result<()> {
        let (sender, tty) = {
            let sessions = self.sessions();
            let session = sessions.get(&id).ok_or_else(|| unknown_stream(id))?;
            (session.input.clone().ok_or_else(|| no_input(id))?, session.tty)
        };
        if !tty && data == END_OF_INPUT {
            // Closing our end of the channel ends the writer task, which closes standard input.
            if let Some(session) = self.sessions().get_mut(&id) {
                session.input = None;
            }
            return Ok(());
        }
        sender.send(data.into_bytes()).await.map_err(|_| unknown_stream(id))
    }

    /// Tells an exec session's terminal its new size.
    pub async fn resize(&self, id: StreamId, cols: u16, rows: u16) -> Result<()> {
        let mut sender = {
            let sessions = self.sessions();
            let session = sessions.get(&id).ok_or_else(|| unknown_stream(id))?;
            session.resize.clone().ok_or_else(|| no_terminal(id))?
        };
        sender.send(TerminalSize { width: cols, height: rows }).await.map_err(|_| unknown_stream(id))
    }

    /// Ends a stream; its `StreamEnded` says it was stopped.
    pub fn stop(&self, id: StreamId) -> Result<()> {
        let stop = self.sessions().get_mut(&id).and_then(|s| s.stop.take()).ok_or_else(|| unknown_stream(id))?;
        let _ = stop.send(stopped_text());
        Ok(())
    }

    /// Ends every stream with a reason.
    pub fn stop_all(&self, reason: &Text) {
        for session in self.sessions().values_mut() {
            if let Some(stop) = session.stop.take() {
                let _ = stop.send(reason.clone());
            }
        }
    }
}

/// Reads an exec session's output to its end, publishing its text.
async fn pump(mut reader: impl AsyncRead + Unpin, id: StreamId, stderr: bool, bus: &EventBus) {
    let mut decoder = Utf8Chunks::default();
    let mut buffer = vec![0u8; READ_CHUNK];
    loop {
        let read = reader.read(&mut buffer).await;
        if !publish(bus, id, stderr, &mut decoder, &buffer, read) {
            break;
        }
    }
}

/// Reads a log to its end, publishing its text (kube-rs gives logs as a `futures` reader).
async fn pump_log(reader: impl futures::AsyncBufRead, id: StreamId, bus: &EventBus) {
    let mut reader = std::pin::pin!(reader);
    let mut decoder = Utf8Chunks::default();
    let mut buffer = vec![0u8; READ_CHUNK];
    loop {
        let read = reader.read(&mut buffer).await;
        if !publish(bus, id, false, &mut decoder, &buffer, read) {
            break;
        }
    }
}

/// Publishes what one read gave; whether the stream goes on.
fn publish(
    bus: &EventBus,
    id: StreamId,
    stderr: bool,
    decoder: &mut Utf8Chunks,
    buffer: &[u8],
    read: std::io::Result<usize>,
) -> bool {
    let (text, more) = match read {
        Ok(0) | Err(_) => (decoder.finish(), false),
        Ok(n) => (decoder.push(&buffer[..n]), true),
    };
    if !text.is_empty() {
        bus.publish(Event::Stream(StreamData { stream: id, data: text, stderr }));
    }
    more
}

/// Publishes a session's output until it ends, then returns its final status.
async fn run(process: &mut AttachedProcess, id: StreamId, bus: &EventBus) -> Option<Status> {
    let (stdout, stderr, status) = (process.stdout(), process.stderr(), process.take_status());
    let out = async {
        if let Some(reader) = stdout {
            pump(reader, id, false, bus).await;
        }
    };
    let err = async {
        if let Some(reader) = stderr {
            pump(reader, id, true, bus).await;
        }
    };
    futures::join!(out, err);
    status?.await
}

/// Forgets a stream and announces its end.
fn finish(sessions: &Mutex<HashMap<StreamId, Session>>, bus: &EventBus, id: StreamId, message: Text) {
    sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    bus.publish(Event::StreamEnded { stream: id, message });
}

/// How an exec session ended, from the final status the API server sent.
fn ended(status: Option<Status>) -> Text {
    let Some(status) = status else {
        return Text::new(
            "The session ended without an exit status: the connection closed or the pod went away.",
            "会话结束，但没有收到退出状态：连接已关闭或 Pod 已消失。",
        );
    };
    if status.status.as_deref() == Some("Success") {
        return Text::new("The command finished with exit code 0.", "命令已结束，退出码为 0。");
    }
    let causes = status.details.as_ref().and_then(|d| d.causes.as_ref());
    let code =
        causes.into_iter().flatten().find(|c| c.reason.as_deref() == Some("ExitCode")).and_then(|c| c.message.clone());
    let message = status.message.unwrap_or_default();
    match code {
        Some(code) => Text::new(
            format!("The command terminated with exit code {code}."),
            format!("命令已终止，退出码为 {code}。"),
        ),
        None => Text::new(format!("The command could not run: {message}"), format!("命令无法运行：{message}")),
    }
}

fn stopped_text() -> Text {
    Text::new("Stopped.", "已停止。")
}

/// Checks that `pod` names a pod that exists and that the container is one of its own.
async fn checked_pod(
    client: &Client,
    default_namespace: &str,
    pod: &ObjectRef,
    container: Option<String>,
) -> Result<(Api<Pod>, String, String)> {
    if pod.kind != "Pod" {
        return Err(Error::explained(
            "not-a-pod",
            Text::new(
                format!("Logs and commands run in a pod, and {} is a {}.", pod.name, pod.kind),
                format!("日志和命令都在 Pod 中运行，而 {} 是一个 {}。", pod.name, pod.kind),
            ),
            Some(Text::new("Pick one of its pods in the graph.", "请在图中选择它的一个 Pod。")),
        ));
    }
    let namespace = pod.namespace.as_deref().unwrap_or(default_namespace);
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let found = api.get(&pod.name).await?;
    let names: Vec<String> = found.spec.iter().flat_map(|s| s.containers.iter().map(|c| c.name.clone())).collect();
    let container = match container {
        Some(name) if names.contains(&name) => name,
        Some(name) => {
            let list = names.join(", ");
            return Err(Error::explained(
                "no-such-container",
                Text::new(
                    format!("Pod {} has no container named {name}; its containers are: {list}.", pod.name),
                    format!("Pod {} 中没有名为 {name} 的容器；它的容器有：{list}。", pod.name),
                ),
                None,
            ));
        }
        None => names.into_iter().next().unwrap_or_default(),
    };
    Ok((api, pod.name.clone(), container))
}

fn unknown_stream(id: StreamId) -> Error {
    Error::explained(
        "no-such-stream",
        Text::new(
            format!("Stream {} is not running (it ended or was stopped).", id.0),
            format!("流 {} 没有在运行（它已结束或已被停止）。", id.0),
        ),
        None,
    )
}

fn no_input(id: StreamId) -> Error {
    Error::explained(
        "no-input",
        Text::new(
            format!("Stream {} takes no input: it is a log, or its input was closed.", id.0),
            format!("流 {} 不接受输入：它是日志，或者它的输入已经关闭。", id.0),
        ),
        None,
    )
}

fn no_terminal(id: StreamId) -> Error {
    Error::explained(
        "no-terminal",
        Text::new(
            format!("Stream {} has no terminal to resize: start the session with a terminal (tty).", id.0),
            format!("流 {} 没有可调整大小的终端：请以终端（tty）方式启动会话。", id.0),
        ),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_zero_exit_names_its_code() {
        let status: Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
        }))
        .unwrap();
        assert_eq!(ended(Some(status)).en, "The command terminated with exit code 3.");
        let success: Status = serde_json::from_value(serde_json::json!({"status": "Success"})).unwrap();
        assert!(ended(Some(success)).en.contains("exit code 0"));
        assert!(ended(None).en.contains("without an exit status"));
    }

    #[tokio::test]
    async fn input_to_an_unknown_stream_says_it_is_not_running() {
        let streams = Streams::new(EventBus::new());
        let error = streams.input(StreamId(9), "ls\n".into()).await.unwrap_err();
        assert_eq!(error.view().code, "no-such-stream");
        assert_eq!(streams.stop(StreamId(9)).unwrap_err().view().code, "no-such-stream");
    }
}

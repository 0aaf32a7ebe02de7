//! `…/pods/{name}/exec` and `…/attach` over a `v5.channel.k8s.io` / `v4.channel.k8s.io` WebSocket.
//!
//! Everything that can be checked before the upgrade (pod, container, host) is answered as a
//! `Status` with upstream's wording; a process the node cannot start is reported after the upgrade
//! on the status channel, which is where a 1.32 API server puts the kubelet's refusal.

use super::channels::{self, CLOSE, EXEC_PROTOCOLS, RESIZE, STATUS, STDERR, STDIN, STDOUT, normal_close};
use super::portforward::raw_spdy_upgrade;
use super::{PodStreams, Streams, exec_spdy, find_pod, flag, pick_container, pods, require_node, value};
use crate::api::status::IntoStatus;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::Method;
use axum::response::Response;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_node::{NodeError, Output, Process};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Which subresource a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Run a new process.
    Exec,
    /// Watch the container's main process.
    Attach,
}

/// The `PodExecOptions` / `PodAttachOptions` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// The container ("" = the pod's only one).
    pub container: String,
    /// The command and its arguments (exec only).
    pub command: Vec<String>,
    /// Whether the client sends standard input.
    pub stdin: bool,
    /// Whether the client wants standard output.
    pub stdout: bool,
    /// Whether the client wants standard error.
    pub stderr: bool,
    /// Whether the process gets a terminal.
    pub tty: bool,
}

impl ExecOptions {
    /// Reads the query (`command` repeats, one argument each).
    pub fn parse(pairs: &[(String, String)]) -> Self {
        ExecOptions {
            container: value(pairs, "container").to_string(),
            command: pairs.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect(),
            stdin: flag(pairs, "stdin"),
            stdout: flag(pairs, "stdout"),
            stderr: flag(pairs, "stderr"),
            tty: flag(pairs, "tty"),
        }
    }
}

/// Serves one exec or attach request.
pub async fn handle(
    s: Streams,
    kind: Kind,
    ns: String,
    name: String,
    pairs: Vec<(String, String)>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        return ApiError::method_not_allowed(method.as_str(), pods()).into_status();
    }
    let (mut parts, _body) = request.into_parts();
    let raw_spdy = raw_spdy_upgrade(&mut parts, exec_spdy::PROTOCOL);
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
    let mut opts = ExecOptions::parse(&pairs);
    let mut replay = false;
    let checked = find_pod(&s.sandbox, &ns, &name).and_then(|pod| {
        opts.container = pick_container(&pod, &opts.container)?;
        replay = stdin_once(&pod, &opts.container);
        require_node(&pod)?;
        if kind == Kind::Exec && opts.command.is_empty() {
            return Err(ApiError::bad_request("you must specify at least 1 command"));
        }
        if !(opts.stdin || opts.stdout || opts.stderr) {
            return Err(ApiError::bad_request("you must specify at least one of stdin, stdout, stderr"));
        }
        Ok(())
    });
    if let Err(e) = checked {
        return e.into_status();
    }
    let start = || match kind {
        Kind::Exec => s.pods.exec(&ns, &name, &opts.container, opts.command.clone(), opts.tty, opts.stdin),
        Kind::Attach => attach(&*s.pods, &ns, &name, &opts.container, replay).map(|mut process| {
            if opts.stdin {
                process.stdin = s.pods.main_stdin(&ns, &name, &opts.container);
            }
            process
        }),
    };
    let upgrade = match (upgrade, raw_spdy) {
        (Ok(upgrade), _) => upgrade.protocols(EXEC_PROTOCOLS),
        (Err(_), Some(pending)) => return exec_spdy::switch(pending, start(), opts),
        (Err(_), None) => {
            let why = format!(
                "exec and attach need a WebSocket ({EXEC_PROTOCOLS:?}) or an Upgrade: SPDY/3.1 request offering {}",
                exec_spdy::PROTOCOL
            );
            return ApiError::bad_request(why).into_status();
        }
    };
    let Some(protocol) = upgrade.selected_protocol().and_then(|p| p.to_str().ok()).map(str::to_string) else {
        return ApiError::bad_request(format!(
            "none of the offered WebSocket subprotocols is served; use one of {EXEC_PROTOCOLS:?}"
        ))
        .into_status();
    };
    let started = start();
    upgrade.on_upgrade(move |socket| async move {
        match started {
            Ok(process) => session(socket, process, &protocol, &opts).await,
            Err(e) => refuse(socket, &e).await,
        }
    })
}

/// Whether the container was made for one attach (`kubectl run -i` sets `stdinOnce`).
fn stdin_once(pod: &Value, container: &str) -> bool {
    let containers = pod["spec"]["containers"].as_array().into_iter().flatten();
    containers.filter(|c| c["name"] == container).any(|c| c["stdinOnce"] == true)
}

/// Attaching shows what the container's main process writes from now on (its log, followed).
/// A container made for one attach (`replay`) shows its run from the start: a simulated command
/// ends before kubectl can attach, where a real one is still starting, so `kubectl run -i … --
/// wget …` would otherwise print nothing.
fn attach(pods: &dyn PodStreams, ns: &str, name: &str, container: &str, replay: bool) -> Result<Process, NodeError> {
    let log = pods.logs(ns, name, container, false)?;
    let (output_tx, output) = mpsc::channel(64);
    let (exit_tx, exit) = oneshot::channel();
    let earlier: Vec<Bytes> = if replay { log.lines.iter().map(|l| l.text.clone()).collect() } else { Vec::new() };
    tokio::spawn(async move {
        for text in earlier {
            if output_tx.send(Output::Stdout(text)).await.is_err() {
                return;
            }
        }
        if let Some(mut follow) = log.follow {
            loop {
                match follow.recv().await {
                    Ok(line) => {
                        if output_tx.send(Output::Stdout(line.text)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }
        drop(output_tx);
        let _ = exit_tx.send(0);
    });
    Ok(Process { stdin: None, output, exit, resize: None })
}

/// The node could not start the process: say so on the status channel, as the API server relays it
/// (after the same pause as a started one, so that kubectl has its status stream by then).
async fn refuse(mut socket: WebSocket, error: &NodeError) {
    tokio::time::sleep(PROCESS_START).await;
    let cause = format!("unable to upgrade connection: {error}");
    let status = json!({
        "metadata": {}, "status": "Failure", "message": format!("Internal error occurred: {cause}"),
        "reason": "InternalError", "details": {"causes": [{"message": cause}]}, "code": 500,
    });
    let _ = socket.send(Message::Binary(status_frame(&status))).await;
    let _ = socket.send(Message::Close(Some(normal_close()))).await;
}

fn status_frame(status: &Value) -> Bytes {
    channels::frame(STATUS, &serde_json::to_vec(status).unwrap_or_default())
}

/// How long the first frame waits after the upgrade. client-go registers its streams in one
/// goroutine while another already reads the socket, and drops a frame for a stream not yet
/// registered ("Unknown stream id 1, discarding message"): `echo hi` then prints nothing. A real
/// runtime takes longer than this to start a process, so kubectl never meets the race there; the
/// simulated node answers at once, so the pause stands in for the start-up. The client says
/// nothing when its streams are ready, so there is nothing better to wait for.
const PROCESS_START: Duration = Duration::from_millis(50);

/// Relays one process: client input to it, its output to the client, then its exit status.
async fn session(socket: WebSocket, process: Process, protocol: &str, opts: &ExecOptions) {
    let (mut sink, stream) = socket.split();
    let Process { stdin, mut output, exit, resize } = process;
    let mut input = tokio::spawn(read_client(stream, stdin, resize, channels::supports_close(protocol)));
    tokio::time::sleep(PROCESS_START).await;
    loop {
        let piece = tokio::select! {
            piece = output.recv() => piece,
            // The client went away: stop relaying (dropping the receivers tells the process).
            _ = &mut input => return,
        };
        let Some(piece) = piece else { break };
        let message = match piece {
            Output::Stdout(bytes) if opts.stdout => channels::frame(STDOUT, &bytes),
            Output::Stderr(bytes) if opts.stderr => channels::frame(STDERR, &bytes),
            // A terminal has one output stream; without stderr asked for, errors still show there.
            Output::Stderr(bytes) if opts.tty && opts.stdout => channels::frame(STDOUT, &bytes),
            _ => continue,
        };
        if sink.send(Message::Binary(message)).await.is_err() {
            input.abort();
            return;
        }
    }
    let status = match exit.await {
        Ok(code) => channels::exit_status(code, &opts.command),
        Err(_) => channels::failure_status("the process ended without an exit code"),
    };
    let _ = sink.send(Message::Binary(status_frame(&status))).await;
    let _ = sink.send(Message::Close(Some(normal_close()))).await;
    input.abort();
}

/// Reads the client's messages: stdin bytes, terminal sizes and (v5) the end of stdin.
async fn read_client(
    mut stream: futures::stream::SplitStream<WebSocket>,
    mut stdin: Option<mpsc::Sender<Bytes>>,
    resize: Option<mpsc::Sender<(u16, u16)>>,
    v5: bool,
) {
    while let Some(Ok(message)) = stream.next().await {
        let data = match message {
            Message::Binary(data) => data,
            Message::Close(_) => return,
            _ => continue,
        };
        match channels::split(&data) {
            Some((STDIN, payload)) if !payload.is_empty() => {
                let open = match &stdin {
                    Some(tx) => tx.send(Bytes::copy_from_slice(payload)).await.is_ok(),
                    None => false,
                };
                if !open {
                    stdin = None;
                }
            }
            Some((RESIZE, payload)) => {
                if let (Some(tx), Some(size)) = (&resize, channels::parse_resize(payload)) {
                    let _ = tx.try_send(size);
                }
            }
            Some((CLOSE, [STDIN])) if v5 => stdin = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn repeated_command_parameters_become_the_argument_list() {
        let opts = ExecOptions::parse(&pairs(&[
            ("command", "sh"),
            ("command", "-c"),
            ("command", "echo hi"),
            ("stdout", "true"),
            ("tty", "1"),
        ]));
        assert_eq!(opts.command, ["sh", "-c", "echo hi"]);
        assert!(opts.stdout && opts.tty && !opts.stdin && !opts.stderr);
    }

    #[tokio::test]
    async fn attach_relays_the_followed_log_and_ends_with_the_container() {
        struct Logs(broadcast::Sender<gitops_sandbox_node::LogLine>);
        impl PodStreams for Logs {
            fn exec(&self, _: &str, _: &str, _: &str, _: Vec<String>, _: bool, _: bool) -> Result<Process, NodeError> {
                Err(NodeError::PodNotRunning("no".into()))
            }
            fn logs(&self, _: &str, _: &str, _: &str, _: bool) -> Result<gitops_sandbox_node::ContainerLog, NodeError> {
                Ok(gitops_sandbox_node::ContainerLog { lines: vec![], follow: Some(self.0.subscribe()) })
            }
            fn connect(&self, _: &str, _: &str, _: u16) -> Result<tokio::io::DuplexStream, NodeError> {
                Err(NodeError::ConnectionRefused("no".into()))
            }
        }
        let (tx, _) = broadcast::channel(8);
        let node = Logs(tx.clone());
        let mut process = attach(&node, "default", "web", "app", false).unwrap();
        tx.send(gitops_sandbox_node::LogLine { at: jiff::Timestamp::now(), text: Bytes::from_static(b"tick\n") })
            .unwrap();
        drop(node);
        drop(tx);
        assert_eq!(process.output.recv().await, Some(Output::Stdout(Bytes::from_static(b"tick\n"))));
        assert_eq!(process.output.recv().await, None);
        assert_eq!(process.exit.await, Ok(0));
    }
}

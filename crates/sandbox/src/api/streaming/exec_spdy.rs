//! exec and attach over a raw SPDY/3.1 upgrade (`v4.channel.k8s.io` streams), as kubectl before 1.30
//! (or with `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`) speaks them: the client opens one SPDY stream
//! per channel (`streamtype`: error, stdin, stdout, stderr, resize) and the final `Status` travels on
//! the error stream.

use super::channels;
use super::exec::ExecOptions;
use super::portforward::{CHUNK, QUEUE, raw_chunks, write_raw};
use super::spdy::{self, FLAG_FIN, Frame, HeaderDecoder, HeaderEncoder, RST_PROTOCOL_ERROR};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use gitops_sandbox_node::{NodeError, Output, Process};
use serde_json::{Value, json};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The stream protocol served over raw SPDY (its error stream carries a JSON `Status`).
pub const PROTOCOL: &str = "v4.channel.k8s.io";

/// Answers 101 and relays the process over the connection once hyper hands it over.
pub fn switch(pending: hyper::upgrade::OnUpgrade, started: Result<Process, NodeError>, opts: ExecOptions) -> Response {
    tokio::spawn(async move {
        if let Ok(upgraded) = pending.await {
            let (read, write) = tokio::io::split(hyper_util::rt::TokioIo::new(upgraded));
            let (out, queue) = mpsc::channel(QUEUE);
            let writer = tokio::spawn(write_raw(write, queue));
            let mut session = Session {
                out,
                opts,
                encoder: HeaderEncoder::new(),
                decoder: HeaderDecoder::new(),
                streams: HashMap::new(),
                early: Vec::new(),
            };
            session.run(raw_chunks(read), started).await;
            drop(session);
            let _ = writer.await;
        }
    });
    let headers = [("connection", "Upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", PROTOCOL)];
    (StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
}

/// What happened to one frame's worth of client input.
enum Input {
    /// Bytes for the process's stdin.
    Stdin(Bytes),
    /// The last bytes for stdin: the client closes it after them.
    StdinLast(Bytes),
    /// The client closed stdin.
    StdinClosed,
    /// A terminal size.
    Resize(u16, u16),
    /// Nothing for the process.
    Nothing,
    /// The client ended the session.
    End,
}

/// The next whole frame; a byte stream that is not SPDY/3 reads as the client going away.
fn next_frame(buf: &mut BytesMut) -> Option<Frame> {
    match Frame::parse(buf) {
        Ok(frame) => frame,
        Err(_) => Some(Frame::GoAway { last_good: 0, status: RST_PROTOCOL_ERROR }),
    }
}

struct Session {
    out: mpsc::Sender<Bytes>,
    opts: ExecOptions,
    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
    /// Stream ids by their `streamtype`.
    streams: HashMap<String, u32>,
    /// Client input that arrived before every stream was open.
    early: Vec<Input>,
}

impl Session {
    /// The streams the client opens for these options.
    fn expected(&self) -> Vec<&'static str> {
        let o = &self.opts;
        [("error", true), ("stdin", o.stdin), ("stdout", o.stdout), ("stderr", o.stderr && !o.tty), ("resize", o.tty)]
            .iter()
            .filter(|(_, wanted)| *wanted)
            .map(|(kind, _)| *kind)
            .collect()
    }

    fn ready(&self) -> bool {
        self.expected().iter().all(|kind| self.streams.contains_key(*kind))
    }

    async fn send(&self, frame: Frame) -> bool {
        self.out.send(frame.to_bytes()).await.is_ok()
    }

    async fn run(&mut self, mut incoming: impl Stream<Item = Bytes> + Unpin, started: Result<Process, NodeError>) {
        let mut buf = BytesMut::new();
        // Open the streams first: the process's output has nowhere to go before that.
        while !self.ready() {
            let Some(bytes) = incoming.next().await else { return };
            buf.extend_from_slice(&bytes);
            while let Some(frame) = next_frame(&mut buf) {
                let input = self.on_frame(frame).await;
                if matches!(input, Input::End) {
                    return;
                }
                self.early.push(input);
            }
        }
        match started {
            Ok(process) => self.relay(incoming, buf, process).await,
            Err(e) => {
                let cause = format!("unable to upgrade connection: {e}");
                let status = json!({"metadata": {}, "status": "Failure", "message": format!("Internal error occurred: \
                    {cause}"),
                                    "reason": "InternalError", "details": {"causes": [{"message": cause}]},
                                        "code": 500});
                self.finish(&status).await;
            }
        }
    }

    async fn relay(&mut self, mut incoming: impl Stream<Item = Bytes> + Unpin, mut buf: BytesMut, process: Process) {
        let Process { mut stdin, mut output, exit, resize } = process;
        let deliver = |input: Input, stdin: &mut Option<mpsc::Sender<Bytes>>| match input {
            Input::Stdin(bytes) => stdin.as_ref().map(|tx| (tx.clone(), bytes)),
            Input::StdinLast(bytes) => stdin.take().map(|tx| (tx, bytes)),
            Input::StdinClosed => {
                *stdin = None;
                None
            }
            Input::Resize(w, h) => {
                if let Some(tx) = &resize {
                    let _ = tx.try_send((w, h));
                }
                None
            }
            Input::Nothing | Input::End => None,
        };
        for input in std::mem::take(&mut self.early) {
            if let Some((tx, bytes)) = deliver(input, &mut stdin) {
                let _ = tx.send(bytes).await;
            }
        }
        loop {
            tokio::select! {
                piece = output.recv() => {
                    let Some(piece) = piece else { break };
                    if !self.write_output(piece).await {
                        return;
                    }
                }
                bytes = incoming.next() => {
                    let Some(bytes) = bytes else { return };
                    buf.extend_from_slice(&bytes);
                    while let Some(frame) = next_frame(&mut buf) {
                        let input = self.on_frame(frame).await;
                        if matches!(input, Input::End) {
                            return;
                        }
                        if let Some((tx, bytes)) = deliver(input, &mut stdin) {
                            let _ = tx.send(bytes).await;
                        }
                    }
                }
            }
        }
        let status = match exit.await {
            Ok(code) => channels::exit_status(code, &self.opts.command),
            Err(_) => channels::failure_status("the process ended without an exit code"),
        };
        self.finish(&status).await;
    }

    /// Sends a piece of output on its stream, in frames of at most [`CHUNK`] bytes.
    async fn write_output(&self, piece: Output) -> bool {
        let (kind, bytes) = match piece {
            Output::Stdout(bytes) => ("stdout", bytes),
            Output::Stderr(bytes) if self.streams.contains_key("stderr") => ("stderr", bytes),
            // A terminal has one output stream.
            Output::Stderr(bytes) => ("stdout", bytes),
        };
        let Some(&stream) = self.streams.get(kind) else { return true };
        for part in bytes.chunks(CHUNK) {
            if !self.send(Frame::Data { stream, flags: 0, data: bytes.slice_ref(part) }).await {
                return false;
            }
        }
        true
    }

    /// Reports the status on the error stream and half-closes every stream.
    async fn finish(&self, status: &Value) {
        if let Some(&error) = self.streams.get("error") {
            let data = Bytes::from(serde_json::to_vec(status).unwrap_or_default());
            let _ = self.send(Frame::Data { stream: error, flags: 0, data }).await;
        }
        for &stream in self.streams.values() {
            let _ = self.send(Frame::Data { stream, flags: FLAG_FIN, data: Bytes::new() }).await;
        }
    }

    async fn on_frame(&mut self, frame: Frame) -> Input {
        match frame {
            Frame::SynStream { stream, headers, .. } => {
                let Ok(headers) = self.decoder.decode(&headers) else {
                    let _ = self.send(Frame::GoAway { last_good: stream, status: RST_PROTOCOL_ERROR }).await;
                    return Input::End;
                };
                let reply = Frame::SynReply { stream, flags: 0, headers: self.encoder.encode(&[]) };
                if !self.send(reply).await {
                    return Input::End;
                }
                if let Some(kind) = spdy::header(&headers, "streamtype") {
                    self.streams.insert(kind.to_string(), stream);
                }
                Input::Nothing
            }
            Frame::Data { stream, flags, data } => self.on_data(stream, flags, data),
            Frame::Ping { id } => {
                if self.send(Frame::Ping { id }).await {
                    Input::Nothing
                } else {
                    Input::End
                }
            }
            Frame::GoAway { .. } => Input::End,
            _ => Input::Nothing,
        }
    }

    fn on_data(&self, stream: u32, flags: u8, data: Bytes) -> Input {
        let kind = self.streams.iter().find(|(_, id)| **id == stream).map(|(kind, _)| kind.as_str());
        match kind {
            Some("stdin") if flags & FLAG_FIN != 0 && data.is_empty() => Input::StdinClosed,
            Some("stdin") if flags & FLAG_FIN != 0 => Input::StdinLast(data),
            Some("stdin") => Input::Stdin(data),
            Some("resize") => {
                // Sizes arrive as concatenated JSON objects; the last complete one wins.
                let sizes = serde_json::Deserializer::from_slice(&data).into_iter::<Value>().filter_map(Result::ok);
                match sizes.filter_map(|v| channels::parse_resize(v.to_string().as_bytes())).last() {
                    Some((w, h)) => Input::Resize(w, h),
                    None => Input::Nothing,
                }
            }
            _ => Input::Nothing,
        }
    }
}

//! `…/pods/{name}/portforward`: kubectl's SPDY/3.1 session tunnelled through a WebSocket
//! (`SPDY/3.1+portforward.k8s.io`), and kube-rs' channel framing (`v4.channel.k8s.io`).
//!
//! Each forwarded connection is a byte stream from [`super::PodStreams::connect`]; two small tasks
//! pump it (pod → client frames, client frames → pod) so one slow connection never blocks reading
//! the session, and the pod side reads in large chunks written straight behind a frame header.

use super::channels::{self, normal_close, port_prefix};
use super::spdy::{self, FLAG_FIN, Frame, HEADER_LEN, HeaderDecoder, HeaderEncoder, RST_PROTOCOL_ERROR};
use super::{PodStreams, Streams, find_pod, pod_gone, pods, require_node};
use crate::Sandbox;
use crate::api::status::IntoStatus;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, Stream, StreamExt};
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::object;
use gitops_sandbox_node::NodeError;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

/// kubectl's protocol: a SPDY/3.1 byte stream inside binary WebSocket messages.
const SPDY_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The subprotocols served, best first (kubectl offers only the first; kube-rs offers v5 and v4).
const PROTOCOLS: [&str; 4] = [SPDY_PROTOCOL, "v5.channel.k8s.io", "v4.channel.k8s.io", "portforward.k8s.io"];
/// How much is read from a pod connection at a time: large frames keep per-frame costs low.
pub(super) const CHUNK: usize = 64 * 1024;
/// Received bytes per stream after which a WINDOW_UPDATE is sent.
const WINDOW_STEP: u32 = 32 * 1024;
/// Frames queued towards the client (and chunks towards a pod) before their producer waits.
pub(super) const QUEUE: usize = 64;

/// The pod a session forwards to.
#[derive(Clone)]
struct PodTarget {
    pods: Arc<dyn PodStreams>,
    sandbox: Arc<Sandbox>,
    namespace: String,
    name: String,
    uid: String,
}

impl PodTarget {
    /// Completes when the pod is deleted, replaced or finished.
    fn gone(&self) -> impl Future<Output = ()> + Send + 'static {
        pod_gone(self.sandbox.clone(), self.namespace.clone(), self.name.clone(), self.uid.clone())
    }

    fn connect(&self, port: u16) -> Result<DuplexStream, NodeError> {
        self.pods.connect(&self.namespace, &self.name, port)
    }

    /// The text the client prints after `an error occurred forwarding L -> R: `.
    fn error_text(&self, port: u16, error: &NodeError) -> String {
        format!("error forwarding port {port} to pod {}, uid {}: {error}", self.name, self.uid)
    }
}

/// Serves one port-forward request.
pub async fn handle(s: Streams, ns: String, name: String, pairs: Vec<(String, String)>, request: Request) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        return ApiError::method_not_allowed(method.as_str(), pods()).into_status();
    }
    let (mut parts, _body) = request.into_parts();
    let raw_spdy = raw_spdy_upgrade(&mut parts, PORTFORWARD_V1);
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
    let pod = match find_pod(&s.sandbox, &ns, &name).and_then(|pod| require_node(&pod).map(|_| pod)) {
        Ok(pod) => pod,
        Err(e) => return e.into_status(),
    };
    let uid = object::uid(&pod).to_string();
    let target = PodTarget { pods: s.pods.clone(), sandbox: s.sandbox.clone(), namespace: ns, name, uid };
    let upgrade = match (upgrade, raw_spdy) {
        (Ok(upgrade), _) => upgrade.protocols(PROTOCOLS),
        (Err(_), Some(pending)) => return switch_to_spdy(pending, target),
        (Err(_), None) => {
            let why = format!(
                "port-forward needs a WebSocket (subprotocols {PROTOCOLS:?}) or an Upgrade: {RAW_SPDY} request"
            );
            return ApiError::bad_request(why).into_status();
        }
    };
    let Some(protocol) = upgrade.selected_protocol().and_then(|p| p.to_str().ok()).map(str::to_string) else {
        return ApiError::bad_request(format!(
            "none of the offered WebSocket subprotocols is served; use one of {PROTOCOLS:?}"
        ))
        .into_status();
    };
    if protocol == SPDY_PROTOCOL {
        return upgrade.on_upgrade(move |socket| spdy_session(Wire::Socket(Box::new(socket)), target));
    }
    match ports(&pairs) {
        Ok(ports) => upgrade.on_upgrade(move |socket| channel_session(socket, target, ports)),
        Err(e) => e.into_status(),
    }
}

/// The raw upgrade older kubectl versions (and 1.32 when WebSockets are refused) ask for.
const RAW_SPDY: &str = "SPDY/3.1";
/// The stream protocol both sides must agree on for a raw SPDY port-forward.
const PORTFORWARD_V1: &str = "portforward.k8s.io";

/// The pending connection of a request with `Upgrade: SPDY/3.1` offering stream protocol `wanted`.
pub(super) fn raw_spdy_upgrade(
    parts: &mut axum::http::request::Parts,
    wanted: &str,
) -> Option<hyper::upgrade::OnUpgrade> {
    let header =
        |name: &str| parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let spdy = header("upgrade").split(',').any(|p| p.trim().eq_ignore_ascii_case(RAW_SPDY));
    let protocol = header("x-stream-protocol-version").split(',').any(|p| p.trim() == wanted);
    if !(spdy && protocol) {
        return None;
    }
    parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
}

/// Answers 101 and runs the SPDY session on the connection once hyper hands it over.
fn switch_to_spdy(pending: hyper::upgrade::OnUpgrade, target: PodTarget) -> Response {
    tokio::spawn(async move {
        if let Ok(upgraded) = pending.await {
            spdy_session(Wire::Raw(hyper_util::rt::TokioIo::new(upgraded)), target).await;
        }
    });
    let headers = [("connection", "Upgrade"), ("upgrade", RAW_SPDY), ("x-stream-protocol-version", PORTFORWARD_V1)];
    (axum::http::StatusCode::SWITCHING_PROTOCOLS, headers).into_response()
}

/// The `ports` query of the channel protocol (repeated or comma-separated).
fn ports(pairs: &[(String, String)]) -> ApiResult<Vec<u16>> {
    let mut ports = Vec::new();
    for text in pairs.iter().filter(|(k, _)| k == "ports").flat_map(|(_, v)| v.split(',')) {
        let text = text.trim();
        match text.parse::<u16>() {
            Ok(port) if port > 0 => ports.push(port),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid port {text:?}: ports must be numbers from 1 to 65535"
                )));
            }
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request("at least one port must be given in the ports query parameter"));
    }
    if ports.len() > 127 {
        return Err(ApiError::bad_request("at most 127 ports can be forwarded over one connection"));
    }
    Ok(ports)
}

/// Sends queued messages to the client; SPDY bytes that are already waiting are merged into one
/// message (they form one byte stream), channel messages are sent one by one.
async fn write_out(mut sink: SplitSink<WebSocket, Message>, mut queue: mpsc::Receiver<Bytes>, merge: bool) {
    while let Some(first) = queue.recv().await {
        let mut message = first;
        if merge && message.len() < CHUNK {
            let mut merged: Option<BytesMut> = None;
            while let Ok(next) = queue.try_recv() {
                let buf = merged.get_or_insert_with(|| BytesMut::from(&message[..]));
                buf.extend_from_slice(&next);
                if buf.len() >= CHUNK {
                    break;
                }
            }
            if let Some(buf) = merged {
                message = buf.freeze();
            }
        }
        if sink.send(Message::Binary(message)).await.is_err() {
            return;
        }
    }
    let _ = sink.send(Message::Close(Some(normal_close()))).await;
}

/// Client bytes for one pod connection, written in order; closing the queue ends the pod's input.
async fn pump_in(mut queue: mpsc::Receiver<Bytes>, mut pod: WriteHalf<DuplexStream>) {
    while let Some(bytes) = queue.recv().await {
        if pod.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = pod.shutdown().await;
}

/// Reads a pod connection into buffers that start with `reserve` bytes for the frame header,
/// which `header` fills in once the length is known. Returns when the pod closes its side.
async fn pump_out(
    mut pod: ReadHalf<DuplexStream>,
    out: &mpsc::Sender<Bytes>,
    reserve: usize,
    header: impl Fn(&mut [u8], usize),
) -> bool {
    loop {
        let mut buf = BytesMut::with_capacity(reserve + CHUNK);
        buf.put_bytes(0, reserve);
        match pod.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return true,
            Ok(n) => {
                header(&mut buf[..reserve], n);
                if out.send(buf.freeze()).await.is_err() {
                    return false;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SPDY

/// The streams kubectl opens for one local connection, matched by their `requestID`.
#[derive(Default)]
struct Pair {
    port: u16,
    error: Option<u32>,
    data: Option<(u32, mpsc::Receiver<Bytes>)>,
}

/// A data stream: where its bytes go, and how much has arrived since the last window update.
struct DataStream {
    inbound: Option<mpsc::Sender<Bytes>>,
    unacknowledged: u32,
}

struct SpdySession {
    target: PodTarget,
    out: mpsc::Sender<Bytes>,
    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
    pairs: HashMap<String, Pair>,
    streams: HashMap<u32, DataStream>,
    /// The pump tasks of each connected data stream (finished ones are pruned as pairs start).
    pumps: Vec<(u32, AbortHandle)>,
}

/// What a SPDY session runs over.
enum Wire {
    /// Binary WebSocket messages carrying the byte stream (kubectl 1.31+).
    Socket(Box<WebSocket>),
    /// The upgraded HTTP connection itself.
    Raw(hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>),
}

/// The incoming bytes of a WebSocket, message by message, until it closes.
fn socket_chunks(incoming: SplitStream<WebSocket>) -> impl Stream<Item = Bytes> + Send + Unpin {
    incoming
        .take_while(|m| std::future::ready(matches!(m, Ok(message) if !matches!(message, Message::Close(_)))))
        .filter_map(|m| {
            std::future::ready(match m {
                Ok(Message::Binary(bytes)) => Some(bytes),
                _ => None,
            })
        })
}

/// The incoming bytes of a raw connection, in reads of up to [`CHUNK`], until it closes.
pub(super) fn raw_chunks<R: AsyncRead + Send + Unpin + 'static>(read: R) -> impl Stream<Item = Bytes> + Send + Unpin {
    Box::pin(futures::stream::unfold(read, |mut read| async move {
        let mut buf = BytesMut::with_capacity(CHUNK);
        match read.read_buf(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(_) => Some((buf.freeze(), read)),
        }
    }))
}

/// Writes queued bytes to a raw connection, then closes it.
pub(super) async fn write_raw<W: AsyncWrite + Unpin>(mut write: W, mut queue: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = queue.recv().await {
        if write.write_all(&bytes).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}

async fn spdy_session(wire: Wire, target: PodTarget) {
    let (out, queue) = mpsc::channel(QUEUE);
    let (mut incoming, writer): (Pin<Box<dyn Stream<Item = Bytes> + Send>>, _) = match wire {
        Wire::Socket(socket) => {
            let (sink, incoming) = (*socket).split();
            (Box::pin(socket_chunks(incoming)), tokio::spawn(write_out(sink, queue, true)))
        }
        Wire::Raw(io) => {
            let (read, write) = tokio::io::split(io);
            (Box::pin(raw_chunks(read)), tokio::spawn(write_raw(write, queue)))
        }
    };
    let gone = target.gone();
    let mut session = SpdySession {
        target,
        out,
        encoder: HeaderEncoder::new(),
        decoder: HeaderDecoder::new(),
        pairs: HashMap::new(),
        streams: HashMap::new(),
        pumps: Vec::new(),
    };
    tokio::select! {
        _ = session.run(&mut incoming) => {}
        // Closing the connection is how the client learns the pod is gone ("lost connection to pod").
        _ = gone => {}
    }
    // Ending the pumps drops the pod connections and the last senders, which ends the writer.
    session.pumps.iter().for_each(|(_, pump)| pump.abort());
    drop(session);
    let _ = writer.await;
}

impl SpdySession {
    async fn run(&mut self, incoming: &mut (impl Stream<Item = Bytes> + Unpin)) {
        let mut buf = BytesMut::new();
        while let Some(bytes) = incoming.next().await {
            buf.extend_from_slice(&bytes);
            loop {
                match Frame::parse(&mut buf) {
                    Ok(Some(frame)) => {
                        if !self.on_frame(frame).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let _ = self.send(Frame::GoAway { last_good: 0, status: RST_PROTOCOL_ERROR }).await;
                        return;
                    }
                }
            }
        }
    }

    async fn send(&self, frame: Frame) -> bool {
        self.out.send(frame.to_bytes()).await.is_ok()
    }

    /// Handles one frame; `false` ends the session.
    async fn on_frame(&mut self, frame: Frame) -> bool {
        match frame {
            Frame::SynStream { stream, headers, .. } => self.open(stream, &headers).await,
            Frame::Data { stream, flags, data } => self.data(stream, flags, data).await,
            Frame::RstStream { stream, .. } => {
                // The client is done with the connection: close it towards the pod too.
                self.streams.remove(&stream);
                self.pumps.iter().filter(|(id, _)| *id == stream).for_each(|(_, pump)| pump.abort());
                true
            }
            Frame::Ping { id } => self.send(Frame::Ping { id }).await,
            Frame::GoAway { .. } => false,
            _ => true,
        }
    }

    async fn open(&mut self, stream: u32, block: &[u8]) -> bool {
        let Ok(headers) = self.decoder.decode(block) else {
            // The shared decompression context is now unusable: the session cannot go on.
            let _ = self.send(Frame::GoAway { last_good: stream, status: RST_PROTOCOL_ERROR }).await;
            return false;
        };
        let reply = Frame::SynReply { stream, flags: 0, headers: self.encoder.encode(&[]) };
        if !self.send(reply).await {
            return false;
        }
        let kind = spdy::header(&headers, "streamtype").unwrap_or_default();
        let port = spdy::header(&headers, "port").and_then(|p| p.parse::<u16>().ok());
        let (Some(port), "error" | "data") = (port, kind) else {
            return self.send(Frame::RstStream { stream, status: RST_PROTOCOL_ERROR }).await;
        };
        // Clients older than requestID pair streams by port.
        let request = spdy::header(&headers, "requestid").map_or_else(|| format!("port {port}"), str::to_string);
        let pair = self.pairs.entry(request.clone()).or_default();
        pair.port = port;
        if kind == "error" {
            pair.error = Some(stream);
        } else {
            let (tx, rx) = mpsc::channel(QUEUE);
            pair.data = Some((stream, rx));
            self.streams.insert(stream, DataStream { inbound: Some(tx), unacknowledged: 0 });
        }
        if pair.error.is_some()
            && pair.data.is_some()
            && let Some(pair) = self.pairs.remove(&request)
        {
            return self.start(pair).await;
        }
        true
    }

    /// Connects a complete pair to the pod, or reports why not on its error stream.
    async fn start(&mut self, pair: Pair) -> bool {
        let (Some(error), Some((data, inbound))) = (pair.error, pair.data) else {
            return true;
        };
        match self.target.connect(pair.port) {
            Ok(connection) => {
                let (read, write) = tokio::io::split(connection);
                self.pumps.retain(|(_, pump)| !pump.is_finished());
                self.pumps.push((data, tokio::spawn(pump_in(inbound, write)).abort_handle()));
                let out = self.out.clone();
                let output = tokio::spawn(async move {
                    let header = |h: &mut [u8], n: usize| h.copy_from_slice(&spdy::data_header(data, 0, n));
                    if pump_out(read, &out, HEADER_LEN, header).await {
                        finish(&out, data, error).await;
                    }
                });
                self.pumps.push((data, output.abort_handle()));
                true
            }
            Err(e) => {
                let text = Bytes::from(self.target.error_text(pair.port, &e));
                self.streams.remove(&data);
                self.send(Frame::Data { stream: error, flags: 0, data: text }).await
                    && finish(&self.out, data, error).await
            }
        }
    }

    async fn data(&mut self, stream: u32, flags: u8, data: Bytes) -> bool {
        let Some(entry) = self.streams.get_mut(&stream) else {
            return true;
        };
        let len = data.len() as u32;
        if !data.is_empty() {
            let delivered = match &entry.inbound {
                Some(tx) => tx.send(data).await.is_ok(),
                None => false,
            };
            if !delivered {
                entry.inbound = None;
            }
        }
        if flags & FLAG_FIN != 0 {
            entry.inbound = None;
        }
        entry.unacknowledged += len;
        if entry.unacknowledged >= WINDOW_STEP {
            let delta = std::mem::take(&mut entry.unacknowledged);
            // The stream's window and the session's (SPDY/3.1) both grow by what was consumed.
            let mut both = BytesMut::new();
            Frame::WindowUpdate { stream, delta }.encode(&mut both);
            Frame::WindowUpdate { stream: 0, delta }.encode(&mut both);
            return self.out.send(both.freeze()).await.is_ok();
        }
        true
    }
}

/// Half-closes both streams of a pair from the server's side (the client then finishes the connection).
async fn finish(out: &mpsc::Sender<Bytes>, data: u32, error: u32) -> bool {
    let mut both = BytesMut::new();
    Frame::Data { stream: data, flags: FLAG_FIN, data: Bytes::new() }.encode(&mut both);
    Frame::Data { stream: error, flags: FLAG_FIN, data: Bytes::new() }.encode(&mut both);
    out.send(both.freeze()).await.is_ok()
}

// ---------------------------------------------------------------------------------------------
// Channels (kube-rs)

async fn channel_session(socket: WebSocket, target: PodTarget, ports: Vec<u16>) {
    let (sink, mut incoming) = socket.split();
    let (out, queue) = mpsc::channel(QUEUE);
    let writer = tokio::spawn(write_out(sink, queue, false));
    let mut inbound = Vec::with_capacity(ports.len());
    let mut readers = JoinSet::new();
    let mut writers = JoinSet::new();
    for (i, port) in ports.iter().enumerate() {
        let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
        let _ = out.send(channels::frame(data, &port_prefix(*port))).await;
        let _ = out.send(channels::frame(error, &port_prefix(*port))).await;
        match target.connect(*port) {
            Ok(connection) => {
                let (read, write) = tokio::io::split(connection);
                let (tx, rx) = mpsc::channel(QUEUE);
                writers.spawn(pump_in(rx, write));
                let out = out.clone();
                readers.spawn(async move {
                    pump_out(read, &out, 1, |h, _| h[0] = data).await;
                });
                inbound.push(Some(tx));
            }
            Err(e) => {
                let _ = out.send(channels::frame(error, target.error_text(*port, &e).as_bytes())).await;
                inbound.push(None);
            }
        }
    }
    if !readers.is_empty() {
        tokio::select! {
            _ = relay_channels(&mut incoming, &mut inbound, &mut readers) => {}
            _ = target.gone() => {}
        }
    }
    readers.abort_all();
    writers.abort_all();
    drop(out);
    let _ = writer.await;
}

/// Client data to the pods, until the client leaves or every pod connection has ended.
async fn relay_channels(
    incoming: &mut SplitStream<WebSocket>,
    inbound: &mut [Option<mpsc::Sender<Bytes>>],
    readers: &mut JoinSet<()>,
) {
    loop {
        tokio::select! {
            message = incoming.next() => {
                let data = match message {
                    Some(Ok(Message::Binary(data))) => data,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                };
                let Some((channel, _)) = channels::split(&data) else { continue };
                if data.len() < 2 || channel % 2 == 1 {
                    continue;
                }
                if let Some(slot) = inbound.get_mut(usize::from(channel / 2))
                    && let Some(tx) = slot
                    && tx.send(data.slice(1..)).await.is_err()
                {
                    *slot = None;
                }
            }
            done = readers.join_next() => {
                if done.is_none() || readers.is_empty() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_sandbox_core::errors::Reason;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ports_come_from_repeated_or_comma_separated_parameters() {
        assert_eq!(ports(&pairs(&[("ports", "80,443"), ("ports", "8080")])).unwrap(), [80, 443, 8080]);
        assert_eq!(ports(&pairs(&[])).unwrap_err().reason, Reason::BadRequest);
        assert!(ports(&pairs(&[("ports", "0")])).unwrap_err().message.contains("\"0\""));
        assert!(ports(&pairs(&[("ports", "http")])).is_err());
    }

    #[tokio::test]
    async fn pump_out_writes_each_chunk_behind_its_header_and_reports_the_end() {
        let (mut pod, ours) = tokio::io::duplex(1024);
        let (read, _write) = tokio::io::split(ours);
        let (tx, mut rx) = mpsc::channel(4);
        pod.write_all(b"hello").await.unwrap();
        drop(pod);
        let ended = pump_out(read, &tx, HEADER_LEN, |h, n| h.copy_from_slice(&spdy::data_header(3, 0, n))).await;
        assert!(ended);
        let frame = rx.recv().await.unwrap();
        let mut buf = BytesMut::from(&frame[..]);
        assert_eq!(
            Frame::parse(&mut buf).unwrap(),
            Some(Frame::Data { stream: 3, flags: 0, data: Bytes::from_static(b"hello") })
        );
    }
}

//! `?watch=true`: a streamed session of watch events, driven by a small state machine.
//!
//! A session first drains its backlog (synthetic ADDED events for a fresh watch, or the missed
//! events of a resumed one), then follows the store's fan-out until the client leaves, the
//! timeout passes, or it falls behind (then it ends with a 410, and the client lists again).

use super::objects::Filter;
use super::render::{self, partial_metadata};
use super::request::{Options, Output, Target};
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_sandbox_core::cluster::Sandbox;
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::table::{self, IncludeObject};
use gitops_sandbox_core::watch::{EventType, TooOld, WatchEvent};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

/// How often an idle watch that allows bookmarks is told the current resourceVersion.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);
/// Watches without a timeout end after this long, as upstream's do (clients then resume).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Starts a watch session for a collection path.
pub fn watch(sb: &Sandbox, t: &Target, opts: &Options, output: Output) -> ApiResult<Response> {
    let filter = Filter::new(t, opts)?;
    let current = sb.store().resource_version();
    let requested = match opts.resource_version.as_str() {
        "" | "0" => None,
        text => Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("resourceVersion must be a number from an earlier response, not {text:?}"))
        })?),
    };
    if let Some(rv) = requested.filter(|rv| *rv > current) {
        return Err(ApiError::bad_request(format!(
            "resourceVersion {rv} is newer than the sandbox's current resourceVersion {current}; list again to get a \
                valid one"
        )));
    }
    let mut session = Session {
        rt: t.rt,
        resource: t.rt.id(),
        namespace: t.namespace.clone(),
        filter,
        output,
        include: render::include_object(&opts.include_object)?,
        pending: VecDeque::new(),
        receiver: None,
        last_rv: 0,
        bookmarks: opts.bookmarks,
        deadline: Instant::now() + opts.timeout_seconds.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT),
        finished: false,
    };
    let initial = requested.is_none() || opts.send_initial_events;
    let start = match (requested, initial) {
        (Some(rv), false) => rv,
        _ => {
            let (snapshot, _) =
                sb.store().list(&session.resource, t.namespace.as_deref(), None, 0, |o| session.filter.matches(o));
            for obj in &snapshot.items {
                session.push(EventType::Added, obj);
            }
            snapshot.rv
        }
    };
    session.last_rv = start;
    match sb.store().subscribe(start) {
        Ok(sub) => {
            for event in sub.backlog {
                session.consider(&event);
            }
            session.receiver = Some(sub.receiver);
        }
        Err(TooOld { oldest }) => {
            session.push_error(ApiError::gone(format!("too old resource version: {start} ({oldest})")));
            session.finished = true;
        }
    }
    if opts.send_initial_events && !session.finished {
        session.push_bookmark(true);
    }
    let stream = futures::stream::unfold(session, |mut s| async move {
        s.next().await.map(|b| (Ok::<_, std::convert::Infallible>(b), s))
    });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response())
}

struct Session {
    rt: &'static ResourceType,
    resource: ResourceId,
    namespace: Option<String>,
    filter: Filter,
    output: Output,
    include: IncludeObject,
    /// Encoded lines waiting to be sent.
    pending: VecDeque<Bytes>,
    receiver: Option<broadcast::Receiver<Arc<WatchEvent>>>,
    /// The newest resourceVersion this session has seen (sent or filtered out).
    last_rv: u64,
    bookmarks: bool,
    deadline: Instant,
    finished: bool,
}

impl Session {
    /// The next line to send, or `None` when the session is over.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some(line);
            }
            if self.finished {
                return None;
            }
            let receiver = self.receiver.as_mut()?;
            let tick = tokio::time::sleep(if self.bookmarks { BOOKMARK_EVERY } else { DEFAULT_TIMEOUT });
            tokio::select! {
                received = receiver.recv() => match received {
                    Ok(event) => self.consider(&event),
                    Err(RecvError::Lagged(_)) => {
                        self.push_error(ApiError::gone("the watch fell too far behind the sandbox's changes; list \
                            again and restart it"));
                        self.finished = true;
                    }
                    Err(RecvError::Closed) => self.finished = true,
                },
                _ = tokio::time::sleep_until(self.deadline) => self.finished = true,
                _ = tick => if self.bookmarks { self.push_bookmark(false) },
            }
        }
    }

    /// Turns a store event into what this watcher should see, if anything.
    fn consider(&mut self, event: &WatchEvent) {
        if event.rv <= self.last_rv {
            return;
        }
        self.last_rv = event.rv;
        if event.resource != self.resource {
            return;
        }
        let in_scope = |obj: &Value| match &self.namespace {
            Some(ns) => obj["metadata"]["namespace"].as_str() == Some(ns),
            None => true,
        };
        let now = in_scope(&event.object) && self.filter.matches(&event.object);
        let before = event.old.as_ref().is_some_and(|old| in_scope(old) && self.filter.matches(old));
        // A filtered watch sees an object enter or leave its selection as ADDED or DELETED.
        let kind = match (event.kind, before, now) {
            (EventType::Deleted, _, true) => Some(EventType::Deleted),
            (EventType::Added, _, true) => Some(EventType::Added),
            (EventType::Modified, true, true) => Some(EventType::Modified),
            (EventType::Modified, false, true) => Some(EventType::Added),
            (EventType::Modified, true, false) => Some(EventType::Deleted),
            _ => None,
        };
        if let Some(kind) = kind {
            self.push(kind, &event.object);
        }
    }

    fn push(&mut self, kind: EventType, obj: &Arc<Value>) {
        // Events of a custom resource come in the version watched.
        let obj = &gitops_sandbox_core::custom::in_version(self.rt, obj.clone());
        let object = match self.output {
            Output::Object => obj.as_ref().clone(),
            Output::Metadata => partial_metadata(obj),
            Output::Table => {
                let rv = obj["metadata"]["resourceVersion"].clone();
                table::to_table_with(
                    self.rt,
                    std::slice::from_ref(obj),
                    json!({"resourceVersion": rv}),
                    jiff::Timestamp::now(),
                    self.include,
                )
            }
        };
        self.push_line(json!({"type": kind.as_str(), "object": object}));
    }

    fn push_bookmark(&mut self, initial_events_end: bool) {
        let mut metadata = json!({"resourceVersion": self.last_rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": metadata});
        self.push_line(json!({"type": "BOOKMARK", "object": object}));
    }

    fn push_error(&mut self, error: ApiError) {
        self.push_line(json!({"type": "ERROR", "object": super::status::body(&error)}));
    }

    fn push_line(&mut self, line: Value) {
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        self.pending.push_back(Bytes::from(bytes));
    }
}

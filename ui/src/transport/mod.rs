//! The way to the engine: one trait, two implementations (Tauri IPC, HTTP + WebSocket).
//!
//! Components never see which one they have: they call [`Transport::call`] and receive what the
//! engine pushes through the sink given to [`Transport::listen`]. A transport that cannot reach the
//! engine answers with an [`ErrorView`] whose code is [`LINK_ERROR`], and reports the lost link to the
//! sink so that the UI shows a banner while it reconnects.

#[cfg(target_arch = "wasm32")]
mod tauri;
#[cfg(target_arch = "wasm32")]
mod web;

use crate::protocol::{Command, ErrorView, Event, Response, Text};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// The code of errors that mean "the engine could not be reached", not "the engine said no".
pub const LINK_ERROR: &str = "link";

/// The code of errors that mean "this page's session token is not (or no longer) valid".
pub const UNAUTHORIZED: &str = "unauthorized";

/// A future that runs on the page's single thread.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Whether the event stream is flowing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Events flow.
    Up,
    /// The stream broke; the transport is reconnecting.
    Down,
}

/// What a transport hands to the UI without being asked.
// One value per event, moved straight into the UI's state: boxing the event would only add an
// allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// An engine event.
    Event(Event),
    /// The event stream went down or came back (after coming back, the UI resynchronises).
    Link(Link),
}

/// Where incoming events go.
pub type Sink = Rc<dyn Fn(Incoming)>;

/// A way to the engine.
pub trait Transport {
    /// Sends one command and resolves with the engine's answer.
    fn call(&self, command: Command) -> LocalFuture<Response>;
    /// Starts delivering events (and link changes) to `sink`, reconnecting when the stream breaks.
    fn listen(&self, sink: Sink);
    /// Opens a URL outside the lab's page (a port-forward's page): a new tab, or the system browser.
    fn open_external(&self, url: &str);
}

/// The error a transport answers when the engine cannot be reached.
pub fn link_error(detail: impl Into<String>) -> ErrorView {
    ErrorView::new(LINK_ERROR, Text::new("The lab's engine did not answer.", "实验室引擎没有响应。"))
        .with_hint(Text::new(
            "Check that gitops-lab is still running; the page reconnects by itself.",
            "请确认 gitops-lab 仍在运行；页面会自动重新连接。",
        ))
        .with_detail(detail)
}

/// The error for a page whose session token the server refused.
pub fn unauthorized_error() -> ErrorView {
    ErrorView::new(UNAUTHORIZED, Text::new("This page is not signed in to the lab.", "此页面尚未登录到实验室。"))
        .with_hint(Text::new(
            "Open the address that gitops-lab web printed (it carries the session token).",
            "请打开 gitops-lab web 打印的地址（其中带有会话令牌）。",
        ))
}

/// Picks the transport for the page: Tauri IPC inside the desktop window, HTTP otherwise.
#[cfg(target_arch = "wasm32")]
pub fn detect() -> Rc<dyn Transport> {
    match tauri::TauriTransport::detect() {
        Some(transport) => Rc::new(transport),
        None => Rc::new(web::WebTransport::new()),
    }
}

/// Decodes a JSON answer; a body that is not a [`Response`] becomes a link error.
// `Response` is the protocol's wire type (`Result<Reply, ErrorView>`), shared with the engine.
#[allow(clippy::result_large_err)]
pub fn decode_response(body: &str) -> Response {
    serde_json::from_str(body).unwrap_or_else(|error| Err(link_error(format!("unreadable answer: {error}"))))
}

/// Decodes a JSON event; `None` for a message this UI does not understand (a newer engine).
pub fn decode_event(body: &str) -> Option<Event> {
    serde_json::from_str(body).ok()
}

/// How long to wait before the `attempt`-th reconnection: doubling from 250 ms, at most 5 s.
pub fn backoff_ms(attempt: u32) -> u32 {
    250u32.saturating_mul(1 << attempt.min(5)).min(5_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Reply;

    #[test]
    fn answers_decode_and_garbage_becomes_a_link_error() {
        let ok = serde_json::to_string(&Ok::<Reply, ErrorView>(Reply::Done)).unwrap();
        assert_eq!(decode_response(&ok), Ok(Reply::Done));
        let error = decode_response("<html>").unwrap_err();
        assert_eq!(error.code, LINK_ERROR);
        assert!(error.detail.unwrap().contains("unreadable"));
    }

    #[test]
    fn unknown_events_are_skipped() {
        assert_eq!(decode_event(r#"{"type":"resync"}"#), Some(Event::Resync));
        assert_eq!(decode_event(r#"{"type":"somethingNew"}"#), None);
    }

    #[test]
    fn backoff_doubles_then_stays_at_five_seconds() {
        assert_eq!(backoff_ms(0), 250);
        assert_eq!(backoff_ms(1), 500);
        assert_eq!(backoff_ms(4), 4_000);
        assert_eq!(backoff_ms(5), 5_000);
        assert_eq!(backoff_ms(40), 5_000);
    }
}

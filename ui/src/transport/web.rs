//! Web mode: commands as `POST /api/command` (JSON), events over the WebSocket `/api/events`.
//!
//! The session cookie set by the server travels with both (same origin), so this code never sees
//! the token. The WebSocket reconnects with back-off; each time it comes back the UI resynchronises.

use super::unauthorized_error;
use super::{Incoming, Link, LocalFuture, Sink, Transport, backoff_ms, decode_event, decode_response, link_error};
use crate::protocol::{Command, Response};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CloseEvent, Headers, MessageEvent, RequestInit, WebSocket};

/// HTTP + WebSocket to `gitops-lab web`.
pub struct WebTransport;

impl WebTransport {
    /// The transport for the page's own origin.
    pub fn new() -> WebTransport {
        WebTransport
    }
}

impl Transport for WebTransport {
    fn call(&self, command: Command) -> LocalFuture<Response> {
        Box::pin(async move {
            let body = match serde_json::to_string(&command) {
                Ok(body) => body,
                Err(error) => return Err(link_error(error.to_string())),
            };
            match post("/api/command", &body).await {
                Ok((401, _)) => Err(unauthorized_error()),
                Ok((_, text)) => decode_response(&text),
                Err(error) => Err(link_error(error)),
            }
        })
    }

    fn listen(&self, sink: Sink) {
        connect(sink, Rc::new(Cell::new(0)));
    }

    fn open_external(&self, url: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.open_with_url_and_target_and_features(url, "_blank", "noopener");
        }
    }
}

/// Posts a JSON body; resolves with the status and the body's text.
async fn post(path: &str, body: &str) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    let headers = Headers::new().map_err(describe)?;
    headers.set("content-type", "application/json").map_err(describe)?;
    init.set_headers(&headers);
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.map_err(describe)?;
    let response: web_sys::Response = response.dyn_into().map_err(describe)?;
    let text = JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

/// Opens the event stream; on close, tries again after a growing pause.
fn connect(sink: Sink, attempt: Rc<Cell<u32>>) {
    let Some(url) = events_url() else { return };
    let socket = match WebSocket::new(&url) {
        Ok(socket) => socket,
        Err(_) => return retry(sink, attempt),
    };
    let on_open = {
        let (sink, attempt) = (sink.clone(), attempt.clone());
        Closure::<dyn FnMut()>::new(move || {
            attempt.set(0);
            sink(Incoming::Link(Link::Up));
        })
    };
    let on_message = {
        let sink = sink.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            if let Some(event) = message.data().as_string().as_deref().and_then(decode_event) {
                sink(Incoming::Event(event));
            }
        })
    };
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
        sink(Incoming::Link(Link::Down));
        retry(sink.clone(), attempt.clone());
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    // The socket owns its handlers for its whole life; each connection leaks three small closures.
    on_open.forget();
    on_message.forget();
    on_close.forget();
}

fn retry(sink: Sink, attempt: Rc<Cell<u32>>) {
    let delay = backoff_ms(attempt.get());
    attempt.set(attempt.get() + 1);
    let again = Closure::once_into_js(move || connect(sink, attempt));
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), delay as i32);
    }
}

/// `ws://HOST/api/events` (or `wss://` under https) for the page's own host.
fn events_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}/api/events", location.host().ok()?))
}

fn describe(value: JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

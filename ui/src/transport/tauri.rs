//! The desktop window: commands through Tauri's `invoke`, events through a Tauri channel.
//!
//! The shell enables `withGlobalTauri`, so `window.__TAURI__.core` carries `invoke` and `Channel`;
//! no JavaScript package is bundled. Values cross as JSON text, decoded by the same serde types as
//! web mode.

use super::{Incoming, Link, LocalFuture, Sink, Transport, decode_event, decode_response, link_error};
use crate::protocol::{Command, Response};
use js_sys::{Function, JSON, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Tauri IPC to the desktop shell.
pub struct TauriTransport {
    core: JsValue,
}

impl TauriTransport {
    /// The transport when the page runs inside the Tauri window; `None` in a browser.
    pub fn detect() -> Option<TauriTransport> {
        let window = web_sys::window()?;
        let tauri = Reflect::get(&window, &"__TAURI__".into()).ok().filter(|v| v.is_object())?;
        let core = Reflect::get(&tauri, &"core".into()).ok().filter(|v| v.is_object())?;
        Some(TauriTransport { core })
    }

    /// Calls a shell command with named arguments; resolves with its JSON value.
    async fn invoke(&self, name: &str, args: &Object) -> Result<JsValue, String> {
        let invoke: Function =
            Reflect::get(&self.core, &"invoke".into()).map_err(describe)?.dyn_into().map_err(describe)?;
        let promise = invoke.call2(&self.core, &name.into(), args).map_err(describe)?;
        JsFuture::from(js_sys::Promise::from(promise)).await.map_err(describe)
    }
}

impl Transport for TauriTransport {
    fn call(&self, command: Command) -> LocalFuture<Response> {
        let core = self.core.clone();
        Box::pin(async move {
            let this = TauriTransport { core };
            let args = match json_object(&[("command", serde_json::to_string(&command).unwrap_or_default())]) {
                Ok(args) => args,
                Err(error) => return Err(link_error(error)),
            };
            match this.invoke("command", &args).await {
                Ok(value) => decode_response(&JSON::stringify(&value).map(String::from).unwrap_or_default()),
                Err(error) => Err(link_error(error)),
            }
        })
    }

    fn listen(&self, sink: Sink) {
        let core = self.core.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let this = TauriTransport { core };
            let channel = match new_channel(&this.core, sink.clone()) {
                Ok(channel) => channel,
                Err(_) => return sink(Incoming::Link(Link::Down)),
            };
            let args = Object::new();
            let _ = Reflect::set(&args, &"events".into(), &channel);
            match this.invoke("subscribe", &args).await {
                Ok(_) => sink(Incoming::Link(Link::Up)),
                Err(_) => sink(Incoming::Link(Link::Down)),
            }
        });
    }

    fn open_external(&self, url: &str) {
        let core = self.core.clone();
        let url = url.to_string();
        wasm_bindgen_futures::spawn_local(async move {
            let this = TauriTransport { core };
            let args = Object::new();
            let _ = Reflect::set(&args, &"url".into(), &url.into());
            let _ = this.invoke("open_url", &args).await;
        });
    }
}

/// A `Channel` whose messages (engine events) go to the sink.
fn new_channel(core: &JsValue, sink: Sink) -> Result<JsValue, String> {
    let class: Function = Reflect::get(core, &"Channel".into()).map_err(describe)?.dyn_into().map_err(describe)?;
    let channel = Reflect::construct(&class, &js_sys::Array::new()).map_err(describe)?;
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |value: JsValue| {
        let text = JSON::stringify(&value).map(String::from).unwrap_or_default();
        if let Some(event) = decode_event(&text) {
            sink(Incoming::Event(event));
        }
    });
    Reflect::set(&channel, &"onmessage".into(), on_message.as_ref()).map_err(describe)?;
    // The channel lives as long as the window.
    on_message.forget();
    Ok(channel.into())
}

/// An object whose values are JSON texts parsed into JavaScript values.
fn json_object(fields: &[(&str, String)]) -> Result<Object, String> {
    let object = Object::new();
    for (name, json) in fields {
        let value = JSON::parse(json).map_err(describe)?;
        Reflect::set(&object, &(*name).into(), &value).map_err(describe)?;
    }
    Ok(object)
}

fn describe(value: JsValue) -> String {
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

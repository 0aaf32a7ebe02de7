//! The exec terminal: xterm.js (bundled from npm, fetched when the tab is first shown) bound to an
//! exec session.
//!
//! Keystrokes go to the engine as `ExecInput`; output arrives as stream events and is written to
//! the terminal. Without xterm.js (a page built without npm) a plain output area and input line
//! stand in, so the feature still works.

use crate::i18n::S;
use crate::protocol::{Command, Reply};
use crate::state::{LiveTab, TerminalSession, lab};
use crate::widgets::ErrorBox;
use leptos::html::Div;
use leptos::prelude::*;
use std::rc::Rc;

/// The terminal's size.
const COLS: u16 = 80;
const ROWS: u16 = 24;

/// The terminal tab.
#[component]
pub fn Terminal() -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None);
    let screen = NodeRef::<Div>::new();
    let fallback = RwSignal::new(String::new());
    let has_xterm = RwSignal::new(false);
    // Keystrokes go out in order: one request at a time, carrying everything typed meanwhile
    // (separate concurrent requests could overtake each other).
    let queued = StoredValue::new_local(String::new());
    let sending = StoredValue::new_local(false);
    let send = move |data: String| {
        queued.update_value(|q| q.push_str(&data));
        if sending.get_value() {
            return;
        }
        sending.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                let data = std::mem::take(&mut *queued.write_value());
                let stream =
                    lab.terminal.with_untracked(|t| t.as_ref().filter(|t| t.ended.is_none()).map(|t| t.stream));
                let (Some(stream), false) = (stream, data.is_empty()) else { break };
                if let Err(e) = lab.call(Command::ExecInput { stream, data }).await {
                    error.set(Some(e));
                }
            }
            sending.set_value(false);
        });
    };
    // xterm.js (half a megabyte) is fetched the first time the tab is shown, not with the page, and
    // opened once the tab is visible because it measures its cells when it opens.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        if lab.live_tab.get() != LiveTab::Terminal {
            return false;
        }
        let Some(element) = screen.get() else { return false };
        leptos::task::spawn_local(async move {
            let write = match xterm::load().await {
                true => xterm::open(&element, COLS, ROWS, Rc::new(send)),
                false => None,
            };
            match write {
                Some(write) => {
                    has_xterm.set(true);
                    lab.set_terminal_sink(Some(write));
                }
                None => {
                    lab.set_terminal_sink(Some(Rc::new(move |data: &str| fallback.update(|text| text.push_str(data)))))
                }
            }
        });
        true
    });
    // A session opened by a step's action has the engine's size; tell it this terminal's size.
    Effect::new(move |previous: Option<Option<crate::protocol::StreamId>>| {
        let stream = lab.terminal.with(|t| t.as_ref().map(|t| t.stream));
        if let Some(stream) = stream.filter(|s| previous.flatten() != Some(*s)) {
            leptos::task::spawn_local(async move {
                let _ = lab.call(Command::ExecResize { stream, cols: COLS, rows: ROWS }).await;
            });
        }
        stream
    });
    let pod = move || lab.selected.get().filter(|o| o.kind == "Pod");
    let session_pod = move || lab.terminal.with(|t| t.as_ref().map(|t| t.pod.clone()).filter(|p| !p.name.is_empty()));
    let start = move |_| {
        let Some(pod) = pod() else { return };
        leptos::task::spawn_local(async move {
            if let Some(stream) = lab.terminal.with_untracked(|t| t.as_ref().map(|t| t.stream)) {
                let _ = lab.call(Command::StopStream { stream }).await;
            }
            let command = Command::ExecStart {
                pod: pod.clone(),
                container: None,
                command: vec![],
                tty: true,
                cols: COLS,
                rows: ROWS,
            };
            match lab.call(command).await {
                Ok(Reply::Stream(stream)) => {
                    error.set(None);
                    fallback.set(String::new());
                    lab.open_terminal(TerminalSession { stream, pod, ended: None });
                    xterm::focus(screen.get_untracked());
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let line = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(format!("{}\n", line.get_untracked()));
        line.set(String::new());
    };
    view! {
        <div class="row-form">
            <span class="mono">{move || session_pod().or_else(pod).map(|p| p.kubectl_name()).unwrap_or_else(|| lab.t(S::PickPod).to_string())}</span>
            <button id="open-shell" on:click=start disabled=move || pod().is_none()>{move || lab.t(S::Shell)}</button>
        </div>
        {move || error.get().map(|error| view! { <ErrorBox error /> })}
        <div class="terminal" node_ref=screen role="group" aria-label=move || lab.t(S::TabTerminal)></div>
        <Show when=move || !has_xterm.get()>
            <pre class="output terminal-fallback">{move || fallback.get()}</pre>
            <form class="row-form" on:submit=submit>
                <input type="text" class="mono" bind:value=line aria-label=move || lab.t(S::TerminalInput) autocomplete="off" />
            </form>
        </Show>
        {move || lab.terminal.with(|t| t.as_ref().and_then(|t| t.ended.clone())).map(|m| view! {
            <p class="muted">{move || S::StreamEnded.fill(lab.language.get(), &[&lab.text(&m)])}</p>
        })}
    }
}

#[cfg(target_arch = "wasm32")]
mod xterm {
    //! The few calls into xterm.js this tab needs.
    use js_sys::{Function, Object, Reflect};
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    /// Adds xterm.js and its styles to the page (once); true when `window.Terminal` is there.
    pub async fn load() -> bool {
        let Some(window) = web_sys::window() else { return false };
        if Reflect::has(&window, &"Terminal".into()).unwrap_or(false) {
            return true;
        }
        let Some(document) = window.document() else { return false };
        let Ok(Some(head)) = document.query_selector("head") else { return false };
        if let Ok(link) = document.create_element("link") {
            let _ = link.set_attribute("rel", "stylesheet");
            let _ = link.set_attribute("href", "xterm.css");
            let _ = head.append_child(&link);
        }
        let Ok(script) = document.create_element("script") else { return false };
        let _ = script.set_attribute("src", "xterm.js");
        // Resolves on load and on error alike: without xterm.js the plain fallback stands in.
        let loaded = js_sys::Promise::new(&mut |resolve, _| {
            let _ = Reflect::set(&script, &"onload".into(), &resolve);
            let _ = Reflect::set(&script, &"onerror".into(), &resolve);
        });
        let _ = head.append_child(&script);
        let _ = wasm_bindgen_futures::JsFuture::from(loaded).await;
        Reflect::has(&window, &"Terminal".into()).unwrap_or(false)
    }

    /// Opens an xterm.js terminal in `element`; returns the function that writes to it, or `None`
    /// when xterm.js is not on the page.
    pub fn open(
        element: &web_sys::HtmlDivElement,
        cols: u16,
        rows: u16,
        on_data: Rc<dyn Fn(String)>,
    ) -> Option<Rc<dyn Fn(&str)>> {
        let window = web_sys::window()?;
        let class: Function = Reflect::get(&window, &"Terminal".into()).ok()?.dyn_into().ok()?;
        let options = Object::new();
        Reflect::set(&options, &"cols".into(), &cols.into()).ok()?;
        Reflect::set(&options, &"rows".into(), &rows.into()).ok()?;
        Reflect::set(&options, &"convertEol".into(), &true.into()).ok()?;
        Reflect::set(&options, &"fontFamily".into(), &"'DejaVu Sans Mono', 'Noto Sans Mono CJK SC', monospace".into())
            .ok()?;
        let terminal = Reflect::construct(&class, &js_sys::Array::of1(&options)).ok()?;
        call(&terminal, "open", &element.into())?;
        let data = Closure::<dyn Fn(String)>::new(move |text: String| on_data(text));
        call(&terminal, "onData", data.as_ref())?;
        // The terminal lives as long as the page.
        data.forget();
        let write: Function = Reflect::get(&terminal, &"write".into()).ok()?.dyn_into().ok()?;
        Some(Rc::new(move |text: &str| {
            let _ = write.call1(&terminal, &text.into());
        }))
    }

    /// Moves keyboard focus into the terminal.
    pub fn focus(element: Option<web_sys::HtmlDivElement>) {
        if let Some(input) = element.and_then(|e| e.query_selector("textarea").ok().flatten()) {
            let _ = input.unchecked_into::<web_sys::HtmlElement>().focus();
        }
    }

    fn call(target: &JsValue, method: &str, arg: &JsValue) -> Option<JsValue> {
        let function: Function = Reflect::get(target, &method.into()).ok()?.dyn_into().ok()?;
        function.call1(target, arg).ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod xterm {
    //! Outside a browser there is no terminal to open.
    use std::rc::Rc;

    /// Writes text to an open terminal.
    type Writer = Rc<dyn Fn(&str)>;

    pub async fn load() -> bool {
        false
    }

    pub fn open(_: &web_sys::HtmlDivElement, _: u16, _: u16, _: Rc<dyn Fn(String)>) -> Option<Writer> {
        None
    }

    pub fn focus(_: Option<web_sys::HtmlDivElement>) {}
}

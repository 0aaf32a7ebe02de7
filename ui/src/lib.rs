//! The GitOps Lab user interface: one Leptos front end for the desktop window and web mode.
//!
//! The UI renders the engine's view models and sends it [`protocol::Command`]s; it holds no
//! Kubernetes or exercise logic. It reaches the engine through a [`transport::Transport`]: Tauri IPC
//! in the desktop shell, HTTP JSON plus a WebSocket event stream in web mode; components never know
//! which one they have.
//!
//! Layout: [`transport`] (the two ways to the engine), [`model`] (plain Rust view logic — the resource
//! tree, checks, diffs, Markdown — tested natively without a browser), [`i18n`] (every UI string in
//! English and Simplified Chinese, a typed table that fails to compile when a translation is missing),
//! `state` (the session's signals and the event router), `screens` (one screen per file) and `widgets`.
#![deny(missing_docs)]

pub mod i18n;
pub mod model;
pub mod transport;

mod app;
mod dom;
mod screens;
mod state;
mod widgets;

pub use gitops_lab_protocol as protocol;

/// Mounts the app on `<body>` around a transport (the instructor's board at workshop mode's `/board`).
pub fn mount(transport: std::rc::Rc<dyn transport::Transport>) {
    if dom::pathname() == "/board" {
        leptos::mount::mount_to_body(move || leptos::view! { <app::BoardApp transport /> });
    } else {
        leptos::mount::mount_to_body(move || leptos::view! { <app::App transport /> });
    }
}

/// The wasm entry point: picks the transport the page was loaded by and mounts the app.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    // A panic shows its message in the console (and fails the browser tests) instead of `unreachable`.
    console_error_panic_hook::set_once();
    mount(transport::detect());
}

//! Small browser helpers: storage, the document's attributes, the clipboard, frames and the hash.
//! Each one does nothing outside a browser (native tests), so callers need no `cfg`.

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::*;

    pub fn stored(key: &str) -> Option<String> {
        web_sys::window()?.local_storage().ok()??.get_item(key).ok()?
    }

    pub fn store(key: &str, value: &str) {
        if let Some(Ok(Some(storage))) = web_sys::window().map(|w| w.local_storage()) {
            let _ = storage.set_item(key, value);
        }
    }

    pub fn set_root_attribute(name: &str, value: &str) {
        if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
            let _ = root.set_attribute(name, value);
        }
    }

    pub fn browser_language() -> Option<String> {
        web_sys::window()?.navigator().language()
    }

    pub fn copy(text: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(text);
        }
    }

    pub fn next_frame(callback: impl FnOnce() + 'static) {
        let callback = Closure::once_into_js(callback);
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }
    }

    pub fn after(ms: i32, callback: impl FnOnce() + 'static) {
        let callback = Closure::once_into_js(callback);
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms);
        }
    }

    pub fn now_ms() -> f64 {
        web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0)
    }

    pub fn hash() -> String {
        web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default()
    }

    pub fn pathname() -> String {
        web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default()
    }

    pub fn set_hash(hash: &str) {
        if let Some(window) = web_sys::window() {
            let _ = window.location().set_hash(hash);
        }
    }

    pub fn on_hash_change(callback: impl Fn() + 'static) {
        let callback = Closure::<dyn Fn()>::new(callback);
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("hashchange", callback.as_ref().unchecked_ref());
        }
        // The listener lives as long as the page.
        callback.forget();
    }

    pub fn confirm(message: &str) -> bool {
        web_sys::window().and_then(|w| w.confirm_with_message(message).ok()).unwrap_or(false)
    }

    /// Makes `read` callable from the page's scripts as `window.gitopsLab[name]()` (benchmarks
    /// read the UI's measurements this way).
    pub fn expose_metric(name: &str, read: impl Fn() -> Vec<f64> + 'static) {
        let Some(window) = web_sys::window() else { return };
        let holder = js_sys::Reflect::get(&window, &"gitopsLab".into())
            .ok()
            .filter(|v| v.is_object())
            .unwrap_or_else(|| js_sys::Object::new().into());
        let read =
            Closure::<dyn Fn() -> js_sys::Float64Array>::new(move || js_sys::Float64Array::from(read().as_slice()));
        let _ = js_sys::Reflect::set(&holder, &name.into(), read.as_ref());
        let _ = js_sys::Reflect::set(&window, &"gitopsLab".into(), &holder);
        read.forget();
    }

    /// Records a named timing mark that benchmarks read (`performance.mark`).
    pub fn mark(name: &str) {
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark(name);
        }
    }

    /// Focuses the first element matching a CSS selector, if there is one.
    pub fn focus(selector: &str) {
        let found =
            web_sys::window().and_then(|w| w.document()).and_then(|d| d.query_selector(selector).ok().flatten());
        if let Some(element) = found.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    }

    /// When the focus is on nothing (the page's body: its element left the DOM or was moved),
    /// puts it on the first element matching a selector, without scrolling to it.
    pub fn restore_focus(selector: &str) {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        if document.active_element().is_some_and(|e| e.tag_name() != "BODY") {
            return;
        }
        let found = document.query_selector(selector).ok().flatten();
        if let Some(element) = found.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let options = web_sys::FocusOptions::new();
            options.set_prevent_scroll(true);
            let _ = element.focus_with_options(&options);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub fn stored(_: &str) -> Option<String> {
        None
    }
    pub fn store(_: &str, _: &str) {}
    pub fn set_root_attribute(_: &str, _: &str) {}
    pub fn browser_language() -> Option<String> {
        None
    }
    pub fn copy(_: &str) {}
    pub fn next_frame(callback: impl FnOnce() + 'static) {
        callback()
    }
    pub fn after(_: i32, callback: impl FnOnce() + 'static) {
        callback()
    }
    pub fn now_ms() -> f64 {
        0.0
    }
    pub fn hash() -> String {
        String::new()
    }
    pub fn pathname() -> String {
        String::new()
    }
    pub fn set_hash(_: &str) {}
    pub fn on_hash_change(_: impl Fn() + 'static) {}
    pub fn confirm(_: &str) -> bool {
        false
    }
    pub fn mark(_: &str) {}
    pub fn focus(_: &str) {}
    pub fn restore_focus(_: &str) {}
    pub fn expose_metric(_: &str, _: impl Fn() -> Vec<f64> + 'static) {}
}

pub use imp::*;

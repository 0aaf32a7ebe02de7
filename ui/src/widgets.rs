//! Small components every screen uses: an error in place, a copy button, a command line, a busy mark.

use crate::dom;
use crate::i18n::S;
use crate::protocol::ErrorView;
use crate::state::lab;
use leptos::prelude::*;

/// An engine error shown where the result would have been: what went wrong, what to do, detail.
#[component]
pub fn ErrorBox(error: ErrorView) -> impl IntoView {
    let lab = lab();
    let ErrorView { code, message, hint, detail } = error;
    view! {
        <div class="error-box" role="alert" data-code=code>
            <p class="error-message">{move || lab.text(&message)}</p>
            {hint.map(|hint| view! { <p class="error-hint"><strong>{move || lab.t(S::Hint)}": "</strong>{move || lab.text(&hint)}</p> })}
            {detail.map(|detail| view! {
                <details><summary>{move || lab.t(S::Details)}</summary><pre class="detail">{detail}</pre></details>
            })}
        </div>
    }
}

/// A button that copies a text to the clipboard and says so for a moment.
#[component]
pub fn CopyButton(text: String) -> impl IntoView {
    let lab = lab();
    let copied = RwSignal::new(false);
    let copy = move |_| {
        dom::copy(&text);
        copied.set(true);
        dom::after(1500, move || copied.set(false));
    };
    view! {
        <button class="copy" on:click=copy aria-live="polite">
            {move || if copied.get() { lab.t(S::Copied) } else { lab.t(S::Copy) }}
        </button>
    }
}

/// A command a learner could type, with its copy button.
#[component]
pub fn CommandLine(command: String) -> impl IntoView {
    view! {
        <div class="command-line">
            <code>{format!("$ {command}")}</code>
            <CopyButton text=command />
        </div>
    }
}

/// A busy mark with its words for screen readers.
#[component]
pub fn Busy() -> impl IntoView {
    let lab = lab();
    view! { <span class="busy" role="status"><span class="spinner" aria-hidden="true"></span>{move || lab.t(S::Working)}</span> }
}

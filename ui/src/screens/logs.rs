//! A followed container log for the pod picked in the tree.

use crate::i18n::S;
use crate::model::text_buffer::TextBuffer;
use crate::protocol::{Command, Reply};
use crate::state::{Lab, LogView, lab};
use crate::widgets::ErrorBox;
use leptos::prelude::*;

/// How many log lines are kept on the page.
const LINES_KEPT: usize = 2_000;

/// The log tab.
#[component]
pub fn Logs() -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None);
    let pod = move || lab.selected.get().filter(|o| o.kind == "Pod");
    let follow = move |_| {
        let Some(pod) = pod() else { return };
        leptos::task::spawn_local(async move {
            stop_current(lab).await;
            match lab.call(Command::FollowLogs { pod: pod.clone(), container: None }).await {
                Ok(Reply::Stream(stream)) => {
                    error.set(None);
                    lab.open_logs(LogView { stream, pod, buffer: TextBuffer::new(LINES_KEPT), ended: None });
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let stop = move |_| leptos::task::spawn_local(stop_current(lab));
    view! {
        <Show when=move || pod().is_some() fallback=move || view! { <p class="muted">{move || lab.t(S::PickPod)}</p> }>
            <div class="row-form">
                <span class="mono">{move || pod().map(|p| p.kubectl_name())}</span>
                <button on:click=follow>{move || lab.t(S::Follow)}</button>
                <button on:click=stop disabled=move || lab.logs.with(|l| l.is_none())>{move || lab.t(S::Stop)}</button>
            </div>
        </Show>
        {move || error.get().map(|error| view! { <ErrorBox error /> })}
        {move || lab.logs.with(|logs| logs.as_ref().map(|logs| {
            let ended = logs.ended.clone();
            view! {
                <h4 class="mono">{logs.pod.kubectl_name()}</h4>
                <pre class="output logs" aria-live="off">{logs.buffer.text()}</pre>
                {ended.map(|m| view! { <p class="muted">{move || S::StreamEnded.fill(lab.language.get(), &[&lab.text(&m)])}</p> })}
            }
        }))}
    }
}

/// Stops the followed log (handed the state: it runs in a task, outside any component).
async fn stop_current(lab: Lab) {
    if let Some(stream) = lab.logs.with_untracked(|l| l.as_ref().map(|l| l.stream)) {
        let _ = lab.call(Command::StopStream { stream }).await;
        lab.logs.set(None);
    }
}

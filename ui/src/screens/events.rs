//! The events feed: the cluster's Kubernetes Events for the watched namespaces, newest first.

use crate::i18n::S;
use crate::protocol::{Command, Reply};
use crate::state::lab;
use crate::widgets::ErrorBox;
use leptos::prelude::*;

/// The feed.
#[component]
pub fn Events() -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None);
    leptos::task::spawn_local(async move {
        match lab.call(Command::Events).await {
            Ok(Reply::Events(list)) => lab.events.set(list.into_iter().collect()),
            Ok(_) => {}
            Err(e) => error.set(Some(e)),
        }
    });
    view! {
        {move || error.get().map(|error| view! { <ErrorBox error /> })}
        <Show when=move || !lab.events.with(|e| e.is_empty()) fallback=move || view! { <p class="muted">{move || lab.t(S::NoEvents)}</p> }>
            <ol class="events" aria-live="polite">
                {move || lab.events.get().into_iter().rev().map(|event| view! {
                    <li class="event" class:warning=event.kind == "Warning">
                        <span class="muted small">{event.time.clone()}</span>
                        <strong>{event.reason.clone()}</strong>
                        <span class="mono">{event.object.kubectl_name()}</span>
                        <span>{event.message.clone()}</span>
                        {(event.count > 1).then(|| view! { <span class="muted small">{format!("×{}", event.count)}</span> })}
                    </li>
                }).collect_view()}
            </ol>
        </Show>
    }
}

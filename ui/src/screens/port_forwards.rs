//! Port-forwards as clickable links: a new tab in the browser, the system browser in the desktop.

use crate::i18n::S;
use crate::model::labels;
use crate::protocol::{Command, PortForwardState, PortForwardView, Reply};
use crate::state::lab;
use crate::widgets::{CommandLine, ErrorBox};
use leptos::prelude::*;

/// The list of port-forwards.
#[component]
pub fn PortForwards() -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None);
    leptos::task::spawn_local(async move {
        match lab.call(Command::PortForwards).await {
            Ok(Reply::PortForwards(list)) => lab.port_forwards.set(list),
            Ok(_) => {}
            Err(e) => error.set(Some(e)),
        }
    });
    view! {
        {move || error.get().map(|error| view! { <ErrorBox error /> })}
        <Show when=move || !lab.port_forwards.with(Vec::is_empty) fallback=move || view! { <p class="muted">{move || lab.t(S::NoPortForwards)}</p> }>
            <ul class="port-forwards">
                {move || lab.port_forwards.get().into_iter().map(|pf| view! { <li><PortForwardLink pf /></li> }).collect_view()}
            </ul>
        </Show>
    }
}

/// One port-forward: the link, where it leads, its state, the kubectl command, and stop.
#[component]
pub fn PortForwardLink(pf: PortForwardView) -> impl IntoView {
    let lab = lab();
    let (state, class) = labels::port_forward(&pf.state);
    let reason = match &pf.state {
        PortForwardState::NoPod { reason } => Some(reason.clone()),
        _ => None,
    };
    let url = pf.url.clone();
    let open = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        lab.open_external(&url);
    };
    let id = pf.id;
    let error = RwSignal::new(None::<crate::protocol::ErrorView>);
    let stop = move |_| {
        leptos::task::spawn_local(async move {
            match lab.call(Command::PortForwardStop { id }).await {
                Ok(Reply::PortForward(view)) => lab.port_forwards.update(|list| {
                    if let Some(slot) = list.iter_mut().find(|p| p.id == id) {
                        *slot = view;
                    }
                }),
                Ok(_) => lab.port_forwards.update(|list| list.retain(|p| p.id != id)),
                Err(e) => error.set(Some(e)),
            }
        })
    };
    view! {
        <div class="port-forward" data-id=pf.id.to_string()>
            <a class="pf-link" href=pf.url.clone() target="_blank" rel="noopener noreferrer" on:click=open>{pf.url.clone()}</a>
            <span class="mono small">{format!(" → {}:{}", pf.pod.clone().unwrap_or_else(|| pf.target.kubectl_name()), pf.remote_port)}</span>
            <span class=format!("badge {class}")>{move || match (state, &reason) {
                (Some(state), _) => lab.t(state).to_string(),
                (None, Some(reason)) => lab.text(reason),
                (None, None) => String::new(),
            }}</span>
            <button class="link small" on:click=stop>{move || lab.t(S::Stop)}</button>
            <CommandLine command=pf.kubectl.clone() />
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
        </div>
    }
}

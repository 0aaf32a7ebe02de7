//! The live YAML of the object picked in the tree.

use crate::i18n::S;
use crate::protocol::{Command, ErrorView, Reply};
use crate::state::lab;
use crate::widgets::{Busy, ErrorBox};
use leptos::prelude::*;

/// The YAML tab: fetched when the selection changes, and on request.
#[component]
pub fn Yaml() -> impl IntoView {
    let lab = lab();
    let yaml = RwSignal::new(None::<Result<String, ErrorView>>);
    let fetch = move || {
        let Some(object) = lab.selected.get_untracked() else { return };
        yaml.set(None);
        leptos::task::spawn_local(async move {
            yaml.set(Some(match lab.call(Command::GetYaml { object }).await {
                Ok(Reply::Yaml(text)) => Ok(text),
                Ok(_) => Ok(String::new()),
                Err(e) => Err(e),
            }));
        });
    };
    Effect::new(move |_| {
        lab.selected.track();
        fetch();
    });
    view! {
        <Show when=move || lab.selected.with(Option::is_some) fallback=move || view! { <p class="muted">{move || lab.t(S::PickObject)}</p> }>
            <div class="row-form">
                <span class="mono">{move || lab.selected.get().map(|o| o.kubectl_name())}</span>
                <button on:click=move |_| fetch()>{move || lab.t(S::Refresh)}</button>
            </div>
            {move || match yaml.get() {
                None => view! { <Busy /> }.into_any(),
                Some(Ok(text)) => view! { <pre class="code yaml">{text}</pre> }.into_any(),
                Some(Err(error)) => view! { <ErrorBox error /> }.into_any(),
            }}
        </Show>
    }
}

//! The CI screen: the bump as stages (commit → version → image → manifest patch → commit → sync →
//! rollout → the new version answering), with cancel while it runs.

use crate::i18n::S;
use crate::model::labels;
use crate::protocol::{Command, OperationId, Reply, StageState};
use crate::state::lab;
use crate::widgets::{Busy, ErrorBox};
use leptos::prelude::*;

/// The screen.
#[component]
pub fn CiScreen() -> impl IntoView {
    let lab = lab();
    let message = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let starting = RwSignal::new(false);
    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = message.get_untracked();
        starting.set(true);
        leptos::task::spawn_local(async move {
            let message = (!text.trim().is_empty()).then_some(text);
            match lab.call(Command::CiBump { message }).await {
                Ok(Reply::Operation(_)) | Ok(_) => error.set(None),
                Err(e) => error.set(Some(e)),
            }
            starting.set(false);
        });
    };
    let running = move || {
        lab.ci.with(|run| {
            run.as_ref()
                .is_some_and(|r| r.stages.iter().any(|s| matches!(s.state, StageState::Running | StageState::Pending)))
        })
    };
    let cancel = move |_| {
        let Some(id) = lab.ci.with_untracked(|r| r.as_ref().map(|r| r.id)) else { return };
        leptos::task::spawn_local(async move {
            let _ = lab.call(Command::Cancel { operation: OperationId(id) }).await;
        });
    };
    view! {
        <section class="ci">
            <h2>{move || lab.t(S::ScreenCi)}</h2>
            <form class="row-form" on:submit=run>
                <label>{move || lab.t(S::CommitMessage)}<input type="text" bind:value=message /></label>
                <button type="submit" class="primary" disabled=move || starting.get() || running()>{move || lab.t(S::RunCi)}</button>
                <Show when=running><button type="button" on:click=cancel>{move || lab.t(S::Cancel)}</button></Show>
            </form>
            {move || starting.get().then(|| view! { <Busy /> })}
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
            {move || lab.ci.get().map(|run| view! {
                <ol class="stages" aria-label=move || lab.t(S::CiStages)>
                    {run.stages.into_iter().map(|stage| {
                        let (state, class) = labels::stage_state(stage.state);
                        let name = labels::ci_stage(stage.stage);
                        let text = stage.message.clone();
                        view! {
                            <li class=format!("stage {class}")>
                                <span class=format!("light {class}") aria-hidden="true"></span>
                                <strong>{move || lab.t(name)}</strong>
                                <span class="badge">{move || lab.t(state)}</span>
                                <code class="small">{stage.detail.clone()}</code>
                                <span class="small">{move || lab.text(&text)}</span>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            })}
        </section>
    }
}

//! The cluster bar: which cluster, a live status light, minikube start/stop with streamed progress
//! and cancel, and the connection's error with what to do.

use crate::i18n::S;
use crate::model::labels;
use crate::protocol::{ClusterChoice, ClusterOption, Command, MinikubeOptions, OperationOutcome, Reply};
use crate::state::{Operation, lab};
use crate::widgets::{Busy, ErrorBox};
use leptos::prelude::*;

/// The bar across the top.
#[component]
pub fn ClusterBar() -> impl IntoView {
    let lab = lab();
    let options = RwSignal::new(Vec::<ClusterOption>::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        match lab.call(Command::ListClusters).await {
            Ok(Reply::Clusters(list)) => options.set(list),
            Ok(_) => {}
            Err(e) => error.set(Some(e)),
        }
    });
    let current = move || lab.cluster.with(|c| c.as_ref().map(|c| c.choice.to_arg()));
    let connect = move |ev: leptos::ev::Event| {
        let Some(cluster) = ClusterChoice::from_arg(&event_target_value(&ev)) else { return };
        busy.set(true);
        leptos::task::spawn_local(async move {
            match lab.call(Command::Connect { cluster }).await {
                Ok(Reply::Cluster(status)) => {
                    error.set(None);
                    lab.cluster.set(Some(status));
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let phase = move || lab.cluster.with(|c| c.as_ref().map(|c| labels::phase(c.phase)));
    view! {
        <section class="cluster-bar" aria-label=move || lab.t(S::Cluster)>
            <label>
                <span>{move || lab.t(S::Cluster)}</span>
                <select id="cluster" on:change=connect prop:value=move || current().unwrap_or_default() disabled=move || busy.get()>
                    {move || options.get().into_iter().map(|option| {
                        let value = option.choice.to_arg();
                        let label = option.label.clone();
                        let available = option.available;
                        view! {
                            <option value=value.clone() disabled=!available selected=move || current().as_deref() == Some(value.as_str())>
                                {move || lab.text(&label)}{move || (!available).then(|| lab.t(S::Unavailable))}
                            </option>
                        }
                    }).collect_view()}
                </select>
            </label>
            <div id="cluster-status" class="status" role="status" aria-label=move || lab.t(S::ClusterStatus)>
                <span class=move || format!("light {}", phase().map(|p| p.1).unwrap_or("off")) aria-hidden="true"></span>
                <strong class="phase">{move || phase().map(|p| lab.t(p.0)).unwrap_or_else(|| lab.t(S::Loading))}</strong>
                <span class="message" title=move || lab.cluster.with(|c| c.as_ref().map(|c| {
                    [c.server.clone(), c.version.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ")
                }))>{move || lab.cluster.with(|c| c.as_ref().map(|c| lab.text(&c.message)))}</span>
            </div>
            {move || busy.get().then(|| view! { <Busy /> })}
            <Show when=move || current().as_deref() == Some("minikube")>
                <Minikube error />
            </Show>
            {move || lab.cluster.with(|c| c.as_ref().and_then(|c| c.error.clone())).map(|error| view! { <ErrorBox error /> })}
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
        </section>
    }
}

/// Minikube's buttons and the progress of its latest operation.
#[component]
fn Minikube(error: RwSignal<Option<crate::protocol::ErrorView>>) -> impl IntoView {
    let lab = lab();
    let running = RwSignal::new(None);
    let start = move |command: Command| {
        leptos::task::spawn_local(async move {
            match lab.call(command).await {
                Ok(Reply::Operation(id)) => {
                    error.set(None);
                    running.set(Some(id));
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let operation =
        move || running.get().and_then(|id| lab.operations.with(|ops| ops.iter().find(|op| op.id == id).cloned()));
    view! {
        <div class="minikube">
            <button on:click=move |_| start(Command::MinikubeStart { options: MinikubeOptions::default() })>{move || lab.t(S::MinikubeStart)}</button>
            <button on:click=move |_| start(Command::MinikubeStop)>{move || lab.t(S::MinikubeStop)}</button>
            <button on:click=move |_| start(Command::MinikubeDelete)>{move || lab.t(S::MinikubeDelete)}</button>
            {move || operation().map(|op| view! { <OperationLog op /> })}
        </div>
    }
}

/// A long operation's output lines, its cancel button while it runs, and how it ended.
#[component]
pub fn OperationLog(op: Operation) -> impl IntoView {
    let lab = lab();
    let id = op.id;
    let cancel = move |_| {
        leptos::task::spawn_local(async move {
            let _ = lab.call(Command::Cancel { operation: id }).await;
        })
    };
    let finished = op.outcome.clone();
    view! {
        <div class="operation" aria-live="polite">
            <pre class="output" aria-label=move || lab.t(S::OperationProgress)>{op.lines.join("\n")}</pre>
            {match finished {
                None => view! { <Busy /><button on:click=cancel>{move || lab.t(S::Cancel)}</button> }.into_any(),
                Some(OperationOutcome::Succeeded { message }) => view! { <p class="ok">{move || lab.t(S::OperationDone)}": "{move || lab.text(&message)}</p> }.into_any(),
                Some(OperationOutcome::Failed { error }) => view! { <ErrorBox error /> }.into_any(),
                Some(OperationOutcome::Cancelled) => view! { <p class="muted">{move || lab.t(S::OperationCancelled)}</p> }.into_any(),
            }}
        </div>
    }
}

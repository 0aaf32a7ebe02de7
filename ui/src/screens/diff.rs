//! The diff view: a manifest against the live objects, side by side (live | after apply) and the
//! three-way view (last-applied | live | file) with the engine's reason for every field.

use crate::i18n::S;
use crate::model::diff::{RowKind, side_by_side};
use crate::model::labels;
use crate::protocol::{Command, DiffView, ErrorView, FieldExplanation, ObjectDiff, Reply};
use crate::state::lab;
use crate::widgets::{Busy, ErrorBox};
use leptos::prelude::*;

/// The screen: a manifest editor with Diff and Apply.
#[component]
pub fn DiffScreen() -> impl IntoView {
    let lab = lab();
    let source = RwSignal::new(String::from("manifest.yaml"));
    let manifest = RwSignal::new(String::new());
    let diff = RwSignal::new(None::<Result<DiffView, ErrorView>>);
    let applied = RwSignal::new(None::<Result<(String, bool), ErrorView>>);
    let busy = RwSignal::new(false);
    let run_diff = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let command = Command::Diff { source: source.get_untracked(), manifest: manifest.get_untracked() };
            diff.set(Some(match lab.call(command).await {
                Ok(Reply::Diff(view)) => Ok(view),
                Ok(_) => Ok(DiffView::default()),
                Err(e) => Err(e),
            }));
            busy.set(false);
        });
    };
    let apply = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let command = Command::Apply { source: source.get_untracked(), manifest: manifest.get_untracked() };
            applied.set(Some(match lab.call(command).await {
                Ok(Reply::Output { output, ok }) => Ok((output, ok)),
                Ok(_) => Ok((String::new(), true)),
                Err(e) => Err(e),
            }));
            busy.set(false);
        });
    };
    view! {
        <section class="diff-screen">
            <h2>{move || lab.t(S::ScreenDiff)}</h2>
            <label class="block">{move || lab.t(S::SourceName)}<input type="text" class="mono" bind:value=source /></label>
            <label class="block">{move || lab.t(S::Manifest)}
                <textarea class="mono editor" rows="14" spellcheck="false" bind:value=manifest></textarea>
            </label>
            <div class="buttons">
                <button on:click=run_diff disabled=move || busy.get()>{move || lab.t(S::Diff)}</button>
                <button class="primary" on:click=apply disabled=move || busy.get()>{move || lab.t(S::Apply)}</button>
                {move || busy.get().then(|| view! { <Busy /> })}
            </div>
            {move || applied.get().map(|result| match result {
                Ok((output, ok)) => view! { <pre class="output" class:failed=!ok>{output}</pre> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
            {move || diff.get().map(|result| match result {
                Ok(diff) => view! { <DiffResult diff /> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
        </section>
    }
}

/// Which view of an object's diff is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SideBySide,
    ThreeWay,
    Unified,
}

/// A whole file's diff, one object after another.
#[component]
pub fn DiffResult(diff: DiffView) -> impl IntoView {
    let lab = lab();
    let mode = RwSignal::new(Mode::ThreeWay);
    let tab = move |m: Mode, label: S| {
        view! {
            <button role="tab" aria-selected=move || (mode.get() == m).to_string() on:click=move |_| mode.set(m)>{move || lab.t(label)}</button>
        }
    };
    view! {
        <div class="diff-result">
            <div class="tabs" role="tablist">
                {tab(Mode::ThreeWay, S::ThreeWay)}
                {tab(Mode::SideBySide, S::SideBySide)}
                {tab(Mode::Unified, S::Unified)}
            </div>
            {diff.objects.into_iter().map(|object| view! { <ObjectDiffView object mode /> }).collect_view()}
        </div>
    }
}

#[component]
fn ObjectDiffView(object: ObjectDiff, mode: RwSignal<Mode>) -> impl IntoView {
    let lab = lab();
    let (state, class) = labels::diff_state(object.state);
    let ObjectDiff { object: target, live_yaml, merged_yaml, unified, fields, note, error, .. } = object;
    let live = live_yaml.unwrap_or_default();
    let rows = side_by_side(&live, &merged_yaml);
    let changed: Vec<FieldExplanation> = fields.into_iter().collect();
    view! {
        <section class="object-diff" data-object=target.kubectl_name()>
            <h3><span class="mono">{target.kubectl_name()}</span>" "<span class=format!("badge {class}")>{move || lab.t(state)}</span></h3>
            {note.map(|note| view! { <p class="note">{move || lab.text(&note)}</p> })}
            {error.map(|error| view! { <ErrorBox error /> })}
            {move || match mode.get() {
                Mode::ThreeWay => view! { <ThreeWay fields=changed.clone() /> }.into_any(),
                Mode::SideBySide => view! { <SideBySide rows=rows.clone() /> }.into_any(),
                Mode::Unified => view! { <pre class="code unified">{if unified.is_empty() { lab.t(S::NoDifferences).to_string() } else { unified.clone() }}</pre> }.into_any(),
            }}
        </section>
    }
}

/// The three-way table: one row per field with each side's value, what apply does and why.
#[component]
fn ThreeWay(fields: Vec<FieldExplanation>) -> impl IntoView {
    let lab = lab();
    if fields.is_empty() {
        return view! { <p class="muted">{move || lab.t(S::NoDifferences)}</p> }.into_any();
    }
    let cell = move |value: Option<String>| match value {
        Some(value) => view! { <td class="mono">{value}</td> }.into_any(),
        None => view! { <td class="muted">{move || lab.t(S::Absent)}</td> }.into_any(),
    };
    view! {
        <table class="three-way">
            <thead><tr>
                <th scope="col">{move || lab.t(S::Field)}</th>
                <th scope="col">{move || lab.t(S::LastApplied)}</th>
                <th scope="col">{move || lab.t(S::Live)}</th>
                <th scope="col">{move || lab.t(S::File)}</th>
                <th scope="col">{move || lab.t(S::Outcome)}</th>
                <th scope="col">{move || lab.t(S::Why)}</th>
            </tr></thead>
            <tbody>
                {fields.into_iter().map(|field| {
                    let (outcome, class) = labels::field_outcome(field.outcome);
                    let reason = field.reason.clone();
                    view! {
                        <tr class=format!("field {class}") data-path=field.path.clone()>
                            <th scope="row" class="mono">{field.path.clone()}</th>
                            {cell(field.last_applied.clone())}
                            {cell(field.live.clone())}
                            {cell(field.file.clone())}
                            <td><span class=format!("badge {class}")>{move || lab.t(outcome)}</span></td>
                            <td class="reason">{move || lab.text(&reason)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Live and after-apply YAML aligned line by line.
#[component]
fn SideBySide(rows: Vec<crate::model::diff::SideRow>) -> impl IntoView {
    let lab = lab();
    let side = |line: Option<(usize, String)>| match line {
        Some((number, text)) => view! { <td class="num">{number}</td><td class="mono">{text}</td> }.into_any(),
        None => view! { <td class="num"></td><td></td> }.into_any(),
    };
    view! {
        <table class="side-by-side">
            <thead><tr><th colspan="2" scope="col">{move || lab.t(S::Live)}</th><th colspan="2" scope="col">{move || lab.t(S::AfterApply)}</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let class = match row.kind { RowKind::Same => "same", RowKind::Removed => "removed", RowKind::Added => "added", RowKind::Changed => "changed" };
                    view! { <tr class=class>{side(row.left)}{side(row.right)}</tr> }
                }).collect_view()}
            </tbody>
        </table>
    }
}

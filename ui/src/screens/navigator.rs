//! The chapter navigator: exercises by section with progress marks, the other screens, and reset.

use crate::dom;
use crate::i18n::S;
use crate::model::{exercise::by_section, labels};
use crate::protocol::{Command, ExerciseSummary, Reply};
use crate::state::{Route, lab};
use crate::widgets::ErrorBox;
use leptos::prelude::*;

/// The left column.
#[component]
pub fn Navigator() -> impl IntoView {
    let lab = lab();
    let link = move |route: Route, label: S| {
        let target = route.clone();
        view! {
            <li><a href=route.to_hash() aria-current=move || (lab.route.get() == target).then_some("page")>{move || lab.t(label)}</a></li>
        }
    };
    view! {
        <nav class="navigator" aria-label=move || lab.t(S::MainNavigation)>
            <h2>{move || lab.t(S::Exercises)}</h2>
            <Show when=move || !lab.exercises.with(Vec::is_empty) fallback=move || view! { <p class="muted">{move || lab.t(S::NoExercises)}</p> }>
                {move || by_section(&lab.exercises.get()).into_iter().map(|(section, items)| view! {
                    <h3 class="section">{section}</h3>
                    <ul class="exercises">
                        {items.into_iter().map(|item| view! { <ExerciseLink item /> }).collect_view()}
                    </ul>
                }).collect_view()}
            </Show>
            <ul class="screens">
                {link(Route::Diff, S::ScreenDiff)}
                {link(Route::GitOps, S::ScreenGitOps)}
                {link(Route::Ci, S::ScreenCi)}
            </ul>
        </nav>
    }
}

/// One exercise: its mark, title, progress, and a reset button.
#[component]
fn ExerciseLink(item: ExerciseSummary) -> impl IntoView {
    let lab = lab();
    let route = Route::Exercise(item.id.clone());
    let (status, mark, class) = labels::exercise_status(item.status);
    let error = RwSignal::new(None);
    let id = item.id.clone();
    let reset = move |_| {
        if !dom::confirm(lab.t(S::ResetConfirm)) {
            return;
        }
        let id = id.clone();
        leptos::task::spawn_local(async move {
            match lab.call(Command::ResetExercise { id: id.clone() }).await {
                Ok(_) => {
                    error.set(None);
                    if let Ok(Reply::Exercises(list)) = lab.call(Command::ListExercises).await {
                        lab.exercises.set(list);
                    }
                    if lab.route.get_untracked() == Route::Exercise(id.clone()) {
                        lab.exercise.set(None);
                        lab.route.set(Route::Exercise(id));
                    }
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let current = route.clone();
    let (title, done, steps) = (item.title.clone(), item.done_steps.to_string(), item.steps.to_string());
    view! {
        <li class="exercise" data-id=item.id.clone()>
            <a href=route.to_hash() aria-current=move || (lab.route.get() == current).then_some("page")>
                <span class=format!("mark {class}") aria-hidden="true">{mark}</span>
                <span class="title">{move || lab.text(&title)}</span>
                <span class="sr-only">{move || lab.t(status)}</span>
                <span class="muted small progress">{move || S::StepsDone.fill(lab.language.get(), &[&done, &steps])}</span>
            </a>
            <button class="link small" on:click=reset>{move || lab.t(S::Reset)}</button>
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
        </li>
    }
}

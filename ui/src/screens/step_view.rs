//! The step view: an exercise's explanation, its one-click action, the kubectl command a learner
//! could type instead, the output as kubectl prints it, checks turning green live, and "predict,
//! then run" questions.

use crate::i18n::S;
use crate::model::exercise::{all_met, apply_outcome};
use crate::model::markdown::to_html;
use crate::protocol::{Command, ErrorView, PredictionView, Reply, StepOutcome, StepView as Step};
use crate::screens::diff::DiffResult;
use crate::screens::port_forwards::PortForwardLink;
use crate::state::{Lab, LiveTab, Route, TerminalSession, lab};
use crate::widgets::{Busy, CommandLine, ErrorBox};
use leptos::prelude::*;

/// An exercise, opened by id.
#[component]
pub fn StepView(id: String) -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None::<ErrorView>);
    let current = RwSignal::new(0usize);
    // The exercise open before must not show (nor take clicks meant for this one) while this one
    // loads: its steps would stand in for these until the reply re-renders them.
    if lab.exercise.with_untracked(|e| e.as_ref().is_some_and(|e| e.summary.id != id)) {
        lab.exercise.set(None);
    }
    let open_id = id.clone();
    leptos::task::spawn_local(async move {
        let reply = lab.call(Command::OpenExercise { id: open_id.clone() }).await;
        // A late reply for an exercise the learner already left is dropped.
        if lab.route.with_untracked(|route| *route != Route::Exercise(open_id)) {
            return;
        }
        match reply {
            Ok(Reply::Exercise(view)) => {
                // Set only when it differs: a new value rebuilds the step panel, and with it the
                // prediction the learner may have chosen meanwhile.
                let step = view.current_step.min(view.steps.len().saturating_sub(1));
                if current.get_untracked() != step {
                    current.set(step);
                }
                lab.exercise.set(Some(view));
            }
            Ok(_) => {}
            Err(e) => error.set(Some(e)),
        }
    });
    let (shown, tag) = (id.clone(), id.clone());
    let go = move |step: usize| {
        current.set(step);
        let exercise = id.clone();
        leptos::task::spawn_local(async move {
            let _ = lab.call(Command::GoToStep { exercise, step }).await;
        });
    };
    let go = StoredValue::new(go);
    let loaded = move || lab.exercise.with(|e| e.as_ref().is_some_and(|e| e.summary.id == shown));
    view! {
        <article class="step-view" data-exercise=tag>
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
            <Show when=loaded fallback=move || view! { <Show when=move || error.with(Option::is_none)><Busy /></Show> }>
                <header>
                    <h2>{move || lab.exercise.with(|e| e.as_ref().map(|e| format!("{} · {}", e.summary.section, lab.text(&e.summary.title))))}</h2>
                    <div class="prose" inner_html=move || lab.exercise.with(|e| e.as_ref().map(|e| to_html(&lab.text(&e.intro))))></div>
                </header>
                <nav class="stepper" aria-label=move || lab.t(S::StepList)>
                    <ol>
                        {move || lab.exercise.with(|e| e.as_ref().map(|e| e.steps.iter().enumerate().map(|(index, step)| {
                            let title = step.title.clone();
                            let done = step.done;
                            // A compact pill per step: its number (and a tick); the full title for
                            // screen readers and on hover.
                            let label = move || format!("{}: {}", S::Step.fill(lab.language.get(), &[&(index + 1).to_string()]), lab.text(&title));
                            view! {
                                <li class:done=done>
                                    <button aria-current=move || (current.get() == index).then_some("step") on:click=move |_| go.with_value(|go| go(index))
                                        title=label.clone() aria-label=label>
                                        {format!("{}{}", index + 1, if done { " ✓" } else { "" })}
                                    </button>
                                </li>
                            }
                        }).collect_view()))}
                    </ol>
                </nav>
                {move || {
                    let index = current.get();
                    let count = lab.exercise.with_untracked(|e| e.as_ref().map(|e| e.steps.len()).unwrap_or(0));
                    view! {
                        <StepPanel index />
                        <div class="step-nav">
                            <button disabled={index == 0} on:click=move |_| go.with_value(|go| go(index.saturating_sub(1)))>{move || lab.t(S::Previous)}</button>
                            <button class="primary" disabled={index + 1 >= count} on:click=move |_| go.with_value(|go| go(index + 1))>{move || lab.t(S::Next)}</button>
                        </div>
                    }
                }}
            </Show>
        </article>
    }
}

/// One step: explanation, prediction, action, commands, outcome, checks.
#[component]
fn StepPanel(index: usize) -> impl IntoView {
    let lab = lab();
    let step = move || lab.exercise.with(|e| e.as_ref().and_then(|e| e.steps.get(index).cloned()));
    let Some(initial) = lab.exercise.with_untracked(|e| e.as_ref().and_then(|e| e.steps.get(index).cloned())) else {
        return ().into_any();
    };
    let outcome = RwSignal::new(None::<StepOutcome>);
    let failure = RwSignal::new(None::<ErrorView>);
    let running = RwSignal::new(false);
    let exercise_id = lab.exercise.with_untracked(|e| e.as_ref().map(|e| e.summary.id.clone()).unwrap_or_default());
    let run = {
        let exercise = exercise_id.clone();
        move |_| {
            if running.get_untracked() {
                return;
            }
            let exercise = exercise.clone();
            running.set(true);
            let sent = lab.check_time();
            leptos::task::spawn_local(async move {
                match lab.call(Command::RunStep { exercise: exercise.clone(), step: index }).await {
                    Ok(Reply::StepOutcome(result)) => {
                        failure.set(None);
                        lab.exercise.update(|e| {
                            if let Some(e) = e {
                                apply_outcome(e, index, &result, |id| {
                                    lab.check_changed_since(&exercise, index, id, sent)
                                })
                            }
                        });
                        follow_outcome(lab, &result);
                        outcome.set(Some(result));
                    }
                    Ok(_) => {}
                    Err(e) => failure.set(Some(e)),
                }
                running.set(false);
            });
        }
    };
    let Step { title, text, action, kubectl, prediction, hint, solution, .. } = initial;
    let checks = move || step().map(|s| s.checks).unwrap_or_default();
    view! {
        <section class="step" aria-labelledby="step-title">
            <h3 id="step-title">{move || S::Step.fill(lab.language.get(), &[&(index + 1).to_string()])}": "{move || lab.text(&title)}</h3>
            <div class="prose" inner_html=move || to_html(&lab.text(&text))></div>
            {prediction.map(|p| view! { <Prediction exercise=exercise_id.clone() step=index prediction=p /> })}
            {action.map(|action| {
                let label = action.label.clone();
                view! {
                    <div class="action">
                        {(!action.files.is_empty()).then(|| view! {
                            <details class="files"><summary>{move || lab.t(S::Files)}</summary>
                                {action.files.iter().map(|f| view! { <h4 class="file-name">{f.name.clone()}</h4><pre class="code">{f.content.clone()}</pre> }).collect_view()}
                            </details>
                        })}
                        <button class="primary run" data-kind=action.kind.clone() on:click=run aria-disabled=move || running.get().then_some("true")>{move || lab.text(&label)}</button>
                        {move || running.get().then(|| view! { <Busy /> })}
                    </div>
                }
            })}
            {(!kubectl.is_empty()).then(|| view! {
                <div class="kubectl">
                    <h4>{move || lab.t(S::Equivalent)}</h4>
                    {kubectl.iter().map(|line| view! { <CommandLine command=line.clone() /> }).collect_view()}
                    <KubectlPrompt initial=kubectl.first().cloned().unwrap_or_default() />
                </div>
            })}
            {move || failure.get().map(|error| view! { <ErrorBox error /> })}
            {move || outcome.get().map(|result| view! { <Outcome result /> })}
            <Checks checks=Signal::derive(checks) />
            {hint.map(|hint| view! { <details class="hint"><summary>{move || lab.t(S::ShowHint)}</summary><div class="prose" inner_html=move || to_html(&lab.text(&hint))></div></details> })}
            {solution.map(|s| view! { <details class="solution"><summary>{move || lab.t(S::ShowSolution)}</summary><div class="prose" inner_html=move || to_html(&lab.text(&s))></div></details> })}
        </section>
    }
    .into_any()
}

/// After an action: a terminal action opens the terminal, a port-forward joins the list. (It runs
/// after an await, outside any component, so it is handed the state instead of reading context.)
fn follow_outcome(lab: Lab, result: &StepOutcome) {
    if let Some(pf) = &result.port_forward {
        let pf = pf.clone();
        lab.port_forwards.update(|list| {
            list.retain(|p| p.id != pf.id);
            list.push(pf);
        });
    }
    if let Some(stream) = result.stream {
        let pod =
            lab.selected.get_untracked().unwrap_or_else(|| crate::protocol::ObjectRef::new("v1", "Pod", None, ""));
        lab.open_terminal(TerminalSession { stream, pod, ended: None });
        lab.live_tab.set(LiveTab::Terminal);
    }
}

/// What the action did: kubectl's output, a sentence, and what it opened.
#[component]
fn Outcome(result: StepOutcome) -> impl IntoView {
    let lab = lab();
    let StepOutcome { output, message, error, diff, port_forward, stream, .. } = result;
    view! {
        <div class="outcome" aria-live="polite">
            {(!output.is_empty()).then(|| view! { <h4>{move || lab.t(S::Output)}</h4><pre class="output">{output}</pre> })}
            {(!message.is_empty()).then(|| view! { <p class="message">{move || lab.text(&message)}</p> })}
            {error.map(|error| view! { <ErrorBox error /> })}
            {diff.map(|diff| view! { <DiffResult diff /> })}
            {port_forward.map(|pf| view! { <PortForwardLink pf /> })}
            {stream.map(|_| view! { <button on:click=move |_| lab.live_tab.set(LiveTab::Terminal)>{move || lab.t(S::OpenTerminal)}</button> })}
        </div>
    }
}

/// The step's checks, updated live by the engine.
#[component]
fn Checks(checks: Signal<Vec<crate::protocol::CheckView>>) -> impl IntoView {
    let lab = lab();
    view! {
        <div class="checks" class:all-met=move || all_met(&checks.get())>
            <h4>{move || lab.t(S::Checks)}{move || all_met(&checks.get()).then(|| format!(" — {}", lab.t(S::StepDone)))}</h4>
            <ul aria-live="polite">
                {move || checks.get().into_iter().map(|check| {
                    let (description, reason) = (check.description.clone(), check.reason.clone());
                    view! {
                        <li class="check" class:met=check.met data-id=check.id.clone()>
                            <span class="mark" aria-hidden="true">{if check.met { "✓" } else { "○" }}</span>
                            <span>{move || lab.text(&description)}</span>
                            <span class="sr-only">{move || lab.t(if check.met { S::CheckMet } else { S::CheckPending })}</span>
                            {(!reason.is_empty()).then(|| view! { <span class="muted small reason">{move || lab.text(&reason)}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// A "predict, then run" question.
#[component]
fn Prediction(exercise: String, step: usize, prediction: PredictionView) -> impl IntoView {
    let lab = lab();
    let choice = RwSignal::new(prediction.answered);
    let verdict = RwSignal::new(prediction.correct.zip(prediction.explanation.clone()));
    let error = RwSignal::new(None);
    let answer = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(choice) = choice.get_untracked() else { return };
        let exercise = exercise.clone();
        leptos::task::spawn_local(async move {
            match lab.call(Command::Predict { exercise, step, choice }).await {
                Ok(Reply::Prediction(result)) => verdict.set(Some((result.correct, result.explanation))),
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let question = prediction.question.clone();
    view! {
        <form class="prediction" on:submit=answer>
            <fieldset>
                <legend>{move || lab.t(S::Predict)}": "{move || lab.text(&question)}</legend>
                {prediction.choices.into_iter().enumerate().map(|(index, text)| view! {
                    <label class="choice">
                        <input type="radio" name=format!("predict-{step}") prop:checked=move || choice.get() == Some(index) on:change=move |_| choice.set(Some(index)) />
                        {move || lab.text(&text)}
                    </label>
                }).collect_view()}
            </fieldset>
            <button type="submit" disabled=move || choice.get().is_none()>{move || lab.t(S::Answer)}</button>
            {move || verdict.get().map(|(correct, explanation)| view! {
                <p class=if correct { "ok" } else { "warn" } role="status">
                    <strong>{move || lab.t(if correct { S::Right } else { S::Wrong })}</strong>" "{move || lab.text(&explanation)}
                </p>
            })}
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
        </form>
    }
}

/// A kubectl line the learner can edit and run through the engine.
#[component]
fn KubectlPrompt(initial: String) -> impl IntoView {
    let lab = lab();
    let line = RwSignal::new(initial);
    let result = RwSignal::new(None::<Result<(String, bool), ErrorView>>);
    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let line = line.get_untracked();
        leptos::task::spawn_local(async move {
            result.set(Some(match lab.call(Command::Kubectl { line }).await {
                Ok(Reply::Output { output, ok }) => Ok((output, ok)),
                Ok(_) => Ok((String::new(), true)),
                Err(e) => Err(e),
            }));
        });
    };
    view! {
        <form class="kubectl-prompt" on:submit=run>
            <label>
                <span>{move || lab.t(S::TypeIt)}</span>
                <input type="text" class="mono" bind:value=line spellcheck="false" autocomplete="off" aria-label=move || lab.t(S::KubectlLine) />
            </label>
            <button type="submit">{move || lab.t(S::Run)}</button>
        </form>
        {move || result.get().map(|r| match r {
            Ok((output, ok)) => view! { <pre class="output" class:failed=!ok>{output}</pre> }.into_any(),
            Err(error) => view! { <ErrorBox error /> }.into_any(),
        })}
    }
}

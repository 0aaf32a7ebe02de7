//! The frame: banner, cluster bar, navigator, the main screen and the live panel.

use crate::i18n::S;
use crate::screens::{ci::CiScreen, cluster_bar::ClusterBar, diff::DiffScreen, gitops::GitOpsScreen, live::LivePanel};
use crate::screens::{navigator::Navigator, settings::Settings, step_view::StepView};
use crate::state::{Lab, Route, lab};
use crate::transport::{Link, Transport, UNAUTHORIZED};
use crate::widgets::ErrorBox;
use leptos::prelude::*;
use std::rc::Rc;

/// The whole page around a transport.
#[component]
pub fn App(transport: Rc<dyn Transport>) -> impl IntoView {
    let lab = Lab::new(transport);
    provide_context(lab);
    lab.start();
    let main = NodeRef::<leptos::html::Main>::new();
    // The skip link moves focus without touching the address: the hash names the screen.
    let skip = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        if let Some(main) = main.get() {
            let _ = main.focus();
        }
    };
    view! {
        <a class="skip" href="#main" on:click=skip>{move || lab.t(S::SkipToContent)}</a>
        <LinkBanner />
        <header class="top">
            <h1 class="brand">{move || lab.t(S::AppTitle)}</h1>
            <ClusterBar />
            <Settings />
        </header>
        <div class="body">
            <Navigator />
            <main id="main" tabindex="-1" node_ref=main>
                <Notices />
                {move || lab.hello_error.get().map(|error| view! { <ErrorBox error /> })}
                {move || match lab.route.get() {
                    Route::Home => view! { <Home /> }.into_any(),
                    Route::Exercise(id) => view! { <StepView id /> }.into_any(),
                    Route::Diff => view! { <DiffScreen /> }.into_any(),
                    Route::GitOps => view! { <GitOpsScreen /> }.into_any(),
                    Route::Ci => view! { <CiScreen /> }.into_any(),
                }}
            </main>
            <LivePanel />
        </div>
    }
}

/// Workshop mode's instructor board: the same state (language, theme) without a session of its own.
#[component]
pub fn BoardApp(transport: Rc<dyn Transport>) -> impl IntoView {
    provide_context(Lab::new(transport));
    view! { <crate::screens::board::Board /> }
}

/// The banner shown while the event stream is down (and briefly once it is back).
#[component]
fn LinkBanner() -> impl IntoView {
    let lab = lab();
    let unauthorized = move || lab.hello_error.with(|e| e.as_ref().is_some_and(|e| e.code == UNAUTHORIZED));
    view! {
        <Show when=move || lab.link.get() == Some(Link::Down) && !unauthorized()>
            <div class="banner" role="alert">{move || lab.t(S::LinkLost)}</div>
        </Show>
    }
}

/// Engine notices (the sandbox restarted, …), dismissible.
#[component]
fn Notices() -> impl IntoView {
    let lab = lab();
    view! {
        <div class="notices" aria-live="polite">
            {move || lab.notices.get().into_iter().enumerate().map(|(index, (level, message))| view! {
                <div class=format!("notice {level}")>
                    <span>{move || lab.text(&message)}</span>
                    <button class="link" on:click=move |_| lab.notices.update(|list| { if index < list.len() { list.remove(index); } })>
                        {move || lab.t(S::Dismiss)}
                    </button>
                </div>
            }).collect_view()}
        </div>
    }
}

/// The first page: a welcome and where to resume.
#[component]
fn Home() -> impl IntoView {
    let lab = lab();
    view! {
        <section class="home">
            <h2>{move || lab.t(S::Chapter)}</h2>
            <p>{move || lab.t(S::Welcome)}</p>
            {move || lab.resume.get().map(|(id, _)| {
                let target = id.clone();
                view! { <button class="primary" on:click=move |_| lab.go(Route::Exercise(target.clone()))>{move || lab.t(S::Resume)}" → "{id.clone()}</button> }
            })}
            <p class="muted small">{move || S::Version.fill(lab.language.get(), &[&lab.version.get()])}</p>
        </section>
    }
}

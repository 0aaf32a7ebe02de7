//! Language and theme switches; both choices are remembered in the browser's storage.

use crate::dom;
use crate::i18n::S;
use crate::protocol::Language;
use crate::state::lab;
use leptos::prelude::*;

/// The language button and the theme choice.
#[component]
pub fn Settings() -> impl IntoView {
    let lab = lab();
    let theme = RwSignal::new(dom::stored("gitops-lab.theme").unwrap_or_else(|| "system".into()));
    Effect::new(move |_| {
        let theme = theme.get();
        dom::set_root_attribute("data-theme", &theme);
        dom::store("gitops-lab.theme", &theme);
    });
    let toggle = move |_| {
        let next = match lab.language.get_untracked() {
            Language::English => Language::Chinese,
            Language::Chinese => Language::English,
        };
        lab.set_language(next);
    };
    view! {
        <div class="settings">
            <button id="language" on:click=toggle lang=move || match lab.language.get() { Language::English => "zh-CN", Language::Chinese => "en" }>
                {move || lab.t(S::SwitchLanguage)}
            </button>
            <label class="theme">
                <span class="sr-only">{move || lab.t(S::Theme)}</span>
                <select on:change=move |ev| theme.set(event_target_value(&ev)) prop:value=move || theme.get()>
                    <option value="system">{move || lab.t(S::ThemeSystem)}</option>
                    <option value="light">{move || lab.t(S::ThemeLight)}</option>
                    <option value="dark">{move || lab.t(S::ThemeDark)}</option>
                </select>
            </label>
        </div>
    }
}

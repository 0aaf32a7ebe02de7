//! The live panel: tabs over the resource tree, events, logs, YAML, the terminal and port-forwards.

use crate::i18n::S;
use crate::screens::{
    events::Events, logs::Logs, port_forwards::PortForwards, terminal::Terminal, tree::Tree, yaml::Yaml,
};
use crate::state::{LiveTab, lab};
use leptos::prelude::*;

const TABS: [(LiveTab, S, &str); 6] = [
    (LiveTab::Tree, S::TabTree, "tree"),
    (LiveTab::Events, S::TabEvents, "events"),
    (LiveTab::Logs, S::TabLogs, "logs"),
    (LiveTab::Yaml, S::TabYaml, "yaml"),
    (LiveTab::Terminal, S::TabTerminal, "terminal"),
    (LiveTab::Ports, S::TabPorts, "ports"),
];

/// The right-hand column.
#[component]
pub fn LivePanel() -> impl IntoView {
    let lab = lab();
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    let keys = move |ev: leptos::ev::KeyboardEvent| {
        let position = TABS.iter().position(|(tab, _, _)| *tab == lab.live_tab.get_untracked()).unwrap_or(0);
        let next = match ev.key().as_str() {
            "ArrowRight" => (position + 1) % TABS.len(),
            "ArrowLeft" => (position + TABS.len() - 1) % TABS.len(),
            _ => return,
        };
        ev.prevent_default();
        lab.live_tab.set(TABS[next].0);
        if let Some(button) = leptos::prelude::document().get_element_by_id(&format!("tab-{}", TABS[next].2)) {
            let _ = wasm_bindgen::JsCast::unchecked_into::<web_sys::HtmlElement>(button).focus();
        }
    };
    view! {
        <aside class="live" aria-label=move || lab.t(S::LiveViews)>
            <div class="tabs" role="tablist" on:keydown=keys>
                {TABS.iter().map(|(tab, label, id)| {
                    let tab = *tab;
                    let label = *label;
                    view! {
                        <button role="tab" id=format!("tab-{id}") aria-controls="live-panel"
                            aria-selected=move || (lab.live_tab.get() == tab).to_string()
                            tabindex=move || if lab.live_tab.get() == tab { "0" } else { "-1" }
                            on:click=move |_| lab.live_tab.set(tab)>
                            {move || lab.t(label)}
                        </button>
                    }
                }).collect_view()}
            </div>
            <div id="live-panel" role="tabpanel" class="tab-panel">
                // The terminal stays mounted so that switching tabs keeps its screen.
                <div class:hidden=move || lab.live_tab.get() != LiveTab::Terminal><Terminal /></div>
                {move || match lab.live_tab.get() {
                    LiveTab::Tree => view! { <Tree /> }.into_any(),
                    LiveTab::Events => view! { <Events /> }.into_any(),
                    LiveTab::Logs => view! { <Logs /> }.into_any(),
                    LiveTab::Yaml => view! { <Yaml /> }.into_any(),
                    LiveTab::Terminal => ().into_any(),
                    LiveTab::Ports => view! { <PortForwards /> }.into_any(),
                }}
            </div>
        </aside>
    }
}

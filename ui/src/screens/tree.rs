//! The live resource tree: objects by owner with health colours and status, updated from watch
//! events at most once per animation frame.
//!
//! Each node has its own signal, so a status change repaints one row. The model keeps the rows in
//! order as objects arrive, leave or change owner (moving only those rows), and a large tree renders
//! only the rows in view, keyed by id, so a frame's work follows the deltas and the window, not the
//! size of the tree. Deltas that arrive between two frames are folded in together, at most
//! `DELTAS_PER_FRAME` a frame (the rest wait, in order, for the next frames).
//!
//! Keyboard: the arrow keys, Home and End move the focus by row; the focused row stays rendered when
//! it scrolls out of the window, and every row states its level and its place among its siblings
//! (`aria-level`, `aria-posinset`, `aria-setsize`) since the DOM holds only a slice of the tree.

use crate::dom;
use crate::i18n::S;
use crate::model::frame_queue::FrameQueue;
use crate::model::graph::{Applied, GraphModel, TreeRow};
use crate::model::labels;
use crate::model::tree_order::TreeOrder;
use crate::protocol::{Command, GraphDelta, GraphNode, GraphSnapshot, Reply};
use crate::state::{Lab, LiveTab, lab};
use crate::widgets::ErrorBox;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::CustomAttribute;
use std::collections::{HashMap, HashSet};

/// At most this many deltas are folded in per animation frame; the rest wait, in order, for the
/// next frames, so a burst of hundreds cannot make one long frame that every delta waits behind.
const DELTAS_PER_FRAME: usize = 64;
/// At most this many objects arriving in one frame get the arrival animation.
const ARRIVALS_ANIMATED: usize = 20;
/// From this many rows on, only the rows in view (and a margin) are in the DOM: a burst of a
/// thousand pods then inserts a few dozen elements instead of a thousand. Not higher: when several
/// rows arrive in one frame at different places, the keyed list's diff also moves many of the rows
/// between them in the DOM (a 1,000-pod burst moved 1,045 rows while the tree was under 300 rows and
/// fully rendered), so the fewer rows rendered, the fewer moved.
const WINDOW_FROM: usize = 100;
/// A row's height when windowed (fixed in `style.css`, `.tree.windowed .tree-item`).
const ROW_PX: f64 = 32.0;
/// Rows kept above and below the view, so scrolling and Tab find rows already there. Few: every row
/// in the window is re-rendered or moved when rows arrive above it (20 rows put half as many again
/// into the DOM during a 1,000-pod burst; docs/benchmarks.md).
const OVERSCAN: usize = 8;

/// The rows to render, `first..last`, for a list of `len` rows scrolled to `top` in a view `height` high.
fn window(len: usize, top: f64, height: f64) -> (usize, usize) {
    if len < WINDOW_FROM {
        return (0, len);
    }
    let first = ((top.max(0.0) / ROW_PX) as usize).saturating_sub(OVERSCAN).min(len);
    let last = (first + (height.max(0.0) / ROW_PX).ceil() as usize + 2 * OVERSCAN).min(len);
    (first, last)
}

/// The tree's state: the model, one signal per node, and the rows.
#[derive(Clone, Copy)]
pub struct TreeState {
    model: StoredValue<GraphModel, LocalStorage>,
    cells: StoredValue<HashMap<String, RwSignal<GraphNode>>, LocalStorage>,
    /// Nodes that arrived while the tree was on screen (they get the arrival animation).
    arrived: StoredValue<HashSet<String>, LocalStorage>,
    /// Deltas received and not yet folded in, with when each arrived.
    pending: StoredValue<FrameQueue<(GraphDelta, f64)>, LocalStorage>,
    /// Milliseconds from receiving a delta to the frame that painted it, most recent last.
    latencies: StoredValue<Vec<f64>, LocalStorage>,
    /// Bumped whenever rows arrive, leave or move (the rows themselves are in the model).
    layout: RwSignal<u64>,
    /// The row holding the keyboard focus (kept rendered while it is out of the window).
    focused: RwSignal<Option<String>>,
    /// Whether the focus is in the tree: then a re-render that drops it puts it back on that row.
    keep_focus: StoredValue<bool>,
    /// The namespaces watched.
    pub namespaces: RwSignal<Vec<String>>,
    /// Why the graph could not be fetched.
    pub error: RwSignal<Option<crate::protocol::ErrorView>>,
}

impl TreeState {
    /// An empty tree.
    pub fn new() -> TreeState {
        TreeState {
            model: StoredValue::new_local(GraphModel::default()),
            cells: StoredValue::new_local(HashMap::new()),
            arrived: StoredValue::new_local(HashSet::new()),
            pending: StoredValue::new_local(FrameQueue::new(DELTAS_PER_FRAME)),
            latencies: StoredValue::new_local(Vec::new()),
            layout: RwSignal::new(0),
            focused: RwSignal::new(None),
            keep_focus: StoredValue::new(false),
            namespaces: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
        }
    }

    /// Asks the engine for the whole graph.
    pub async fn refresh(self, lab: Lab) {
        match lab.call(Command::Graph).await {
            Ok(Reply::Graph(snapshot)) => {
                self.error.set(None);
                self.reset(snapshot);
            }
            Ok(_) => {}
            Err(error) => self.error.set(Some(error)),
        }
    }

    /// Replaces the tree with a snapshot.
    pub fn reset(self, snapshot: GraphSnapshot) {
        self.pending.update_value(FrameQueue::clear);
        self.namespaces.set(snapshot.namespaces.clone());
        self.model.update_value(|model| model.reset(snapshot));
        self.arrived.update_value(HashSet::clear);
        let fresh: HashMap<String, RwSignal<GraphNode>> = self.model.with_value(|model| {
            model
                .rows()
                .iter()
                .filter_map(|row| model.node(&row.id))
                .map(|n| (n.id.clone(), RwSignal::new(n.clone())))
                .collect()
        });
        self.cells.set_value(fresh);
        self.layout.update(|n| *n += 1);
    }

    /// Queues a delta; the next animation frame folds in the oldest queued (a bounded share).
    pub fn push(self, lab: Lab, delta: GraphDelta) {
        let ask = self.pending.try_update_value(|queue| queue.push((delta, dom::now_ms()))).unwrap_or(false);
        if ask {
            dom::next_frame(move || self.flush(lab));
        }
    }

    /// Folds in this frame's share of the queued deltas (asking for another frame for the rest),
    /// then updates the rows they touched. Longer than most functions here: it is one pass over the
    /// frame's deltas that gathers what changed for the signals after it.
    fn flush(self, lab: Lab) {
        let (queue, again) = self.pending.try_update_value(FrameQueue::take_frame).unwrap_or_default();
        let received: Vec<f64> = queue.iter().map(|(_, at)| *at).collect();
        let mut structure = false;
        let mut gap = false;
        let mut touched = HashSet::new();
        let mut added = Vec::new();
        for (delta, _) in queue {
            match self.model.try_update_value(|model| model.apply(delta)).unwrap_or(Applied::Gap) {
                Applied::Gap => {
                    // The snapshot asked for below holds every later change: what waits is stale.
                    self.pending.update_value(FrameQueue::clear);
                    gap = true;
                    break;
                }
                Applied::Changed(change) => {
                    structure |= change.structure;
                    added.extend(change.added.iter().cloned());
                    let gone: Vec<_> = self
                        .cells
                        .try_update_value(|cells| change.removed.iter().filter_map(|id| cells.remove(id)).collect())
                        .unwrap_or_default();
                    // Rows still showing them go away with this frame's render; free them after it
                    // (two frames asked for only when there is something to free: a burst of
                    // arrivals asked for two empty frame callbacks per delta).
                    if !gone.is_empty() {
                        dom::next_frame(move || {
                            dom::next_frame(move || {
                                gone.into_iter().for_each(|cell: RwSignal<GraphNode>| cell.dispose())
                            })
                        });
                    }
                    touched.extend(change.updated);
                }
            }
        }
        // The rest in the next frame, asked for after this frame's share is applied (outside a browser
        // `next_frame` runs at once, and the order must hold there too); asked for even after a gap,
        // since the queue counts on that frame for what arrives meanwhile.
        if again {
            dom::next_frame(move || self.flush(lab));
        }
        // A few arrivals are animated so the eye finds them; a burst is not (hundreds of rows
        // animating at once cost whole frames and show nothing one can follow).
        if added.len() <= ARRIVALS_ANIMATED {
            self.arrived.update_value(|arrived| arrived.extend(added));
        }
        if gap {
            leptos::task::spawn_local(async move { self.refresh(lab).await });
            return;
        }
        for id in touched {
            let Some(node) = self.model.with_value(|model| model.node(&id).cloned()) else { continue };
            let existing = self.cells.with_value(|cells| cells.get(&id).copied());
            match existing {
                Some(cell) => cell.set(node),
                None => self.cells.update_value(|cells| {
                    cells.insert(id, RwSignal::new(node));
                }),
            }
        }
        if structure {
            self.layout.update(|n| *n += 1);
        }
        // Painted in the frame after this one's DOM changes: record how long each delta waited.
        dom::next_frame(move || {
            let now = dom::now_ms();
            self.latencies.update_value(|list| {
                list.extend(received.iter().map(|at| now - at));
                let excess = list.len().saturating_sub(10_000);
                list.drain(..excess);
            });
        });
    }

    /// Delta-to-paint latencies recorded so far, in milliseconds (read by the benchmarks).
    pub fn latencies(self) -> Vec<f64> {
        self.latencies.get_value()
    }

    fn cell(self, id: &str) -> Option<RwSignal<GraphNode>> {
        self.cells.with_value(|cells| cells.get(id).copied())
    }

    /// Reads the rows' order (tracking the layout: re-run when rows arrive, leave or move).
    fn with_order<T>(self, read: impl FnOnce(&TreeOrder) -> T) -> T {
        self.layout.track();
        self.model.with_value(|model| read(model.order()))
    }

    fn arrived_live(self, id: &str) -> bool {
        self.arrived.with_value(|arrived| arrived.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_trees_render_every_row() {
        assert_eq!(window(WINDOW_FROM - 1, 5_000.0, 600.0), (0, WINDOW_FROM - 1));
    }

    #[test]
    fn large_trees_render_the_rows_in_view_and_a_margin() {
        // 600 px at 32 px a row is 19 rows in view; scrolled to row 100.
        assert_eq!(window(1_000, 100.0 * ROW_PX, 600.0), (100 - OVERSCAN, 100 + 19 + OVERSCAN));
        assert_eq!(window(1_000, 0.0, 600.0), (0, 19 + 2 * OVERSCAN));
        let (first, last) = window(1_000, 1e9, 600.0);
        assert!(first <= last && last == 1_000);
    }
}

impl Default for TreeState {
    fn default() -> Self {
        Self::new()
    }
}

/// The tree panel: the namespaces watched, then one row per object.
#[component]
pub fn Tree() -> impl IntoView {
    let lab = lab();
    let tree = lab.tree;
    let namespaces = RwSignal::new(String::new());
    Effect::new(move |_| namespaces.set(tree.namespaces.get().join(", ")));
    let watch = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> =
            namespaces.get_untracked().split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        leptos::task::spawn_local(async move {
            match lab.call(Command::WatchNamespaces { namespaces: list }).await {
                Ok(_) => tree.refresh(lab).await,
                Err(error) => tree.error.set(Some(error)),
            }
        });
    };
    // Scroll position and height of the list's own scroller (used only when windowed).
    let scroll = RwSignal::new((0.0_f64, 800.0_f64));
    let scroller = NodeRef::<Div>::new();
    let on_scroll = move |ev: leptos::ev::Event| {
        let el: web_sys::Element = event_target(&ev);
        scroll.set((f64::from(el.scroll_top()), f64::from(el.client_height())));
    };
    let count = Memo::new(move |_| tree.with_order(TreeOrder::len));
    let windowed = move || count.get() >= WINDOW_FROM;
    let span = Memo::new(move |_| {
        let (top, height) = scroll.get();
        window(count.get(), top, height)
    });
    let shown = move || tree.shown(span.get());
    // Rows not rendered still take their room, so the scrollbar and positions stay true. The list
    // also never gets shorter than all its rows: the window's padding and rows change in separate
    // DOM steps, and a moment in between with the list shorter made the browser pull a scroll to
    // the end back (then the window settled there, its last rows never rendered).
    let padding = move || {
        let (first, last) = span.get();
        let (len, after) = (count.get(), count.get() - last);
        let (top, bottom, all) = (first as f64 * ROW_PX, after as f64 * ROW_PX, len as f64 * ROW_PX);
        format!("padding-top: {top}px; padding-bottom: {bottom}px; min-height: {all}px; box-sizing: border-box")
    };
    let pods = Memo::new(move |_| tree.with_order(TreeOrder::pods));
    let on_key = move |ev: leptos::ev::KeyboardEvent| tree.key(&ev, scroller, scroll);
    tree.hold_focus(span, count);
    view! {
        <form class="row-form" on:submit=watch>
            <label>
                {move || lab.t(S::Namespaces)}
                <input type="text" bind:value=namespaces spellcheck="false" />
            </label>
            <button type="submit">{move || lab.t(S::Watch)}</button>
        </form>
        {move || tree.error.get().map(|error| view! { <ErrorBox error /> })}
        <Show when=move || count.get() != 0 fallback=move || view! { <p class="muted">{move || lab.t(S::EmptyTree)}</p> }>
            <div class:tree-scroll=windowed on:scroll=on_scroll node_ref=scroller>
                <ul class="tree" class:windowed=windowed role="tree" aria-label=move || lab.t(S::ResourceTree)
                    style=padding data-rows=move || count.get() data-pods=move || pods.get() on:keydown=on_key
                    on:focusin=move |_| tree.keep_focus.set_value(true) on:focusout=move |ev| tree.focus_out(&ev)>
                    <For each=shown key=|row| row.clone() let:row>
                        <TreeItem row span />
                    </For>
                </ul>
            </div>
        </Show>
    }
}

impl TreeState {
    /// The window's rows, and the focused row wherever it is (so the focus stays on it).
    fn shown(self, (first, last): (usize, usize)) -> Vec<TreeRow> {
        let focused = self.focused.get();
        self.with_order(|order| {
            let mut rows = order.slice(first, last);
            let outside = focused.as_deref().and_then(|id| order.index_of(id)).filter(|at| !(first..last).contains(at));
            match outside {
                Some(at) if at < first => rows.splice(0..0, order.slice(at, at + 1)).for_each(drop),
                Some(at) => rows.extend(order.slice(at, at + 1)),
                None => {}
            }
            rows
        })
    }

    /// The keyed list may move the focused row's element when the window jumps (moving it drops the
    /// focus to the page): after each render, the focus goes back to that row if it was in the tree.
    fn hold_focus(self, span: Memo<(usize, usize)>, count: Memo<usize>) {
        Effect::new(move |_| {
            let _ = (span.get(), count.get());
            if let Some(id) = self.focused.get().filter(|_| self.keep_focus.get_value()) {
                dom::next_frame(move || dom::restore_focus(&row_button(&id)));
            }
        });
        // A click elsewhere on the page (even on nothing focusable) takes the focus away for good.
        let clicks = window_event_listener(leptos::ev::pointerdown, move |ev| {
            let inside = event_target::<web_sys::Element>(&ev).closest(".tree").ok().flatten().is_some();
            if !inside {
                self.keep_focus.set_value(false);
            }
        });
        on_cleanup(move || clicks.remove());
    }

    /// Focus moved to another control (Tab, a click): let it go. Without a target it was lost.
    fn focus_out(self, ev: &leptos::ev::FocusEvent) {
        if ev.related_target().is_some() {
            self.keep_focus.set_value(false);
        }
    }

    /// Arrow keys, Home, End, Page Up and Page Down move the focus by row: the row is scrolled into
    /// view (so the window renders it) and focused in the next frame.
    fn key(self, ev: &leptos::ev::KeyboardEvent, scroller: NodeRef<Div>, scroll: RwSignal<(f64, f64)>) {
        let Some(current) = self.focused.get_untracked() else { return };
        let (len, at) = self.model.with_value(|m| (m.order().len(), m.order().index_of(&current)));
        let (Some(at), Some(end)) = (at, len.checked_sub(1)) else { return };
        let page = ((scroll.get_untracked().1 / ROW_PX) as usize).max(1);
        let to = match ev.key().as_str() {
            "ArrowDown" => (at + 1).min(end),
            "ArrowUp" => at.saturating_sub(1),
            "PageDown" => (at + page).min(end),
            "PageUp" => at.saturating_sub(page),
            "Home" => 0,
            "End" => end,
            _ => return,
        };
        ev.prevent_default();
        let Some(id) = self.model.with_value(|m| m.order().id_at(to).map(str::to_string)) else { return };
        if len >= WINDOW_FROM
            && let Some(el) = scroller.get_untracked()
        {
            let (top, height) = (f64::from(el.scroll_top()), f64::from(el.client_height()));
            let row = to as f64 * ROW_PX;
            let top = if row < top {
                row
            } else if row + ROW_PX > top + height {
                row + ROW_PX - height
            } else {
                top
            };
            el.set_scroll_top(top as i32);
            scroll.set((top, height));
        }
        self.focused.set(Some(id.clone()));
        dom::next_frame(move || dom::focus(&row_button(&id)));
    }
}

/// The selector of a row's button.
fn row_button(id: &str) -> String {
    format!(".tree-item[data-id=\"{id}\"] > .tree-button")
}

/// One object: health light, kind and name, status; a click selects it for the other tabs.
#[component]
fn TreeItem(row: TreeRow, span: Memo<(usize, usize)>) -> impl IntoView {
    let lab = lab();
    let tree = lab.tree;
    let Some(cell) = tree.cell(&row.id) else { return ().into_any() };
    let fresh = tree.arrived_live(&row.id);
    let selected = move || cell.with(|node| lab.selected.with(|s| s.as_ref() == Some(&node.object)));
    let select = move || lab.selected.set(Some(cell.get_untracked().object));
    let depth_class = format!("tree-item depth-{}", row.depth.min(6));
    let level = (row.depth + 1).to_string();
    // Its place among its siblings, and (when windowed) where it sits if it is outside the window.
    let id = row.id.clone();
    let place = Memo::new(move |_| tree.with_order(|order| (order.position(&id), order.index_of(&id))));
    let posinset = move || place.get().0.map(|(at, _)| at.to_string());
    let setsize = move || place.get().0.map(|(_, of)| of.to_string());
    let pinned = move || {
        let (first, last) = span.get();
        let at = place.get().1.filter(|at| !(first..last).contains(at))?;
        Some(format!("position: absolute; top: {}px; left: 0; right: 0", at as f64 * ROW_PX))
    };
    let id = row.id.clone();
    let on_focus = move |_: leptos::ev::FocusEvent| {
        if tree.focused.with_untracked(|f| f.as_deref() != Some(id.as_str())) {
            tree.focused.set(Some(id.clone()));
        }
    };
    view! {
        <li role="treeitem" aria-posinset=posinset aria-setsize=setsize style=pinned
            class=depth_class class:fresh=fresh class:selected=selected aria-selected=move || selected().to_string()
            data-id=row.id.clone() data-kind=move || cell.with(|n| n.object.kind.clone()) data-name=move || cell.with(|n| n.object.name.clone())>
            <button class="tree-button" on:click=move |_| select() on:focus=on_focus title=move || cell.with(|n| lab.text(&n.summary))>
                <span class=move || format!("light {}", labels::health(cell.with(|n| n.health)).1) aria-hidden="true"></span>
                <span class="kind">{move || cell.with(|n| n.object.kind.clone())}</span>
                <span class="name">{move || cell.with(|n| n.object.name.clone())}</span>
                <span class="status">{move || cell.with(|n| n.status.clone())}</span>
                <span class="sr-only">{move || lab.t(labels::health(cell.with(|n| n.health)).0)}</span>
                {move || {
                    let services = cell.with(|n| tree.model.with_value(|m| m.selected_by(n)));
                    (!services.is_empty()).then(|| view! { <span class="muted small">{S::SelectedBy.fill(lab.language.get(), &[&services.join(", ")])}</span> })
                }}
            </button>
            <Show when=selected>
                <ObjectActions node=cell />
            </Show>
        </li>
    }
    // tachys has no `aria_level` attribute method: set it by name.
    .attr("aria-level", level)
    .into_any()
}

/// What can be done with the selected object: YAML, logs, a shell, a port-forward.
#[component]
fn ObjectActions(node: RwSignal<GraphNode>) -> impl IntoView {
    let lab = lab();
    let kind = node.with_untracked(|n| n.object.kind.clone());
    let is_pod = kind == "Pod";
    let forwardable = matches!(kind.as_str(), "Pod" | "Deployment" | "ReplicaSet" | "StatefulSet" | "Service");
    let port = RwSignal::new(String::from("80"));
    let error = RwSignal::new(None);
    let forward = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(port) = port.get_untracked().trim().parse::<u16>() else { return };
        let target = node.get_untracked().object;
        leptos::task::spawn_local(async move {
            match lab.call(Command::PortForwardStart { target, port, local_port: None }).await {
                Ok(Reply::PortForward(view)) => {
                    error.set(None);
                    lab.port_forwards.update(|list| {
                        list.retain(|pf| pf.id != view.id);
                        list.push(view);
                    });
                    lab.live_tab.set(LiveTab::Ports);
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <div class="object-actions">
            <button on:click=move |_| lab.live_tab.set(LiveTab::Yaml)>{move || lab.t(S::ShowYaml)}</button>
            {is_pod.then(|| view! {
                <button on:click=move |_| lab.live_tab.set(LiveTab::Logs)>{move || lab.t(S::ShowLogs)}</button>
                <button on:click=move |_| lab.live_tab.set(LiveTab::Terminal)>{move || lab.t(S::Shell)}</button>
            })}
            {forwardable.then(|| view! {
                <form class="inline-form" on:submit=forward>
                    <label>{move || lab.t(S::Port)}<input type="number" min="1" max="65535" class="port" bind:value=port /></label>
                    <button type="submit">{move || lab.t(S::Forward)}</button>
                </form>
            })}
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
        </div>
    }
}

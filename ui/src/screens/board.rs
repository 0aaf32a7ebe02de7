//! The workshop's instructor board (`/board` of `gitops-lab workshop`): every learner × exercise
//! with step progress, the checks each is waiting on and for how long, stuck learners
//! highlighted, a reset per learner and exercise, removing a learner, a hint for everyone, the CSV export.
//!
//! It reads the board API (`GET /api/board`, polled every two seconds) rather than the engine's
//! transport: the instructor has no engine of their own. The table's logic is plain Rust in
//! [`BoardView`], tested without a browser.

use crate::i18n::S;
use crate::model::graph::{GraphModel, TreeRow};
use crate::model::labels;
use crate::protocol::{ExerciseSummary, GraphNode, Reply, Text};
use crate::screens::settings::Settings;
use crate::state::lab;
use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::CustomAttribute;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The board as `GET /api/board` sends it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardView {
    /// One line per learner.
    pub learners: Vec<LearnerLine>,
    /// The stuck threshold.
    pub stuck_after_seconds: u64,
}

/// One learner.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnerLine {
    /// Their id (`learner-3`).
    pub id: String,
    /// Their display name.
    pub name: String,
    /// `running`, `starting` or `stopped`.
    pub sandbox: String,
    /// Progress per exercise.
    pub progress: Vec<ExerciseSummary>,
    /// Where they are.
    pub position: Option<PositionLine>,
    /// Seconds on the step with unmet checks.
    pub waiting_seconds: Option<u64>,
    /// Past the threshold.
    pub stuck: bool,
}

/// Where a learner is.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionLine {
    /// The exercise.
    pub exercise: String,
    /// The step's index.
    pub step: usize,
    /// The checks not met yet.
    pub waiting_on: BTreeMap<String, Text>,
}

impl BoardView {
    /// The exercise columns: every exercise any learner has, in the order first seen.
    pub fn exercises(&self) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for summary in self.learners.iter().flat_map(|l| &l.progress) {
            if !seen.iter().any(|(id, _)| *id == summary.id) {
                seen.push((summary.id.clone(), summary.section.clone()));
            }
        }
        seen
    }
}

impl LearnerLine {
    /// `done/steps` of an exercise, empty when they have not got it yet.
    pub fn cell(&self, exercise: &str) -> String {
        self.progress
            .iter()
            .find(|p| p.id == exercise)
            .map(|p| format!("{}/{}", p.done_steps, p.steps))
            .unwrap_or_default()
    }
}

/// One request to the workshop server; the status and the body's text.
#[cfg(target_arch = "wasm32")]
async fn fetch(method: &str, path: &str, body: Option<String>) -> Result<(u16, String), String> {
    use wasm_bindgen::JsCast;
    let describe = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(&body));
        let headers = web_sys::Headers::new().map_err(describe)?;
        headers.set("content-type", "application/json").map_err(describe)?;
        init.set_headers(&headers);
    }
    let response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.map_err(describe)?;
    let response: web_sys::Response = response.dyn_into().map_err(describe)?;
    let text = wasm_bindgen_futures::JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

/// Outside a browser (native tests) there is no server to ask.
#[cfg(not(target_arch = "wasm32"))]
async fn fetch(_method: &str, _path: &str, _body: Option<String>) -> Result<(u16, String), String> {
    Err("no browser".into())
}

/// The message of an error body (`{"code", "message": {en, zh}}`) or the text itself.
fn error_text(body: &str) -> Text {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::from_value::<Text>(v.get("message")?.clone()).ok())
        .unwrap_or_else(|| Text::same(body.trim()))
}

/// One row of a learner's tree on the board: its place (depth) and the object.
pub type TreeLine = (TreeRow, GraphNode);

/// A learner's live tree from the body of `GET /api/board/tree`, flattened by owner with the
/// learner's own tree model (the same rows, order and depth as their tree screen), or the reason it
/// is not there.
pub fn tree_rows(status: u16, body: &str) -> Result<Vec<TreeLine>, Text> {
    // The engine's own refusal (422) is a command answer, `{"Err": …}`; the server's (404, 409) a
    // `{"code", "message"}` body.
    let answer = match serde_json::from_str::<crate::protocol::Response>(body) {
        Ok(answer) => answer,
        Err(_) if status != 200 => return Err(error_text(body)),
        Err(e) => return Err(Text::same(format!("unexpected answer: {e}"))),
    };
    let snapshot = match answer {
        Ok(Reply::Graph(snapshot)) => snapshot,
        Ok(_) => return Err(Text::same("unexpected answer: not a graph")),
        Err(error) => return Err(error.message),
    };
    let mut model = GraphModel::default();
    model.reset(snapshot);
    Ok(model.rows().into_iter().filter_map(|row| Some((row.clone(), model.node(&row.id)?.clone()))).collect())
}

/// The learner whose tree is open, and what the last look found.
#[derive(Clone, Debug, PartialEq)]
struct Looked {
    id: String,
    name: String,
    rows: Result<Vec<TreeLine>, Text>,
}

/// Fetches a learner's tree into `tree`: always when `opening`, else (a poll) only while the same
/// learner's tree is still open and when the answer differs, so that an unchanged poll re-renders
/// nothing (and the keyboard focus stays where it is).
fn look_at(tree: RwSignal<Option<Looked>>, id: String, name: String, opening: bool) {
    leptos::task::spawn_local(async move {
        let path = format!("/api/board/tree?learner={id}");
        let rows = match fetch("GET", &path, None).await {
            Ok((code, text)) => tree_rows(code, &text),
            Err(e) => Err(Text::same(e)),
        };
        let looked = Looked { id, name, rows };
        let still_open = tree.with_untracked(|t| t.as_ref().is_some_and(|t| t.id == looked.id && *t != looked));
        if opening || still_open {
            tree.set(Some(looked));
        }
    })
}

/// The board page.
#[component]
pub fn Board() -> impl IntoView {
    let lab = lab();
    let board = RwSignal::new(BoardView::default());
    let error = RwSignal::new(None::<Text>);
    let status = RwSignal::new(None::<String>);
    let tree = RwSignal::new(None::<Looked>);
    let refresh = move || {
        // The open tree is polled with the board (every two seconds), not streamed: the
        // instructor has no engine subscription of their own, and a look-only view can lag that much.
        if let Some((id, name)) = tree.with_untracked(|t| t.as_ref().map(|t| (t.id.clone(), t.name.clone()))) {
            look_at(tree, id, name, false);
        }
        leptos::task::spawn_local(async move {
            match fetch("GET", "/api/board", None).await {
                Ok((200, text)) => match serde_json::from_str(&text) {
                    Ok(view) => {
                        board.set(view);
                        error.set(None);
                    }
                    Err(e) => error.set(Some(Text::same(e.to_string()))),
                },
                Ok((_, text)) => error.set(Some(error_text(&text))),
                Err(e) => error.set(Some(Text::same(e))),
            }
        })
    };
    refresh();
    let _ = set_interval_with_handle(refresh, std::time::Duration::from_secs(2));
    let reset = move |learner: LearnerLine, exercise: String| {
        leptos::task::spawn_local(async move {
            let body = serde_json::json!({ "learner": learner.id, "exercise": exercise }).to_string();
            match fetch("POST", "/api/board/reset", Some(body)).await {
                Ok((200, _)) => status.set(Some(
                    S::BoardResetDone.fill(lab.language.get_untracked(), &[exercise.as_str(), learner.name.as_str()]),
                )),
                Ok((_, text)) => error.set(Some(error_text(&text))),
                Err(e) => error.set(Some(Text::same(e))),
            }
            refresh();
        })
    };
    let remove = move |learner: LearnerLine| {
        let language = lab.language.get_untracked();
        if !crate::dom::confirm(&S::BoardRemoveConfirm.fill(language, &[learner.name.as_str()])) {
            return;
        }
        leptos::task::spawn_local(async move {
            let body = serde_json::json!({ "learner": learner.id }).to_string();
            match fetch("POST", "/api/board/remove", Some(body)).await {
                Ok((200, _)) => status.set(Some(S::BoardRemoveDone.fill(language, &[learner.name.as_str()]))),
                Ok((_, text)) => error.set(Some(error_text(&text))),
                Err(e) => error.set(Some(Text::same(e))),
            }
            if tree.get_untracked().is_some_and(|t| t.id == learner.id) {
                tree.set(None);
            }
            refresh();
        })
    };
    let look = move |learner: LearnerLine| look_at(tree, learner.id, learner.name, true);
    view! {
        <header class="top">
            <h1 class="brand">{move || lab.t(S::BoardTitle)}</h1>
            <Settings />
        </header>
        <main id="main" class="board">
            {move || error.get().map(|e| view! { <div class="error-box" role="alert"><p class="error-message">{move || lab.text(&e)}</p></div> })}
            {move || status.get().map(|s| view! { <p class="notice" role="status" id="board-status">{s}</p> })}
            {board_table(board, reset, look, remove)}
            {move || tree.get().map(|looked| tree_panel(looked, tree))}
            <HintForm status error />
            <p><a id="board-export" href="/api/board/export.csv" download="workshop-results.csv">{move || lab.t(S::BoardExport)}</a></p>
        </main>
    }
}

/// The learners × exercises table (a plain function: it takes the actions as closures).
fn board_table(
    board: RwSignal<BoardView>,
    reset: impl Fn(LearnerLine, String) + Copy + Send + Sync + 'static,
    look: impl Fn(LearnerLine) + Copy + Send + Sync + 'static,
    remove: impl Fn(LearnerLine) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let lab = lab();
    move || {
        let view = board.get();
        if view.learners.is_empty() {
            return view! { <p id="board-empty">{move || lab.t(S::BoardNoLearners)}</p> }.into_any();
        }
        let exercises = view.exercises();
        let heads = exercises
            .iter()
            .map(|(id, section)| view! { <th scope="col" title=id.clone()>{section.clone()}</th> })
            .collect_view();
        let rows = view.learners.into_iter().map(|learner| {
            let cells = exercises.iter().map(|(id, _)| {
                let (line, exercise) = (learner.clone(), id.clone());
                view! {
                    <td data-exercise=id.clone()>
                        <span class="board-cell">{learner.cell(id)}</span>" "
                        <button class="small" on:click=move |_| reset(line.clone(), exercise.clone())>{move || lab.t(S::BoardReset)}</button>
                    </td>
                }
            }).collect_view();
            let (looked, removed) = (learner.clone(), learner.clone());
            view! {
                <tr data-learner=learner.id.clone() class:stuck=learner.stuck>
                    <th scope="row">{learner.name.clone()}" "
                        <button class="small board-look" aria-controls="board-tree" on:click=move |_| look(looked.clone())>{move || lab.t(S::BoardTree)}</button>" "
                        <button class="small board-remove" on:click=move |_| remove(removed.clone())>{move || lab.t(S::BoardRemove)}</button>
                    </th>
                    <td>{sandbox_label(&learner.sandbox).map(|key| move || lab.t(key))}</td>
                    <td class="board-now">{now_cell(&learner)}</td>
                    {cells}
                </tr>
            }
        }).collect_view();
        view! {
            <table class="board-table" id="board-table">
                <thead><tr>
                    <th scope="col">{move || lab.t(S::BoardLearner)}</th>
                    <th scope="col">{move || lab.t(S::BoardSandbox)}</th>
                    <th scope="col">{move || lab.t(S::BoardNow)}</th>
                    {heads}
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    }
}

/// The learner's tree the instructor asked for, read-only (no selection, no actions), or why it is
/// not there. Rows look like the learner's tree screen's; the arrow keys, Home and End move the
/// focus by row (one row in the Tab order), and each row states its level for screen readers.
fn tree_panel(looked: Looked, tree: RwSignal<Option<Looked>>) -> impl IntoView {
    let lab = lab();
    let Looked { name, rows, .. } = looked;
    let body = match rows {
        Ok(rows) if rows.is_empty() => view! { <p class="muted">{move || lab.t(S::BoardTreeEmpty)}</p> }.into_any(),
        Ok(rows) => read_only_tree(rows, name.clone()).into_any(),
        Err(reason) => view! { <p class="error-message">{move || lab.text(&reason)}</p> }.into_any(),
    };
    view! {
        <section id="board-tree" class="board-tree" aria-labelledby="board-tree-title">
            <h2 id="board-tree-title">{move || S::BoardTreeOf.fill(lab.language.get(), &[name.as_str()])}" "
                <button class="small" id="board-tree-close" on:click=move |_| tree.set(None)>{move || lab.t(S::BoardTreeClose)}</button>
            </h2>
            {body}
        </section>
    }
}

/// The rows of a read-only tree.
fn read_only_tree(rows: Vec<TreeLine>, name: String) -> impl IntoView {
    let lab = lab();
    let count = rows.len();
    // Survives the poll's re-render: the row with the focus keeps it (by id).
    let focused = StoredValue::new(rows.first().map(|(row, _)| row.id.clone()).unwrap_or_default());
    let ids: Vec<String> = rows.iter().map(|(row, _)| row.id.clone()).collect();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let at = ids.iter().position(|id| *id == focused.get_value()).unwrap_or(0);
        let to = match ev.key().as_str() {
            "ArrowDown" => (at + 1).min(count - 1),
            "ArrowUp" => at.saturating_sub(1),
            "Home" => 0,
            "End" => count - 1,
            _ => return,
        };
        ev.prevent_default();
        focused.set_value(ids[to].clone());
        crate::dom::focus(&format!("#board-tree [data-id=\"{}\"]", ids[to]));
    };
    let first = focused.get_value();
    let items = rows
        .into_iter()
        .map(|(row, node)| {
            let (label, light) = labels::health(node.health);
            let id = row.id.clone();
            view! {
                <li role="treeitem" class=format!("tree-item depth-{}", row.depth.min(6)) data-id=row.id.clone()
                    data-kind=node.object.kind.clone() data-name=node.object.name.clone()
                    tabindex=if row.id == first { "0" } else { "-1" } title=move || lab.text(&node.summary)
                    on:focus=move |_| focused.set_value(id.clone())>
                    <div class="tree-button">
                        <span class=format!("light {light}") aria-hidden="true"></span>
                        <span class="kind">{node.object.kind.clone()}</span>
                        <span class="name">{node.object.namespace.clone().map(|ns| format!("{ns}/")).unwrap_or_default()}{node.object.name.clone()}</span>
                        <span class="status">{node.status.clone()}</span>
                        <span class="sr-only">{move || lab.t(label)}</span>
                    </div>
                </li>
            }
            .attr("aria-level", (row.depth + 1).to_string())
        })
        .collect_view();
    view! {
        <ul class="tree" role="tree" aria-readonly="true" on:keydown=on_key
            aria-label=move || S::BoardTreeOf.fill(lab.language.get(), &[name.as_str()])>{items}</ul>
    }
}

fn sandbox_label(state: &str) -> Option<S> {
    match state {
        "running" => Some(S::SandboxRunning),
        "starting" => Some(S::SandboxStarting),
        "stopped" => Some(S::SandboxStopped),
        _ => None,
    }
}

/// The current step, the checks waited on and for how long, and the stuck mark.
fn now_cell(learner: &LearnerLine) -> Option<impl IntoView + use<>> {
    let lab = lab();
    let position = learner.position.clone()?;
    let step = (position.step + 1).to_string();
    let minutes = learner.waiting_seconds.map(|s| (s / 60).to_string());
    let stuck = learner.stuck;
    let checks: Vec<Text> = position.waiting_on.into_values().collect();
    Some(view! {
        <span class="board-exercise">{position.exercise}" · "</span>
        {move || match &minutes {
            Some(m) => S::BoardWaiting.fill(lab.language.get(), &[step.as_str(), m.as_str()]),
            None => S::BoardOnStep.fill(lab.language.get(), &[step.as_str()]),
        }}
        <ul class="board-checks">{checks.into_iter().map(|c| view! { <li>{move || lab.text(&c)}</li> }).collect_view()}</ul>
        {stuck.then(|| view! { <strong class="board-stuck">{move || lab.t(S::BoardStuck)}</strong> })}
    })
}

/// The hint for everyone, in both languages.
#[component]
fn HintForm(status: RwSignal<Option<String>>, error: RwSignal<Option<Text>>) -> impl IntoView {
    let lab = lab();
    let (en, zh) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let send = move |_| {
        leptos::task::spawn_local(async move {
            let body = serde_json::to_string(&Text::new(en.get_untracked(), zh.get_untracked())).unwrap_or_default();
            match fetch("POST", "/api/board/hint", Some(body)).await {
                Ok((200, text)) => {
                    let sent = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["sent"].as_u64())
                        .unwrap_or(0);
                    status.set(Some(S::BoardHintSent.fill(lab.language.get_untracked(), &[sent.to_string().as_str()])));
                    error.set(None);
                }
                Ok((_, text)) => error.set(Some(error_text(&text))),
                Err(e) => error.set(Some(Text::same(e))),
            }
        })
    };
    view! {
        <section class="board-hint">
            <h2>{move || lab.t(S::BoardHint)}</h2>
            <label>{move || lab.t(S::BoardHintEnglish)}
                <textarea id="hint-en" prop:value=move || en.get() on:input=move |ev| en.set(event_target_value(&ev))></textarea></label>
            <label>{move || lab.t(S::BoardHintChinese)}
                <textarea id="hint-zh" prop:value=move || zh.get() on:input=move |ev| zh.set(event_target_value(&ev))></textarea></label>
            <button id="send-hint" class="primary" on:click=send>{move || lab.t(S::BoardSendHint)}</button>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_board_reads_the_api_and_lists_exercises_once() {
        let json = r#"{"learners":[
            {"id":"learner-1","name":"Ada","link":"l","joined":1,"sandbox":"running",
             "progress":[{"id":"2.1-nginx-pod","section":"2.1","title":{"en":"t","zh-CN":"t"},"summary":{"en":"s","zh-CN":"s"},"steps":7,"done_steps":2,"status":"inProgress"}],
             "position":{"exercise":"2.1-nginx-pod","step":2,"since":5,"waitingOn":{"pod-running":{"en":"Pod runs","zh-CN":"Pod 运行"}}},
             "waitingSeconds":700,"stuck":true},
            {"id":"learner-2","name":"Lei","link":"l","joined":2,"sandbox":"stopped","progress":[],"position":null,"waitingSeconds":null,"stuck":false}],
            "stuckAfterSeconds":600,"now":9}"#;
        let view: BoardView = serde_json::from_str(json).unwrap();
        assert_eq!(view.exercises(), [("2.1-nginx-pod".to_string(), "2.1".to_string())]);
        assert_eq!(view.learners[0].cell("2.1-nginx-pod"), "2/7");
        assert_eq!(view.learners[1].cell("2.1-nginx-pod"), "");
        assert!(view.learners[0].stuck);
        assert_eq!(sandbox_label("stopped"), Some(S::SandboxStopped));
    }

    #[test]
    fn a_tree_answer_becomes_rows_by_owner_and_a_refusal_its_reason() {
        let node = |id: &str, kind: &str, name: &str, owner: Option<&str>| {
            let links = owner.map(|o| serde_json::json!([{"kind": "owner", "to": o}])).unwrap_or(serde_json::json!([]));
            serde_json::json!({"id": id, "object": {"apiVersion": "v1", "kind": kind, "namespace": "default", "name": name},
                "health": "healthy", "status": "Running", "summary": {"en": "ok", "zh-CN": "好"},
                "links": links, "created": "2026-01-01T00:00:00Z"})
        };
        let snapshot = serde_json::json!({"revision": 3, "namespaces": ["default"], "nodes": [
            node("p1", "Pod", "web-1", Some("r1")), node("d1", "Deployment", "web", None),
            node("r1", "ReplicaSet", "web-5d", Some("d1"))]});
        let body = serde_json::json!({"Ok": {"type": "graph", "data": snapshot}}).to_string();
        let rows = tree_rows(200, &body).unwrap();
        let shown: Vec<(&str, usize)> = rows.iter().map(|(row, node)| (node.object.kind.as_str(), row.depth)).collect();
        assert_eq!(shown, [("Deployment", 0), ("ReplicaSet", 1), ("Pod", 2)]);
        let stopped = r#"{"code":"sandbox-stopped","message":{"en":"Ada's sandbox is stopped","zh-CN":"已停止"}}"#;
        assert_eq!(tree_rows(409, stopped).unwrap_err().en, "Ada's sandbox is stopped");
        let failed = r#"{"Err":{"code":"unreachable","message":{"en":"no cluster","zh-CN":"没有集群"}}}"#;
        assert_eq!(tree_rows(422, failed).unwrap_err().en, "no cluster");
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(error_text(r#"{"code":"x","message":{"en":"E","zh-CN":"中"}}"#), Text::new("E", "中"));
        assert_eq!(error_text("plain\n"), Text::same("plain"));
    }
}

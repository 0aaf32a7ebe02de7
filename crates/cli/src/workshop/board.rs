//! The instructor's board API: every learner's progress per exercise, the step and check each is
//! waiting on and since when (flagged past the stuck threshold), resetting a learner's exercise,
//! removing a learner,
//! a hint broadcast to every learner's screen, and the results as CSV.

use super::server::error_json;
use super::state::{Learner, Workshop};
use super::tracker::{Position, now};
use crate::web::assets;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_lab::protocol::{Command, Event, ExerciseSummary, Text};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The longest hint, in characters.
const MAX_HINT_CHARS: usize = 500;

/// One learner's line of the board.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardLine {
    id: String,
    name: String,
    link: String,
    joined: u64,
    /// `running`, `starting` (or stopping) or `stopped` (idle: data kept).
    sandbox: &'static str,
    progress: Vec<ExerciseSummary>,
    position: Option<Position>,
    /// Seconds on the current step while some of its checks are unmet.
    waiting_seconds: Option<u64>,
    stuck: bool,
}

/// The board as a whole.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    learners: Vec<BoardLine>,
    stuck_after_seconds: u64,
    now: u64,
}

/// The UI's page (its board screen reads the path).
pub async fn page(request: Request) -> Response {
    assets::serve("/", request.headers())
}

fn line(workshop: &Workshop, learner: &Learner, at: u64) -> BoardLine {
    let position = learner.tracker.position();
    let waiting_seconds = position.as_ref().filter(|p| !p.waiting_on.is_empty()).map(|p| at.saturating_sub(p.since));
    BoardLine {
        id: learner.record.id.clone(),
        name: learner.record.name.clone(),
        link: workshop.link(learner),
        joined: learner.record.joined,
        sandbox: match learner.session.is_running() {
            Some(true) => "running",
            Some(false) => "stopped",
            None => "starting",
        },
        progress: learner.tracker.progress(),
        stuck: waiting_seconds.is_some_and(|s| s >= workshop.settings.stuck_after.as_secs()),
        waiting_seconds,
        position,
    }
}

fn board(workshop: &Workshop) -> Board {
    let at = now();
    Board {
        learners: workshop.learners().iter().map(|l| line(workshop, l, at)).collect(),
        stuck_after_seconds: workshop.settings.stuck_after.as_secs(),
        now: at,
    }
}

/// `GET /api/board`.
pub async fn snapshot(State(workshop): State<Arc<Workshop>>) -> Json<Board> {
    Json(board(&workshop))
}

/// Body of `POST /api/board/remove`.
#[derive(Deserialize)]
pub struct RemoveRequest {
    learner: String,
}

/// `POST /api/board/remove`: takes a learner out of the class for good (their sandbox stopped,
/// their data deleted, their links refused with the reason); answers `{"removed": ID}`.
pub async fn remove(State(workshop): State<Arc<Workshop>>, body: Bytes) -> Response {
    let request: RemoveRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_body("{\"learner\": \"learner-1\"}", &error),
    };
    match workshop.remove(&request.learner).await {
        None => error_json(StatusCode::NOT_FOUND, "no-learner", no_learner(&request.learner)),
        Some(Err(reason)) => error_json(StatusCode::INTERNAL_SERVER_ERROR, "not-deleted", reason),
        Some(Ok(())) => Json(serde_json::json!({ "removed": request.learner })).into_response(),
    }
}

/// Body of `POST /api/board/reset`.
#[derive(Deserialize)]
pub struct ResetRequest {
    learner: String,
    exercise: String,
}

/// `POST /api/board/reset`: resets one learner's exercise through their engine (starting it if
/// idle), tells the learner's screen, and answers with the engine's reply.
pub async fn reset(State(workshop): State<Arc<Workshop>>, body: Bytes) -> Response {
    let request: ResetRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_body("{\"learner\": \"learner-1\", \"exercise\": \"2.1-nginx-pod\"}", &error),
    };
    let Some(learner) = workshop.learner_by_id(&request.learner) else {
        return error_json(StatusCode::NOT_FOUND, "no-learner", no_learner(&request.learner));
    };
    // Through the start check, as a learner's own command: it prepares a stopped sandbox (a Pod on
    // Kubernetes) and refuses, with the reason, when memory is short.
    let engine = match learner.session.try_engine().await {
        Ok(engine) => engine,
        Err(reason) => return error_json(StatusCode::SERVICE_UNAVAILABLE, "please-wait", reason),
    };
    let answer = engine.handle(Command::ResetExercise { id: request.exercise.clone() }).await;
    // The board's line follows from the engine's own event (the exercise's fresh progress), after
    // every earlier one: a reset here would race with events still on their way.
    if answer.is_ok() {
        learner.upstream.clear();
        learner.session.notify(Event::Notice {
            level: "warning".into(),
            message: Text::new(
                format!("Your instructor reset exercise {}: it starts again from its first step.", request.exercise),
                format!("讲师重置了练习 {}：它将从第一步重新开始。", request.exercise),
            ),
        });
    }
    let status = if answer.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (status, Json(answer)).into_response()
}

/// `GET /api/board/tree?learner=ID`: the learner's live resource graph, read-only (the engine's
/// `graph` answer). Looking does not count as the learner's activity and never starts a stopped
/// sandbox: a stopped one answers 409 with what to expect instead.
pub async fn tree(State(workshop): State<Arc<Workshop>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let Some(id) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "learner").map(|(_, v)| v) else {
        let message = Text::new(
            "Name the learner: /api/board/tree?learner=learner-1 (the board lists their ids).",
            "请指明学员：/api/board/tree?learner=learner-1（看板上列出了学员的 id）。",
        );
        return error_json(StatusCode::BAD_REQUEST, "bad-request", message);
    };
    let Some(learner) = workshop.learner_by_id(&id) else {
        return error_json(StatusCode::NOT_FOUND, "no-learner", no_learner(&id));
    };
    let Some(engine) = learner.session.running_engine().await else {
        let name = &learner.record.name;
        let message = Text::new(
            format!(
                "{name}'s sandbox is stopped (idle, their objects are kept); their tree shows again once they are back."
            ),
            format!("{name} 的沙箱已停止（空闲，对象均已保留）；学员回来后即可再次看到其资源树。"),
        );
        return error_json(StatusCode::CONFLICT, "sandbox-stopped", message);
    };
    let answer = engine.handle(Command::Graph).await;
    let status = if answer.is_ok() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (status, Json(answer)).into_response()
}

fn no_learner(id: &str) -> Text {
    Text::new(
        format!("There is no learner “{id}” in this workshop; the board lists their ids."),
        format!("本工作坊中没有学员“{id}”；看板上列出了学员的 id。"),
    )
}

/// `POST /api/board/hint` with `{"en": …, "zh-CN": …}`: shown on every open learner screen.
pub async fn hint(State(workshop): State<Arc<Workshop>>, body: Bytes) -> Response {
    let text: Text = match serde_json::from_slice(&body) {
        Ok(text) => text,
        Err(error) => return bad_body("{\"en\": \"…\", \"zh-CN\": \"…\"}", &error),
    };
    if let Err(message) = check_hint(&text) {
        return error_json(StatusCode::BAD_REQUEST, "bad-hint", message);
    }
    let learners = workshop.learners();
    for learner in &learners {
        learner.session.notify(Event::Notice { level: "info".into(), message: text.clone() });
    }
    Json(serde_json::json!({ "sent": learners.len() })).into_response()
}

/// A hint needs both languages, each short and printable.
fn check_hint(text: &Text) -> Result<(), Text> {
    let bad = |s: &str| {
        s.trim().is_empty() || s.chars().count() > MAX_HINT_CHARS || s.chars().any(|c| c.is_control() && c != '\n')
    };
    if bad(&text.en) || bad(&text.zh) {
        return Err(Text::new(
            format!(
                "A hint needs an English and a Chinese text, each 1 to {MAX_HINT_CHARS} characters, without control characters."
            ),
            format!("提示需要英文和中文两段文字，每段 1 到 {MAX_HINT_CHARS} 个字符，且不含控制字符。"),
        ));
    }
    Ok(())
}

/// `GET /api/board/export.csv`: one row per learner and exercise.
pub async fn export(State(workshop): State<Arc<Workshop>>) -> Response {
    let csv = to_csv(&board(&workshop));
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"workshop-results.csv\""),
    ];
    (headers, csv).into_response()
}

fn to_csv(board: &Board) -> String {
    let mut out = String::from("learner,name,exercise,done_steps,steps,status,current_step,waiting_seconds,stuck\n");
    for line in &board.learners {
        for summary in &line.progress {
            let here = line.position.as_ref().filter(|p| p.exercise == summary.id);
            let status = serde_json::to_value(summary.status).ok();
            let fields = [
                line.id.clone(),
                line.name.clone(),
                summary.id.clone(),
                summary.done_steps.to_string(),
                summary.steps.to_string(),
                status.as_ref().and_then(|s| s.as_str()).unwrap_or("").to_string(),
                here.map(|p| p.step.to_string()).unwrap_or_default(),
                here.and(line.waiting_seconds).map(|s| s.to_string()).unwrap_or_default(),
                (here.is_some() && line.stuck).to_string(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
    }
    out
}

/// Quotes a field when it needs it; a leading formula character is neutralised (a name like
/// `=HYPERLINK(…)` must not run in a spreadsheet).
fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@']) { format!("'{field}") } else { field.to_string() };
    if field.contains([',', '"', '\n', '\r']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field }
}

fn bad_body(expected: &str, error: &serde_json::Error) -> Response {
    let message = Text::new(
        format!("Send JSON like {expected} ({error})."),
        format!("请发送类似 {expected} 的 JSON（{error}）。"),
    );
    error_json(StatusCode::BAD_REQUEST, "bad-request", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("Ada"), "Ada");
        assert_eq!(csv_field("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
    }

    #[test]
    fn hints_need_both_languages() {
        assert!(check_hint(&Text::new("Look at the events", "看看事件")).is_ok());
        assert!(check_hint(&Text::new("Look", " ")).is_err());
        assert!(check_hint(&Text::new("x".repeat(501), "y")).is_err());
        assert!(check_hint(&Text::new("a\u{1b}[31m", "b")).is_err());
    }
}

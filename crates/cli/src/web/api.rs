//! The API of web mode: `POST /api/command` answers one command; `/api/events` is the WebSocket
//! that streams the session's engine events as JSON text messages.

use super::server::Admitted;
use super::sessions::SocketOpen;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gitops_lab::protocol::{Command, ErrorView, Event, Text};
use std::time::{Duration, Instant};

/// Runs one command on the session's engine.
pub async fn command(Extension(Admitted(session)): Extension<Admitted>, body: Bytes) -> Response {
    let (status, answer) = match serde_json::from_slice::<Command>(&body) {
        Ok(command) => match session.try_engine().await {
            Ok(engine) => (StatusCode::OK, engine.handle(command).await),
            Err(wait) => (StatusCode::SERVICE_UNAVAILABLE, Err(ErrorView::new("please-wait", wait))),
        },
        Err(error) => (StatusCode::BAD_REQUEST, Err(bad_command(&error))),
    };
    match serde_json::to_vec(&answer) {
        Ok(json) => (status, [(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn bad_command(error: &serde_json::Error) -> ErrorView {
    ErrorView::new(
        "bad-command",
        Text::new(
            format!("The lab could not read this command: {error}."),
            format!("实验室无法读取这条命令：{error}。"),
        ),
    )
    .with_hint(Text::new(
        "Reload the page: the page and the lab may be different versions.",
        "请刷新页面：页面和实验室的版本可能不一致。",
    ))
}

/// How often the event socket pings the page; a page that has answered nothing for two periods
/// (a closed laptop, a lost network) is treated as gone, so an idle learner's sandbox can stop.
#[derive(Clone, Copy, Debug)]
pub struct Heartbeat(pub Duration);

/// Web mode's period, when the server sets none.
const HEARTBEAT: Duration = Duration::from_secs(20);

/// Upgrades to the event stream (503 with the reason when the engine may not start now).
pub async fn events(
    Extension(Admitted(session)): Extension<Admitted>,
    heartbeat: Option<Extension<Heartbeat>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let engine = match session.try_engine().await {
        Ok(engine) => engine,
        Err(wait) => {
            let text = format!("{}\n{}\n", wait.en, wait.zh);
            return (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text)
                .into_response();
        }
    };
    let streams = Streams { subscription: engine.subscribe(), notices: session.notices() };
    let open = session.socket_open();
    let period = heartbeat.map_or(HEARTBEAT, |Extension(Heartbeat(period))| period);
    upgrade.on_upgrade(move |socket| forward(socket, streams, period, open))
}

/// What a socket forwards: the engine's events and the session's notices.
struct Streams {
    subscription: gitops_lab::Subscription,
    notices: tokio::sync::broadcast::Receiver<Event>,
}

/// Sends every event until the engine or the page goes away (closed, or silent for two heartbeat
/// periods); `_open` marks the session as watched meanwhile.
async fn forward(mut socket: WebSocket, mut streams: Streams, period: Duration, _open: SocketOpen) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            event = streams.subscription.next() => {
                let Some(event) = event else { break };
                if !send(&mut socket, &event).await {
                    break;
                }
            }
            notice = streams.notices.recv() => {
                if let Ok(event) = notice && !send(&mut socket, &event).await {
                    break;
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                // Pongs (browsers answer pings on their own) and anything else: the page is there.
                Some(Ok(_)) => heard = Instant::now(),
            },
            _ = ticks.tick() => {
                if heard.elapsed() >= period * 2 || socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Sends one event as JSON text; false when the page has gone.
async fn send(socket: &mut WebSocket, event: &Event) -> bool {
    match serde_json::to_string(event) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => true,
    }
}

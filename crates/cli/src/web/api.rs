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

/// Runs one command on the session's engine.
pub async fn command(Extension(Admitted(session)): Extension<Admitted>, body: Bytes) -> Response {
    let (status, answer) = match serde_json::from_slice::<Command>(&body) {
        Ok(command) => (StatusCode::OK, session.engine().await.handle(command).await),
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

/// Upgrades to the event stream.
pub async fn events(Extension(Admitted(session)): Extension<Admitted>, upgrade: WebSocketUpgrade) -> Response {
    let subscription = session.engine().await.subscribe();
    let notices = session.notices();
    let open = session.socket_open();
    upgrade.on_upgrade(move |socket| forward(socket, subscription, notices, open))
}

/// Sends every event (the engine's and the session's notices) until the engine or the page goes
/// away; `_open` marks the session as watched meanwhile.
async fn forward(
    mut socket: WebSocket,
    mut subscription: gitops_lab::Subscription,
    mut notices: tokio::sync::broadcast::Receiver<Event>,
    _open: SocketOpen,
) {
    loop {
        tokio::select! {
            event = subscription.next() => {
                let Some(event) = event else { break };
                if !send(&mut socket, &event).await {
                    break;
                }
            }
            notice = notices.recv() => {
                if let Ok(event) = notice && !send(&mut socket, &event).await {
                    break;
                }
            }
            message = socket.recv() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
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

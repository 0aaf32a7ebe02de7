//! The listening socket of a server command (`sandbox serve`, `web`): bound with a clear error, and a
//! warning when it is reachable from beyond this machine.

use crate::messages::Messages;
use anyhow::Context;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Binds `listen` and returns the listener with its actual address (port 0 picks a free one).
pub async fn bind(listen: SocketAddr, messages: &Messages) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen).await.with_context(|| messages.cannot_listen(&listen.to_string()))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        eprintln!("{}", messages.not_loopback(&addr.to_string()));
    }
    Ok((listener, addr))
}

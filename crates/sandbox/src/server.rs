//! Serving a sandbox: `run(listener, sandbox, shutdown)`, used the same way by the CLI and the tests.

use crate::Sandbox;
use crate::api;
use crate::tls::TlsListener;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves the sandbox's API over HTTPS on `listener`, and runs its controllers, until `shutdown` completes.
pub async fn run(listener: TcpListener, sandbox: Arc<Sandbox>, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let (stop_controllers, controllers_stopped) = tokio::sync::watch::channel(false);
    crate::controllers::start(&sandbox, controllers_stopped);
    let shutdown = async move {
        shutdown.await;
        let _ = stop_controllers.send(true);
    };
    let acceptor = sandbox.certificates().acceptor().map_err(std::io::Error::other)?;
    let listener = TlsListener::new(listener, acceptor)?;
    // Schemas take a moment to build; do it now rather than in the first `kubectl apply`.
    tokio::task::spawn_blocking(crate::schema::warm_up);
    axum::serve(listener, api::router(sandbox)).with_graceful_shutdown(shutdown).await
}

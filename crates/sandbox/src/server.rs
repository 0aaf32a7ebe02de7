//! Serving a sandbox: `run(listener, sandbox, shutdown)`, used the same way by the CLI and the tests.
//! This is the composition root: it builds the parts bottom-up over the store-backed [`Sandbox`] —
//! the simulated node, the controllers, the HTTP router — and injects what a lower part needs
//! (the node's in-pod kubectl, the router's pod streams) instead of letting it reach up.

use crate::Sandbox;
use crate::api::{self, PodStreams};
use crate::in_pod_kubectl::InPodClients;
use crate::tls::{self, TlsListener};
use gitops_sandbox_controllers::{self as controllers, runtime};
use gitops_sandbox_node::{self as node, SimulatedNode};
use std::future::Future;
use std::sync::{Arc, Weak};
use tokio::net::TcpListener;

/// Serves the sandbox's API over HTTPS on `listener`, and runs its controllers and node, until
/// `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    sandbox: Arc<Sandbox>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_controllers, controllers_stopped) = tokio::sync::watch::channel(false);
    let (exits, exit_triggers) = runtime::triggers();
    let handle = tokio::runtime::Handle::current();
    // The node owns the in-pod kubectl factory, whose router serves the node's own pod streams.
    let node = Arc::new_cyclic(|me: &Weak<SimulatedNode>| {
        let pods: Weak<dyn PodStreams> = me.clone();
        let clients = Arc::new(InPodClients::new(sandbox.clone(), pods));
        SimulatedNode::new(sandbox.clone(), clients, handle, exits)
    });
    node::register(&sandbox);
    let workloads = controllers::all().into_iter().map(|c| (c, None));
    for (controller, triggers) in workloads.chain(node::controllers(&node, exit_triggers)) {
        tokio::spawn(runtime::run(sandbox.clone(), controller, triggers, controllers_stopped.clone()));
    }
    let shutdown = async move {
        shutdown.await;
        let _ = stop_controllers.send(true);
    };
    let acceptor = tls::acceptor(sandbox.certificates()).map_err(std::io::Error::other)?;
    let listener = TlsListener::new(listener, acceptor)?;
    // Schemas take a moment to build; do it now rather than in the first `kubectl apply`.
    tokio::task::spawn_blocking(gitops_sandbox_core::schema::warm_up);
    axum::serve(listener, api::router(sandbox, node)).with_graceful_shutdown(shutdown).await
}

//! Serving a sandbox: `run(listener, sandbox, shutdown)`, used the same way by the CLI and the tests.
//! This is the composition root: it builds the parts bottom-up over the store-backed [`Sandbox`] —
//! the simulated node, the controllers, the cluster's add-ons, the HTTP router — and injects what a lower part needs
//! (the node's in-pod kubectl, the router's pod streams) instead of letting it reach up.

use crate::Sandbox;
use crate::api::{self, PodStreams};
use crate::in_pod_kubectl::InPodClients;
use crate::tls::{self, TlsListener};
use gitops_sandbox_controllers::{self as controllers, runtime};
use gitops_sandbox_node::{self as node, SimulatedNode};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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
    let installing = sandbox.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::addons::install(&installing) {
            eprintln!("sandbox: cannot install the cluster's add-ons: {e}");
        }
    });
    // The autoscaler reads the CPU an image uses from the node's image table.
    let autoscaler: Arc<dyn controllers::Controller> =
        Arc::new(controllers::autoscaler::Autoscaler::new(Arc::new(node::images::cpu_millicores)));
    let workloads = controllers::all().into_iter().chain([autoscaler]).map(|c| (c, None));
    for (controller, triggers) in workloads.chain(node::controllers(&node, exit_triggers)) {
        tokio::spawn(runtime::run(sandbox.clone(), controller, triggers, controllers_stopped.clone()));
    }
    let stopping = node.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = stop_controllers.send(true);
        // Containers and probes hold the sandbox too: they end with the server.
        stopping.shut_down();
    };
    let acceptor = tls::acceptor(sandbox.certificates()).map_err(std::io::Error::other)?;
    let listener = TlsListener::new(listener, acceptor)?;
    // Schemas take a moment to build; do it now rather than in the first `kubectl apply`.
    tokio::task::spawn_blocking(gitops_sandbox_core::schema::warm_up);
    axum::serve(listener, api::router(sandbox, node)).with_graceful_shutdown(shutdown).await
}

/// Why an in-process sandbox could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum InProcessError {
    /// The data directory could not be opened.
    #[error(transparent)]
    Open(#[from] crate::SandboxError),
    /// Binding, writing the kubeconfig, or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Something still holds the sandbox after its server stopped.
    #[error("the sandbox is still in use 10 s after its server stopped")]
    StillInUse,
}

/// A sandbox served by the current tokio runtime on a free loopback port, with its kubeconfig
/// written: what `gitops-lab sandbox serve` runs, for benchmarks and tests that keep the server in
/// their own process.
pub struct InProcess {
    /// The served sandbox.
    pub sandbox: Arc<Sandbox>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The kubeconfig written for it.
    pub kubeconfig: PathBuf,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl InProcess {
    /// Opens the sandbox in `data_dir`, serves it on `127.0.0.1:0` and writes `kubeconfig`.
    pub async fn start(data_dir: &Path, kubeconfig: &Path) -> Result<Self, InProcessError> {
        let sandbox = Arc::new(Sandbox::open(data_dir)?);
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = format!("https://{addr}");
        crate::kubeconfig::write(kubeconfig, &server, &sandbox.certificates().ca_pem, sandbox.admin_token())?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run(listener, sandbox.clone(), shutdown));
        Ok(Self { sandbox, addr, kubeconfig: kubeconfig.to_path_buf(), stop, task })
    }

    /// Stops serving and waits until the sandbox is released (its store closed), so that the same
    /// data directory can be opened again.
    pub async fn stop(self) -> Result<(), InProcessError> {
        let Self { mut sandbox, stop, task, .. } = self;
        let _ = stop.send(());
        task.await.map_err(std::io::Error::other)??;
        // The controllers and the node's tasks let go of it as they wind down.
        for _ in 0..500 {
            match Arc::try_unwrap(sandbox) {
                Ok(last) => {
                    drop(last);
                    return Ok(());
                }
                Err(shared) => sandbox = shared,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(InProcessError::StillInUse)
    }
}

//! The benchmarks' in-process sandbox: served the way the CLI serves it (API, controllers, node),
//! with a kube client built from the kubeconfig it wrote.

use gitops_sandbox::server::InProcess;
use kube::Client;
use std::path::Path;

/// A running sandbox and a client for it.
pub struct Server {
    /// A kube-rs client with the sandbox's kubeconfig.
    pub client: Client,
    /// The server itself (its sandbox, address and kubeconfig).
    pub running: InProcess,
}

impl Server {
    /// Serves the data directory `dir` (its kubeconfig goes beside the data).
    pub async fn start(dir: &Path) -> Self {
        let running = InProcess::start(dir, &dir.join("kubeconfig")).await.expect("the sandbox serves");
        Self { client: client(&running.kubeconfig).await, running }
    }

    /// Stops serving and waits until the store is closed, so that another process may open it.
    pub async fn stop(self) {
        drop(self.client);
        self.running.stop().await.expect("the server stops and releases its store");
    }
}

/// A kube-rs client from a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    Client::try_from(config).expect("a client")
}

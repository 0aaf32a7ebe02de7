//! The simulated node `sandbox`: scheduler, kubelet, the container runtime and the behaviours of
//! images. Containers do not run real programs: each pod gets a virtual filesystem (volumes shared
//! between its containers) and each container runs the behaviour its image maps to.
//!
//! This file is the node's contract with the rest of the sandbox: the composition root builds a
//! [`SimulatedNode`] over the shared [`Sandbox`] and runs its [`controllers`]; the streaming API
//! handlers (exec, logs, port-forward, attach) use its methods and the types below only.
//!
//! It imports the core, the controller runtime and the shell; nothing imports it but the HTTP
//! layer and composition root (`gitops-lab-sandbox`), which also injects the in-pod `kubectl`
//! ([`ClusterClients`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod containers;
pub mod daemon;
pub mod exec;
pub mod heartbeat;
pub mod http;
pub mod images;
pub mod kubelet;
pub mod network;
pub mod nginx;
pub mod pace;
pub mod probes;
pub mod runtime;
pub mod sample_app;
pub mod scheduler;
pub mod status;
mod streams;
pub mod volumes;

pub use gitops_sandbox_shell::Output;
pub use streams::PodStreams;

use bytes::Bytes;
use gitops_sandbox_controllers::runtime::{TriggerSender, Triggers};
use gitops_sandbox_controllers::{Controller, ObjectRef};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::object;
use gitops_sandbox_shell::ClusterClient;
use gitops_sandbox_shell::vfs::Filesystem;
use runtime::PodRuntime;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Makes the in-pod `kubectl` of a container (images with the `kubectl` tool). The composition
/// root supplies it, so the node never builds the API's HTTP router itself.
pub trait ClusterClients: Send + Sync {
    /// A client for the container whose filesystem is `fs` (its mounted credentials are read per call).
    fn client(&self, fs: Filesystem) -> Arc<dyn ClusterClient>;
}

/// A process started in a container (`kubectl exec`, or attaching to PID 1).
pub struct Process {
    /// Bytes for the process's standard input; `None` when stdin was not asked for.
    pub stdin: Option<mpsc::Sender<Bytes>>,
    /// Standard output and error, in the order they were written; closed when the process ends.
    pub output: mpsc::Receiver<Output>,
    /// The exit code, sent once the process has ended (and `output` has been closed).
    pub exit: oneshot::Receiver<i32>,
    /// Terminal size changes (columns, rows), for tty sessions.
    pub resize: Option<mpsc::Sender<(u16, u16)>>,
}

/// One line (or partial line) a container wrote, with when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When the container wrote it.
    pub at: jiff::Timestamp,
    /// The bytes, including the trailing newline if there was one.
    pub text: Bytes,
}

/// A container's log: what it has written so far, and the rest as it comes when following.
pub struct ContainerLog {
    /// Lines written so far (of the current run, or of the previous one when asked).
    pub lines: Vec<LogLine>,
    /// Later lines, while the container runs; `None` when it has ended (or for a previous run).
    pub follow: Option<broadcast::Receiver<LogLine>>,
}

/// Why the node cannot do what was asked; messages follow upstream's wording.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NodeError {
    /// The pod is not on this node or not running yet.
    #[error("{0}")]
    PodNotRunning(String),
    /// The container named does not exist in the pod.
    #[error("{0}")]
    NoSuchContainer(String),
    /// Nothing listens on the port inside the pod.
    #[error("{0}")]
    ConnectionRefused(String),
    /// A log of a run that never happened (e.g. `--previous` before any restart).
    #[error("{0}")]
    NoLog(String),
}

/// The node's InternalIP, and every pod's hostIP.
pub const HOST_IP: &str = "192.168.49.2";

/// The node: its pods' virtual filesystems and running containers.
pub struct SimulatedNode {
    sandbox: Arc<Sandbox>,
    clients: Arc<dyn ClusterClients>,
    runtime: tokio::runtime::Handle,
    /// Container exits, as triggers for the kubelet (the only writer of pod status).
    exits: TriggerSender,
    pods: network::PodMap,
    pulled: Mutex<HashSet<String>>,
    next_ip: AtomicU32,
    /// The pace from the Node object's annotation (kept current by the node-status controller).
    pace: AtomicU8,
    /// Set when the node shuts down: its tasks (container runs, probes) end, so nothing holds the
    /// sandbox after.
    shutting_down: tokio::sync::watch::Sender<bool>,
}

impl SimulatedNode {
    /// The node's name, as pods' `spec.nodeName` and events show it.
    pub const NAME: &'static str = "sandbox";

    /// A node with no pods in `sandbox`, running containers on `runtime`, giving containers their
    /// in-pod kubectl from `clients`. Container exits go to `exits`: the kubelet's trigger channel.
    pub fn new(
        sandbox: Arc<Sandbox>,
        clients: Arc<dyn ClusterClients>,
        runtime: tokio::runtime::Handle,
        exits: TriggerSender,
    ) -> Self {
        let pace = sandbox
            .get(gitops_sandbox_core::registry::builtin_type("", "nodes"), None, Self::NAME)
            .map(|n| pace::Pace::of_node(&n))
            .unwrap_or_default();
        Self {
            sandbox,
            clients,
            runtime,
            exits,
            pods: network::PodMap::default(),
            pulled: Mutex::new(images::table().preloaded.iter().cloned().collect()),
            next_ip: AtomicU32::new(0),
            pace: AtomicU8::new(pace.to_u8()),
            shutting_down: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Stops every pod's containers and the node's tasks, as the server stops: the sandbox's store
    /// is then released (a restart in the same process opens it again). Pod statuses are not
    /// rewritten; the next start runs the pods again, as a kubelet does after a reboot.
    pub fn shut_down(&self) {
        self.shutting_down.send_replace(true);
        for pod in self.pods().values() {
            pod.stop_all();
        }
    }

    /// How fast containers come and go on the node now.
    pub fn pace(&self) -> pace::Pace {
        pace::Pace::from_u8(self.pace.load(Ordering::Relaxed))
    }

    /// Takes on the pace the Node object asks for.
    pub fn set_pace(&self, pace: pace::Pace) {
        self.pace.store(pace.to_u8(), Ordering::Relaxed);
    }

    /// The sandbox the node belongs to.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The sandbox, shared (for tasks that outlive a call, such as probes).
    pub(crate) fn shared_sandbox(&self) -> Arc<Sandbox> {
        self.sandbox.clone()
    }

    /// Runs a node task (a container's run, a probe) on the node's runtime, until it ends or the
    /// node shuts down.
    pub(crate) fn spawn_task(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut shutting_down = self.shutting_down.subscribe();
        self.runtime.spawn(async move {
            tokio::select! {
                () = task => {}
                _ = shutting_down.wait_for(|down| *down) => {}
            }
        });
    }

    fn pods(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<PodRuntime>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sandbox of a pod (of this uid) on the node.
    pub fn pod(&self, namespace: &str, name: &str, uid: &str) -> Option<Arc<PodRuntime>> {
        self.pods().get(&(namespace.to_string(), name.to_string())).filter(|p| p.uid == uid).cloned()
    }

    pub(crate) fn running_pod(&self, namespace: &str, name: &str) -> Option<Arc<PodRuntime>> {
        self.pods().get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// Sets up a new pod's sandbox: an IP and its volumes.
    pub fn admit(&self, pod: &serde_json::Value) -> Result<Arc<PodRuntime>, volumes::MountError> {
        let namespace = object::namespace(pod).to_string();
        let name = object::name(pod).to_string();
        // A host-network pod (kube-proxy, the control plane) shares the node's address.
        let ip = if pod["spec"]["hostNetwork"] == true { HOST_IP.to_string() } else { self.allocate_ip() };
        let built = volumes::build(&self.sandbox, pod, &ip)?;
        let runtime = Arc::new(PodRuntime {
            namespace: namespace.clone(),
            name: name.clone(),
            uid: object::uid(pod).to_string(),
            ip,
            started: jiff::Timestamp::now(),
            volumes: Mutex::new(built),
            containers: Mutex::default(),
            listeners: Mutex::default(),
            stopping: Mutex::default(),
        });
        if let Some(old) = self.pods().insert((namespace, name), runtime.clone()) {
            old.stop_all();
        }
        Ok(runtime)
    }

    /// A free address in 10.244.0.0/16 (skipping .0 and .1 of the first block, the bridge's).
    fn allocate_ip(&self) -> String {
        let used: HashSet<String> = self.pods().values().map(|p| p.ip.clone()).collect();
        loop {
            let n = self.next_ip.fetch_add(1, Ordering::Relaxed) % 65_530 + 2;
            let ip = format!("10.244.{}.{}", n / 256, n % 256);
            if !n.is_multiple_of(256) && n % 256 != 255 && !used.contains(&ip) {
                return ip;
            }
        }
    }

    /// Stops a pod's containers and drops its sandbox.
    pub fn forget(&self, namespace: &str, name: &str) {
        if let Some(runtime) = self.pods().remove(&(namespace.to_string(), name.to_string())) {
            runtime.stop_all();
        }
    }

    /// Whether an image was pulled on this node already.
    pub fn pulled(&self, image: &str) -> bool {
        self.pulled.lock().unwrap_or_else(|e| e.into_inner()).contains(image)
    }

    /// Remembers a pulled image (for `IfNotPresent`).
    pub fn mark_pulled(&self, image: &str) {
        self.pulled.lock().unwrap_or_else(|e| e.into_inner()).insert(image.to_string());
    }

    /// A callback for when a container of the pod ends: it queues the pod for the kubelet, which
    /// then records the exit in the pod's status (one writer of pod status).
    pub fn exit_notifier(&self, namespace: &str, name: &str) -> Arc<dyn Fn() + Send + Sync> {
        let exits = self.exits.clone();
        let pod =
            ObjectRef { resource: kubelet::pods().id(), namespace: namespace.to_string(), name: name.to_string() };
        Arc::new(move || {
            // Closed only when the controllers stop: then nobody needs the status any more.
            let _ = exits.send(pod.clone());
        })
    }

    /// The cluster network as the pod `rt` sees it (for `wget`, `curl`, `nslookup`).
    pub fn network(&self, rt: &PodRuntime) -> Arc<dyn gitops_sandbox_shell::net::Network> {
        Arc::new(network::PodNetwork::new(self.sandbox.clone(), self.pods.clone(), &rt.namespace, &rt.ip))
    }

    /// The in-pod kubectl factory, for images that have the `kubectl` tool.
    pub fn clients(&self) -> Arc<dyn ClusterClients> {
        self.clients.clone()
    }

    /// Starts a container run's task (none once the node is shutting down; one that is still
    /// starting when the node shuts down ends with it, as it may not answer the stop signal yet).
    pub fn spawn(&self, run: containers::Run) {
        if !*self.shutting_down.borrow() {
            self.spawn_task(containers::run_to_end(run));
        }
    }

    /// Whether any pod of this node runs in `namespace` (and so might mount one of its ConfigMaps).
    pub fn runs_pods_in(&self, namespace: &str) -> bool {
        self.pods().values().any(|p| p.namespace == namespace)
    }

    /// [`SimulatedNode::runs_pods_in`] without waiting: true if the pod table is busy (a watch
    /// filter asks this while the store publishes, and must not wait on a lock).
    pub fn may_run_pods_in(&self, namespace: &str) -> bool {
        match self.pods.try_lock() {
            Ok(pods) => pods.values().any(|p| p.namespace == namespace),
            Err(std::sync::TryLockError::Poisoned(pods)) => {
                pods.into_inner().values().any(|p| p.namespace == namespace)
            }
            Err(std::sync::TryLockError::WouldBlock) => true,
        }
    }

    /// Rebuilds the volumes that `matches` selects in every pod of `namespace` (ConfigMap updates).
    pub fn refresh_volumes(&self, namespace: &str, matches: impl Fn(&serde_json::Value) -> bool) {
        let sb = self.sandbox();
        let pods: Vec<Arc<PodRuntime>> = self.pods().values().filter(|p| p.namespace == namespace).cloned().collect();
        for rt in pods {
            let Some(pod) = sb.get(kubelet::pods(), Some(namespace), &rt.name) else { continue };
            for volume in pod["spec"]["volumes"].as_array().into_iter().flatten().filter(|v| matches(v)) {
                let name = volume["name"].as_str().unwrap_or_default();
                // A volume that cannot be rebuilt (the ConfigMap was deleted) keeps its last files, as upstream's.
                let Ok(Some(files)) = volumes::volume_files(sb, &pod, volume, &rt.ip) else { continue };
                let fresh =
                    gitops_sandbox_shell::vfs::Volume::with_files(files.iter().map(|(p, b)| (p.as_str(), b.clone())));
                if let Some(existing) = rt.volumes.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
                    existing.replace_with(&fresh);
                }
            }
        }
    }

    /// A pod's container by name (empty: the first app container in spec order).
    pub(crate) fn container_name(&self, rt: &PodRuntime, container: &str) -> Result<String, NodeError> {
        if !container.is_empty() {
            return match rt.containers().contains_key(container) {
                true => Ok(container.to_string()),
                false => {
                    Err(NodeError::NoSuchContainer(format!("container {container} is not valid for pod {}", rt.name)))
                }
            };
        }
        let pod = self.sandbox.get(kubelet::pods(), Some(&rt.namespace), &rt.name);
        let first = pod.and_then(|pod| pod["spec"]["containers"][0]["name"].as_str().map(String::from));
        first
            .or_else(|| rt.containers().values().find(|c| !c.init).map(|c| c.name.clone()))
            .ok_or_else(|| NodeError::NoSuchContainer(format!("pod {} has no containers", rt.name)))
    }

    pub(crate) fn not_running(namespace: &str, pod: &str) -> NodeError {
        NodeError::PodNotRunning(format!("pod {pod} in namespace {namespace} is not running on the sandbox node"))
    }
}

/// The node's controllers, in start order, each with the triggers it takes besides store events:
/// the Node object's status, the scheduler, the kubelet (woken by container exits from
/// [`SimulatedNode::new`]'s channel), and the refresh of ConfigMap volumes.
pub fn controllers(node: &Arc<SimulatedNode>, exits: Triggers) -> Vec<(Arc<dyn Controller>, Option<Triggers>)> {
    vec![
        (Arc::new(heartbeat::NodeStatus { node: node.clone() }), None),
        (Arc::new(scheduler::Scheduler), None),
        (Arc::new(kubelet::Kubelet { node: node.clone() }), Some(exits)),
        (Arc::new(kubelet::ConfigMapVolumes { node: node.clone() }), None),
    ]
}

/// Registers the Node object and the static pods' mirror pods (in the background: they are store
/// writes), as a kubelet does when it starts.
pub fn register(sandbox: &Arc<Sandbox>) {
    let sb = sandbox.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = heartbeat::ensure(&sb) {
            eprintln!("sandbox node: cannot register the Node object: {}", e.message);
        }
        if let Err(e) = kubelet::static_pods::ensure(&sb, None) {
            eprintln!("sandbox node: cannot create the static pods' mirror pods: {}", e.message);
        }
    });
}

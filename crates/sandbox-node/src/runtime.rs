//! The container runtime's state: a sandbox per pod (IP, volumes), and per container its state,
//! restarts, logs, process table and listening ports. The kubelet decides; this module records.

use super::{LogLine, NodeError};
use bytes::Bytes;
use gitops_sandbox_shell::vfs::{Filesystem, Volume};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How many lines a container's log keeps (older ones are dropped, as log rotation would).
const LOG_LINES: usize = 10_000;

/// The output of one run of a container.
pub struct LogRun {
    inner: Mutex<LogInner>,
}

struct LogInner {
    lines: VecDeque<LogLine>,
    partial: Vec<u8>,
    /// Followers' channel; dropped when the run ends, which ends their streams.
    sender: Option<broadcast::Sender<LogLine>>,
}

impl LogRun {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        let (sender, _) = broadcast::channel(1024);
        Arc::new(Self {
            inner: Mutex::new(LogInner { lines: VecDeque::new(), partial: Vec::new(), sender: Some(sender) }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends output; complete lines become log lines, a trailing partial line waits for more.
    pub fn write(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        inner.partial.extend_from_slice(bytes);
        while let Some(end) = inner.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = inner.partial.drain(..=end).collect();
            self.push(&mut inner, line);
        }
    }

    /// Writes one line (a newline is added).
    pub fn line(&self, text: &str) {
        self.write(format!("{text}\n").as_bytes());
    }

    fn push(&self, inner: &mut LogInner, text: Vec<u8>) {
        let line = LogLine { at: jiff::Timestamp::now(), text: Bytes::from(text) };
        if inner.lines.len() == LOG_LINES {
            inner.lines.pop_front();
        }
        inner.lines.push_back(line.clone());
        // Nobody following is fine.
        if let Some(sender) = &inner.sender {
            let _ = sender.send(line);
        }
    }

    /// Ends the run: flushes a partial line; followers see the stream end.
    pub fn close(&self) {
        let mut inner = self.lock();
        if !inner.partial.is_empty() {
            let rest = std::mem::take(&mut inner.partial);
            self.push(&mut inner, rest);
        }
        inner.sender = None;
    }

    /// The lines so far and, while the run goes on, a receiver for later ones.
    pub fn snapshot(&self) -> (Vec<LogLine>, Option<broadcast::Receiver<LogLine>>) {
        let inner = self.lock();
        let follow = inner.sender.as_ref().map(broadcast::Sender::subscribe);
        (inner.lines.iter().cloned().collect(), follow)
    }
}

/// A container's PID namespace: the shell's process table (PID 1 is the main process, whose
/// signals the runtime watches).
pub use gitops_sandbox_shell::ProcessTable as Processes;

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Termination {
    /// The exit code.
    pub exit_code: i32,
    /// `Completed`, `Error`, `StartError`…
    pub reason: String,
    /// A message for the status, if any.
    pub message: Option<String>,
    /// When it started.
    pub started: jiff::Timestamp,
    /// When it ended.
    pub finished: jiff::Timestamp,
    /// The runtime's ID of that run.
    pub container_id: String,
}

/// The state of a container, as the status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not running: `reason` (ContainerCreating, PodInitializing, CrashLoopBackOff, ErrImagePull…).
    Waiting {
        /// The reason.
        reason: String,
        /// The message, if any.
        message: Option<String>,
    },
    /// Running since `started`.
    Running {
        /// When it started.
        started: jiff::Timestamp,
        /// The run's ID.
        container_id: String,
    },
    /// Ended.
    Terminated(Termination),
}

/// One container of a pod, across its runs.
pub struct Container {
    /// Its name.
    pub name: String,
    /// Whether it is an init container.
    pub init: bool,
    /// The current state.
    pub state: State,
    /// The previous run's end.
    pub last: Option<Termination>,
    /// Runs after the first.
    pub restarts: u32,
    /// The next back-off delay (`None`: the next restart is immediate).
    pub backoff: Option<Duration>,
    /// While in back-off: when the next start may happen.
    pub backoff_until: Option<tokio::time::Instant>,
    /// Whether the image was resolved (`image`, `image_id`).
    pub image: Option<(String, String)>,
    /// The current run's number (a finished run reports only if it is still current).
    pub run: u64,
    /// The current run's log.
    pub log: Arc<LogRun>,
    /// The previous run's log.
    pub previous_log: Option<Arc<LogRun>>,
    /// The container's filesystem (its image root plus the pod's volumes).
    pub fs: Option<Filesystem>,
    /// The container's environment.
    pub env: Vec<(String, String)>,
    /// Its PID namespace.
    pub processes: Processes,
    /// The signal that stops the current run (what its main process handles).
    pub stop_signal: i32,
    /// Extra shell commands of its image (`git`, `kubectl`).
    pub tools: Vec<String>,
    /// At the realistic pace: the start under way (its image being pulled, its sandbox created).
    pub preparing: Option<Preparing>,
    /// Whether the current run passed its startup probe (true without one).
    pub started: bool,
    /// The main process's standard input (a container made with `stdin: true`), for attaching.
    pub stdin: Option<mpsc::Sender<Bytes>>,
    /// Whether the first attach takes the standard input away (`stdinOnce`): its end is the
    /// process's end of input.
    pub stdin_once: bool,
    /// Whether the current run passes its readiness probe (true without one).
    pub probed_ready: bool,
}

/// A container start that takes time at the realistic pace.
#[derive(Debug, Clone, Copy)]
pub struct Preparing {
    /// When it began.
    pub since: tokio::time::Instant,
    /// When the container may start.
    pub ready_at: tokio::time::Instant,
    /// Whether its image is being pulled (the `Pulled` event then says how long it took).
    pub pulling: bool,
}

impl Container {
    /// A container that has not started yet.
    pub fn new(name: &str, init: bool, waiting: &str) -> Self {
        Self {
            name: name.into(),
            init,
            state: State::Waiting { reason: waiting.into(), message: None },
            last: None,
            restarts: 0,
            backoff: None,
            backoff_until: None,
            image: None,
            run: 0,
            log: LogRun::new(),
            previous_log: None,
            fs: None,
            env: Vec::new(),
            processes: Processes::new(""),
            stop_signal: 9,
            tools: Vec::new(),
            preparing: None,
            started: true,
            probed_ready: true,
            stdin: None,
            stdin_once: false,
        }
    }

    /// How the latest run ended: the current state if terminated, else the previous run's end.
    pub fn last_run(&self) -> Option<&Termination> {
        match &self.state {
            State::Terminated(t) => Some(t),
            _ => self.last.as_ref(),
        }
    }

    /// Whether its main process runs.
    pub fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Whether it runs and its probes say it is ready (started, and passing readiness).
    pub fn ready(&self) -> bool {
        self.running() && self.started && self.probed_ready
    }

    /// The exit code of its current state, if it has ended.
    pub fn exit_code(&self) -> Option<i32> {
        match &self.state {
            State::Terminated(t) => Some(t.exit_code),
            _ => None,
        }
    }
}

/// Where a listening container takes new connections: the port dialled, and the stream.
pub type Accept = mpsc::UnboundedSender<(u16, tokio::io::DuplexStream)>;

/// A listening port of a pod.
pub struct Listener {
    /// The container that listens.
    pub container: String,
    /// Where its connections go.
    pub accept: Accept,
    /// Whether it speaks HTTPS (a daemon's `tlsPorts`): probes check the scheme against it.
    pub tls: bool,
}

/// One pod's sandbox on the node.
pub struct PodRuntime {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid (a recreated pod with the same name gets a new sandbox).
    pub uid: String,
    /// The pod's IP.
    pub ip: String,
    /// When the kubelet took the pod on.
    pub started: jiff::Timestamp,
    /// The pod's volumes by name.
    pub volumes: Mutex<BTreeMap<String, Volume>>,
    /// Its containers (init and app) by name, with their state.
    pub containers: Mutex<BTreeMap<String, Container>>,
    /// Listening ports.
    pub listeners: Mutex<HashMap<u16, Listener>>,
    /// At the realistic pace, while the pod is being deleted: when its containers will have stopped.
    pub stopping: Mutex<Option<tokio::time::Instant>>,
}

impl PodRuntime {
    /// The containers, locked.
    pub fn containers(&self) -> MutexGuard<'_, BTreeMap<String, Container>> {
        self.containers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts listening on `port` for `container` (speaking HTTPS if `tls`).
    pub fn listen(&self, port: u16, container: &str, accept: Accept, tls: bool) {
        let listener = Listener { container: container.into(), accept, tls };
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).insert(port, listener);
    }

    /// Stops every listener of `container`.
    pub fn unlisten(&self, container: &str) {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, l| l.container != container);
    }

    /// Whether something listens on `port`.
    pub fn listens_on(&self, port: u16) -> bool {
        self.speaks_tls(port).is_some()
    }

    /// Whether something listens on `port`, and if so whether it speaks HTTPS.
    pub fn speaks_tls(&self, port: u16) -> Option<bool> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).get(&port).map(|l| l.tls)
    }

    /// Opens a connection to `port`, like a dial to the pod's IP.
    pub fn connect(&self, port: u16) -> Result<tokio::io::DuplexStream, NodeError> {
        let refused = || {
            NodeError::ConnectionRefused(format!(
                "error forwarding port {port} to pod {}_{}, uid {}: failed to connect to localhost:{port} inside the \
                    pod's network namespace: dial tcp4 127.0.0.1:{port}: connect: connection refused",
                self.name, self.namespace, self.uid
            ))
        };
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let listener = listeners.get(&port).ok_or_else(refused)?;
        let (client, server) = tokio::io::duplex(256 * 1024);
        listener.accept.send((port, server)).map_err(|_| refused())?;
        Ok(client)
    }

    /// Stops every running container's main process (with its stop signal) and closes the ports.
    pub fn stop_all(&self) {
        for container in self.containers().values().filter(|c| c.running()) {
            let _ = container.processes.signal(1, container.stop_signal);
        }
        self.listeners.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_split_lines_and_keep_partial_ones_until_closed() {
        let log = LogRun::new();
        log.write(b"a\nb");
        let (lines, follow) = log.snapshot();
        assert_eq!(lines.len(), 1);
        assert!(follow.is_some());
        log.write(b"c\n");
        log.write(b"tail");
        log.close();
        let (lines, follow) = log.snapshot();
        let texts: Vec<&[u8]> = lines.iter().map(|l| l.text.as_ref()).collect();
        assert_eq!(texts, [&b"a\n"[..], b"bc\n", b"tail"]);
        assert!(follow.is_none());
    }

    #[test]
    fn followers_receive_later_lines() {
        let log = LogRun::new();
        let (_, follow) = log.snapshot();
        let mut follow = follow.unwrap();
        log.line("hello");
        assert_eq!(follow.try_recv().unwrap().text, Bytes::from("hello\n"));
    }

    #[test]
    fn signalling_pid_one_reaches_its_watcher_and_unknown_pids_fail_like_kill() {
        let procs = Processes::new("nginx: master process");
        let worker = procs.add_resident(1, "nginx: worker process");
        assert_eq!(procs.list().iter().map(|p| p.pid).collect::<Vec<_>>(), [1, worker]);
        let rx = procs.watch(1).unwrap();
        procs.signal(1, 15).unwrap();
        assert_eq!(*rx.borrow(), Some(15));
        assert_eq!(procs.signal(99, 15).unwrap_err(), "can't kill pid 99: No such process");
    }

    #[test]
    fn a_port_nobody_listens_on_refuses_connections() {
        let pod = PodRuntime {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u".into(),
            ip: "10.244.0.5".into(),
            started: jiff::Timestamp::now(),
            volumes: Mutex::default(),
            containers: Mutex::default(),
            listeners: Mutex::default(),
            stopping: Mutex::default(),
        };
        let err = pod.connect(81).unwrap_err();
        assert!(matches!(err, NodeError::ConnectionRefused(m) if m.contains("connect: connection refused")));
        let (tx, mut rx) = mpsc::unbounded_channel();
        pod.listen(80, "nginx", tx, false);
        pod.connect(80).unwrap();
        assert_eq!(rx.try_recv().map(|(port, _)| port).ok(), Some(80));
        assert_eq!((pod.speaks_tls(80), pod.speaks_tls(81)), (Some(false), None));
        pod.unlisten("nginx");
        assert!(pod.connect(80).is_err());
    }
}

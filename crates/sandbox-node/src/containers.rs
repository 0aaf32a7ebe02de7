//! Running one container: its main process as a task that plays the image's behaviour (an HTTP
//! server, a cluster component's health endpoints, the shell, or the failure of an image the
//! sandbox cannot run) until it exits or is signalled, then records how it ended.

use super::daemon::Daemon;
use super::http::{self, Responder};
use super::images::{Behaviour, ImageSpec, ImageTable};
use super::nginx::Nginx;
use super::runtime::{LogRun, PodRuntime, Processes, State, Termination};
use super::sample_app::SampleApp;
use bytes::Bytes;
use gitops_sandbox_shell::vfs::Filesystem;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What a run does.
#[derive(Clone)]
pub enum Program {
    /// The image's own behaviour (nginx, the sample app, a cluster component).
    Behaviour(&'static ImageSpec, String),
    /// The shell runs argv (shell images, or another command in any simulated image).
    Shell(Option<&'static ImageSpec>),
    /// An image the sandbox does not simulate: it explains and exits.
    Unsupported(String),
}

/// Everything a run needs.
pub struct Run {
    /// The pod's sandbox.
    pub pod: Arc<PodRuntime>,
    /// The container's name.
    pub container: String,
    /// The run's number (a stale run's end is ignored).
    pub run: u64,
    /// What it does.
    pub program: Program,
    /// Its argv.
    pub argv: Vec<String>,
    /// Its filesystem.
    pub fs: Filesystem,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Where stdout and stderr go.
    pub log: Arc<LogRun>,
    /// Its PID namespace.
    pub processes: Processes,
    /// The run's ID.
    pub container_id: String,
    /// When it started.
    pub started: jiff::Timestamp,
    /// Called after the end is recorded (the kubelet then syncs the pod's status).
    pub on_exit: Arc<dyn Fn() + Send + Sync>,
    /// Extra shell commands of the image (`git`, `kubectl`).
    pub tools: Vec<String>,
    /// The in-pod `kubectl` factory (used when the image has the tool).
    pub clients: Option<Arc<dyn super::ClusterClients>>,
    /// The cluster network as the pod sees it.
    pub network: Option<Arc<dyn gitops_sandbox_shell::net::Network>>,
    /// The main process's standard input, for a container made with `stdin: true` (what `kubectl
    /// attach -i` writes to); `None`: the process reads nothing.
    pub stdin: Option<mpsc::Receiver<Bytes>>,
    /// Whether the container has a terminal (`tty: true`).
    pub tty: bool,
}

/// Exit code of a process killed by SIGKILL.
const KILLED: i32 = 137;

/// Signals an HTTP behaviour handles by shutting down cleanly (INT, QUIT, TERM).
fn handled(signal: i32) -> bool {
    matches!(signal, 2 | 3 | 15)
}

/// The signal the kubelet sends to stop a run of `program` (what it handles, else SIGKILL, since
/// a PID 1 without a handler ignores TERM; the realistic pace waits for it, capped: node/pace.rs).
pub fn stop_signal(program: &Program) -> i32 {
    match program {
        Program::Behaviour(..) => SIGTERM,
        _ => 9,
    }
}

/// The signal a graceful stop sends first.
pub const SIGTERM: i32 = 15;

/// What `ps -ef` shows as PID 1 for a run.
pub fn main_command(program: &Program, argv: &[String]) -> String {
    match program {
        Program::Behaviour(spec, _) if !spec.processes.is_empty() => spec.processes[0].clone(),
        _ => argv.join(" "),
    }
}

/// The run's main process until it ends, then its end recorded.
pub async fn run_to_end(mut run: Run) {
    let stdin = run.stdin.take();
    let code = main_process(&run, stdin).await;
    finish(&run, code);
}

async fn main_process(run: &Run, stdin: Option<mpsc::Receiver<Bytes>>) -> i32 {
    let table = super::images::table();
    let Some(mut signals) = run.processes.watch(1) else { return KILLED };
    match &run.program {
        Program::Behaviour(spec, tag) => {
            for helper in spec.processes.iter().skip(1) {
                run.processes.add_resident(1, helper);
            }
            for line in &spec.start_log {
                run.log.line(&spec.fill_at(line, tag, jiff::Timestamp::now()));
            }
            let responders = responders(spec, tag, table, run);
            serve(run, spec, responders, &mut signals).await
        }
        // The shell watches PID 1's signals itself.
        Program::Shell(_) => run_shell(run, stdin).await,
        Program::Unsupported(image) => {
            for line in table.unknown_log(image) {
                run.log.line(&line);
            }
            table.unknown.exit_code
        }
    }
}

/// What answers on each port the image listens on.
fn responders(
    spec: &'static ImageSpec,
    tag: &str,
    table: &'static ImageTable,
    run: &Run,
) -> HashMap<u16, Arc<dyn Responder>> {
    let shared: Arc<dyn Responder> = match spec.behaviour {
        Behaviour::Nginx => Arc::new(Nginx {
            fs: run.fs.clone(),
            server: format!("nginx/{}", spec.version_for(tag)),
            table,
            log: run.log.clone(),
            modified: run.started,
        }),
        Behaviour::Daemon => {
            let now = jiff::Timestamp::now();
            let daemon = |port: u16| -> Arc<dyn Responder> {
                let answers = spec.answers.iter().filter(|a| a.port == port);
                Arc::new(Daemon {
                    answers: answers.map(|a| (a.path.clone(), spec.fill_at(&a.body, tag, now))).collect(),
                })
            };
            return spec.listening_ports().into_iter().map(|port| (port, daemon(port))).collect();
        }
        _ => Arc::new(SampleApp { tag: tag.to_string() }),
    };
    spec.listening_ports().into_iter().map(|port| (port, shared.clone())).collect()
}

/// Listens on the image's ports and serves connections until a signal ends the process.
async fn serve(
    run: &Run,
    spec: &ImageSpec,
    responders: HashMap<u16, Arc<dyn Responder>>,
    signals: &mut watch::Receiver<Option<i32>>,
) -> i32 {
    let (accept, mut connections) = mpsc::unbounded_channel();
    for port in responders.keys() {
        run.pod.listen(*port, &run.container, accept.clone(), spec.tls_ports.contains(port));
    }
    // Kept open: a daemon without ports (the storage provisioner) runs until it is signalled.
    let _accepting = accept;
    loop {
        tokio::select! {
            stream = connections.recv() => match stream {
                Some((port, stream)) => {
                    let Some(responder) = responders.get(&port).cloned() else { continue };
                    tokio::spawn(async move { http::serve(stream, responder.as_ref()).await });
                }
                None => return 0,
            },
            changed = signals.changed() => {
                let Ok(()) = changed else { return KILLED };
                match *signals.borrow() {
                    Some(9) => return KILLED,
                    Some(s) if handled(s) => return 0,
                    _ => {}
                }
            }
        }
    }
}

/// Runs argv through the sandbox's shell as PID 1, its output going to the container's log.
async fn run_shell(run: &Run, stdin: Option<mpsc::Receiver<Bytes>>) -> i32 {
    let target = super::exec::Target {
        fs: run.fs.clone(),
        env: run.env.clone(),
        processes: run.processes.clone(),
        hostname: run.pod.name.clone(),
        tools: run.tools.clone(),
        clients: run.clients.clone(),
        network: run.network.clone(),
    };
    let log = run.log.clone();
    super::exec::main_shell(&target, run.argv.clone(), stdin, run.tty, move |bytes| log.write(bytes)).await
}

/// Records the end of a run, if it is still the container's current run.
fn finish(run: &Run, code: i32) {
    run.pod.unlisten(&run.container);
    run.log.close();
    {
        let mut containers = run.pod.containers();
        let Some(container) = containers.get_mut(&run.container) else { return };
        if container.run != run.run {
            return;
        }
        let reason = if code == 0 { "Completed" } else { "Error" };
        container.state = State::Terminated(Termination {
            exit_code: code,
            reason: reason.into(),
            message: None,
            started: run.started,
            finished: jiff::Timestamp::now(),
            container_id: run.container_id.clone(),
        });
    }
    (run.on_exit)();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Container;
    use gitops_sandbox_shell::vfs::Volume;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pod() -> Arc<PodRuntime> {
        Arc::new(PodRuntime {
            namespace: "default".into(),
            name: "web".into(),
            uid: "u".into(),
            ip: "10.244.0.9".into(),
            started: jiff::Timestamp::now(),
            volumes: Mutex::default(),
            containers: Mutex::default(),
            listeners: Mutex::default(),
            stopping: Mutex::default(),
        })
    }

    fn start(pod: &Arc<PodRuntime>, image: &str, exited: Arc<Mutex<bool>>) -> (Arc<LogRun>, Processes) {
        let table = crate::images::table();
        let crate::images::Resolved::Known(spec, r) = table.resolve(image) else { panic!() };
        let mut c = Container::new("main", false, "ContainerCreating");
        c.run = 1;
        pod.containers().insert("main".into(), c);
        let log = LogRun::new();
        let processes = Processes::new(&spec.processes[0]);
        let run = Run {
            pod: pod.clone(),
            container: "main".into(),
            run: 1,
            program: Program::Behaviour(spec, r.tag.clone()),
            argv: spec.argv(&[], &[]),
            fs: Filesystem::new(spec.root(table, &r.tag)),
            env: Vec::new(),
            log: log.clone(),
            processes: processes.clone(),
            container_id: "sandbox://1".into(),
            started: jiff::Timestamp::now(),
            on_exit: Arc::new(move || *exited.lock().unwrap() = true),
            tools: Vec::new(),
            clients: None,
            network: None,
            stdin: None,
            tty: false,
        };
        tokio::spawn(run_to_end(run));
        (log, processes)
    }

    #[tokio::test]
    async fn nginx_serves_its_default_page_and_ends_on_term() {
        let pod = pod();
        let exited = Arc::new(Mutex::new(false));
        let (log, processes) = start(&pod, "nginx:1.7.9", exited.clone());
        tokio::task::yield_now().await;
        let mut conn = pod.connect(80).unwrap();
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).await.unwrap();
        assert!(text.contains("Server: nginx/1.7.9") && text.contains("Welcome to nginx!"), "{text}");
        assert_eq!(processes.list()[0].command, "nginx: master process nginx -g daemon off;");
        assert_eq!(processes.list()[1].command, "nginx: worker process");
        processes.signal(1, 15).unwrap();
        for _ in 0..100 {
            if *exited.lock().unwrap() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(*exited.lock().unwrap());
        assert!(matches!(&pod.containers()["main"].state,
                State::Terminated(t) if t.exit_code == 0 && t.reason == "Completed"));
        assert!(pod.connect(80).is_err());
        let (lines, _) = log.snapshot();
        assert!(String::from_utf8_lossy(&lines[0].text).contains("docker-entrypoint"));
    }

    #[tokio::test]
    async fn the_sample_app_answers_with_its_tag_on_8080() {
        let pod = pod();
        let (_log, _p) = start(&pod, "gitopsbook/sample-app:v0.3", Arc::new(Mutex::new(false)));
        tokio::task::yield_now().await;
        let mut conn = pod.connect(8080).unwrap();
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).await.unwrap();
        assert!(text.ends_with("\r\n\r\nv0.3\n"), "{text}");
        assert!(pod.connect(80).is_err());
        let _ = Volume::empty();
    }
}

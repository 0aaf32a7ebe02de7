//! The node's pod streams: what the API's streaming handlers (exec, attach, logs, port-forward)
//! ask of a node, and the simulated node's answers. Tests of those handlers use doubles.

use crate::runtime::State;
use crate::{ContainerLog, NodeError, Process, SimulatedNode, exec};
use bytes::Bytes;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

/// What the streaming handlers need from a node; [`SimulatedNode`] is the real one.
pub trait PodStreams: Send + Sync + 'static {
    /// Starts `command` in a container of a running pod (an empty container name means the first).
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Process, NodeError>;
    /// The log of a container (`previous`: of its last terminated run).
    fn logs(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<ContainerLog, NodeError>;
    /// A byte stream to `port` inside a running pod.
    fn connect(&self, namespace: &str, pod: &str, port: u16) -> Result<DuplexStream, NodeError>;
    /// Where `kubectl attach -i` writes: the standard input of a running container's main process.
    /// `None` when the container was not made with `stdin: true`, or when it was made with
    /// `stdinOnce` and an earlier attach took its input. A node without containers has none.
    fn main_stdin(&self, _namespace: &str, _pod: &str, _container: &str) -> Option<mpsc::Sender<Bytes>> {
        None
    }
}

impl PodStreams for SimulatedNode {
    /// Starts `command` in a container of a running pod (an empty container name means the first).
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
        tty: bool,
        stdin: bool,
    ) -> Result<Process, NodeError> {
        let rt = self.running_pod(namespace, pod).ok_or_else(|| SimulatedNode::not_running(namespace, pod))?;
        let name = self.container_name(&rt, container)?;
        let (target, shell_less) = {
            let containers = rt.containers();
            let c = containers
                .get(&name)
                .ok_or_else(|| NodeError::NoSuchContainer(format!("container {name} is not valid for pod {pod}")))?;
            let shell_less = c.image.as_ref().is_some_and(|(image, _)| crate::images::table().shell_less(image));
            let target = match (&c.state, &c.fs) {
                (State::Running { .. }, Some(fs)) => exec::Target {
                    fs: fs.clone(),
                    env: c.env.clone(),
                    processes: c.processes.clone(),
                    hostname: rt.name.clone(),
                    tools: c.tools.clone(),
                    clients: Some(self.clients.clone()),
                    network: Some(self.network(&rt)),
                },
                _ => return Err(NodeError::PodNotRunning(format!("container not found (\"{name}\")"))),
            };
            (target, shell_less)
        };
        // Without a shell in the image, only its own files run (the shell would run anything).
        if let Some(program) = command.first().filter(|p| shell_less && !exec::program_exists(&target, p)) {
            return Ok(exec::missing_program(program));
        }
        Ok(exec::start(&self.runtime, target, command, tty, stdin))
    }

    /// The log of a container (`previous`: of its last terminated run).
    fn logs(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<ContainerLog, NodeError> {
        let rt = self.running_pod(namespace, pod).ok_or_else(|| SimulatedNode::not_running(namespace, pod))?;
        let name = self.container_name(&rt, container)?;
        let containers = rt.containers();
        let c = containers
            .get(&name)
            .ok_or_else(|| NodeError::NoSuchContainer(format!("container {name} is not valid for pod {pod}")))?;
        let waiting = matches!(c.state, State::Waiting { .. });
        // While waiting to restart, the current log is the run that ended: what upstream shows.
        let run = match (previous, waiting) {
            (true, true) if c.last.is_some() => Some(c.log.clone()),
            (true, _) => c.previous_log.clone(),
            (false, true) if c.run == 0 => {
                let reason = match &c.state {
                    State::Waiting { reason, .. } => reason.clone(),
                    _ => String::new(),
                };
                return Err(NodeError::PodNotRunning(format!(
                    "container \"{name}\" in pod \"{pod}\" is waiting to start: {reason}"
                )));
            }
            (false, _) => Some(c.log.clone()),
        };
        let run = run.ok_or_else(|| {
            NodeError::NoLog(format!("previous terminated container \"{name}\" in pod \"{pod}\" not found"))
        })?;
        let (lines, follow) = run.snapshot();
        Ok(ContainerLog { lines, follow: if previous { None } else { follow } })
    }

    /// Opens a connection to `port` inside a running pod, as a byte stream both ways.
    fn connect(&self, namespace: &str, pod: &str, port: u16) -> Result<DuplexStream, NodeError> {
        let rt = self.running_pod(namespace, pod).ok_or_else(|| SimulatedNode::not_running(namespace, pod))?;
        rt.connect(port)
    }

    fn main_stdin(&self, namespace: &str, pod: &str, container: &str) -> Option<mpsc::Sender<Bytes>> {
        let rt = self.running_pod(namespace, pod)?;
        let mut containers = rt.containers();
        let c = match container {
            "" => containers.values_mut().find(|c| !c.init)?,
            name => containers.get_mut(name)?,
        };
        if !c.running() {
            return None;
        }
        // stdinOnce: the first attach owns the input, and its end closes it.
        if c.stdin_once { c.stdin.take() } else { c.stdin.clone() }
    }
}

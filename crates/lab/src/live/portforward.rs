//! The port-forward manager: starts, lists and stops forwards from a loopback port to a pod or to the
//! ready pods of an owner, each announced as `Event::PortForward` whenever it changes.

use super::forwarder::Forwarder;
use super::resolve::{ReadyPod, ready_pod};
use crate::bus::EventBus;
use crate::cluster::ClusterHandle;
use crate::error::{Error, Result};
use gitops_lab_protocol::{Event, ObjectRef, PortForwardState, PortForwardView, Text};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The forwards running.
pub struct PortForwards {
    bus: EventBus,
    next: Mutex<u64>,
    forwards: Mutex<BTreeMap<u64, Running>>,
}

struct Running {
    view: Arc<Mutex<PortForwardView>>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl PortForwards {
    /// No forwards yet.
    pub fn new(bus: EventBus) -> PortForwards {
        PortForwards { bus, next: Mutex::new(1), forwards: Mutex::new(BTreeMap::new()) }
    }

    /// Starts forwarding `local_port` (a free one when absent) on 127.0.0.1 to `port` of the target.
    pub async fn start(
        &self,
        cluster: &ClusterHandle,
        target: ObjectRef,
        port: u16,
        local_port: Option<u16>,
    ) -> Result<PortForwardView> {
        if port == 0 {
            return Err(Error::explained(
                "bad-port",
                Text::new("The container port must be between 1 and 65535.", "容器端口必须在 1 到 65535 之间。"),
                None,
            ));
        }
        let namespace = target.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        let target = ObjectRef { namespace: Some(namespace.clone()), ..target };
        let (pod, state) = match ready_pod(&cluster.client, &namespace, &target).await? {
            ReadyPod::Found(pod) => (Some(pod), PortForwardState::Active),
            ReadyPod::Missing(reason) => (None, PortForwardState::NoPod { reason }),
            ReadyPod::Absent(reason) => return Err(Error::explained("not-found", reason, None)),
        };
        let listener = bind(local_port).await?;
        let local_port = listener.local_addr().map_err(|e| bind_error(local_port.unwrap_or(0), &e))?.port();
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next - 1
        };
        let view = PortForwardView {
            id,
            kubectl: kubectl_command(cluster, &target, local_port, port),
            target: target.clone(),
            pod,
            remote_port: port,
            local_port,
            url: format!("http://127.0.0.1:{local_port}/"),
            state,
        };
        let shared = Arc::new(Mutex::new(view.clone()));
        let forwarder = Forwarder {
            client: cluster.client.clone(),
            namespace,
            target,
            port,
            view: shared.clone(),
            bus: self.bus.clone(),
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(forwarder.run(listener, stopped));
        self.forwards.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Running { view: shared, stop, task });
        self.bus.publish(Event::PortForward(view.clone()));
        Ok(view)
    }

    /// Stops one forward and frees its port.
    pub async fn stop(&self, id: u64) -> Result<PortForwardView> {
        let running = self.forwards.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        let Some(running) = running else {
            return Err(Error::explained(
                "no-such-forward",
                Text::new(
                    format!("Port-forward {id} is not running (it was stopped already)."),
                    format!("端口转发 {id} 没有在运行（它已经被停止）。"),
                ),
                None,
            ));
        };
        Ok(self.finish(running).await)
    }

    /// Stops every forward (engine shutdown, cluster switch).
    pub async fn stop_all(&self) {
        let all: Vec<Running> =
            std::mem::take(&mut *self.forwards.lock().unwrap_or_else(|e| e.into_inner())).into_values().collect();
        for running in all {
            self.finish(running).await;
        }
    }

    async fn finish(&self, running: Running) -> PortForwardView {
        let _ = running.stop.send(());
        // The task owns the listener: once it has ended the port is free again.
        let _ = running.task.await;
        let view = {
            let mut view = running.view.lock().unwrap_or_else(|e| e.into_inner());
            view.state = PortForwardState::Stopped;
            view.clone()
        };
        self.bus.publish(Event::PortForward(view.clone()));
        view
    }

    /// The forwards running, oldest first.
    pub fn list(&self) -> Vec<PortForwardView> {
        let forwards = self.forwards.lock().unwrap_or_else(|e| e.into_inner());
        forwards.values().map(|r| r.view.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect()
    }
}

async fn bind(local_port: Option<u16>) -> Result<TcpListener> {
    let port = local_port.unwrap_or(0);
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|error| bind_error(port, &error))
}

fn bind_error(port: u16, error: &std::io::Error) -> Error {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => Error::explained(
            "port-taken",
            Text::new(
                format!("Local port {port} is already in use by another program."),
                format!("本地端口 {port} 已被其他程序占用。"),
            ),
            Some(Text::new(
                "Pick another local port, or leave it empty and the lab picks a free one.",
                "请换一个本地端口，或者留空，由实验室自动选择一个空闲端口。",
            )),
        ),
        std::io::ErrorKind::PermissionDenied => Error::explained(
            "port-denied",
            Text::new(
                format!("This program may not listen on local port {port} (ports below 1024 need privileges)."),
                format!("本程序无权监听本地端口 {port}（1024 以下的端口需要特权）。"),
            ),
            Some(Text::new("Pick a port above 1024.", "请选择 1024 以上的端口。")),
        ),
        _ => Error::explained(
            "port-failed",
            Text::new(
                format!("Cannot listen on local port {port}: {error}"),
                format!("无法监听本地端口 {port}：{error}"),
            ),
            None,
        ),
    }
}

/// The kubectl command a learner would type for the same forward.
fn kubectl_command(cluster: &ClusterHandle, target: &ObjectRef, local_port: u16, port: u16) -> String {
    let mut command = String::from("kubectl port-forward");
    if let Some(context) = &cluster.context {
        command.push_str(&format!(" --context {context}"));
    }
    if let Some(namespace) = target.namespace.as_deref().filter(|ns| *ns != cluster.default_namespace) {
        command.push_str(&format!(" -n {namespace}"));
    }
    command.push_str(&format!(" {}/{} {local_port}:{port}", target.kind.to_ascii_lowercase(), target.name));
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_named_with_what_to_do() {
        let taken = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let view = bind(Some(port)).await.unwrap_err().view();
        assert_eq!(view.code, "port-taken");
        assert!(view.message.en.contains(&port.to_string()));
        assert!(view.hint.is_some());
    }

    #[tokio::test]
    async fn without_a_port_a_free_one_is_chosen() {
        let listener = bind(None).await.unwrap();
        assert_ne!(listener.local_addr().unwrap().port(), 0);
    }
}

//! One port-forward at work: a loopback listener, a new kube-rs port-forward per connection, and a
//! watch of the namespace's pods that re-targets the forward when its pod goes away.
//!
//! The forward's pod changes only here. When the pod is deleted, stops being ready or starts
//! terminating (as in a rollout), the forward asks the resolver for another ready pod of the same
//! owner: `Retargeting`, then `Active` on the new pod, or `NoPod` with the reason when none is left.
//! While in `NoPod`, any pod that becomes ready triggers another attempt, and a connection that
//! arrives meanwhile is closed at once (refused).

use super::resolve::{ReadyPod, ready_pod, usable};
use crate::bus::EventBus;
use futures::StreamExt;
use gitops_lab_protocol::{Event, ObjectRef, PortForwardState, PortForwardView, Text};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::{Api, Client, ResourceExt};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// What one forward needs while it runs.
pub struct Forwarder {
    /// The cluster's client.
    pub client: Client,
    /// The target's namespace.
    pub namespace: String,
    /// The pod or owner asked for.
    pub target: ObjectRef,
    /// The container port.
    pub port: u16,
    /// The forward as the UI sees it (shared with the manager).
    pub view: Arc<Mutex<PortForwardView>>,
    /// Where changes are announced.
    pub bus: EventBus,
}

impl Forwarder {
    /// Serves connections until `stop` fires (or is dropped).
    pub async fn run(self, listener: TcpListener, mut stop: oneshot::Receiver<()>) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let config = if self.target.kind == "Pod" {
            watcher::Config::default().fields(&format!("metadata.name={}", self.target.name))
        } else {
            watcher::Config::default()
        };
        let mut events = std::pin::pin!(watcher::watcher(pods, config).default_backoff());
        let mut seen_current = false;
        loop {
            tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => {
                    if let Ok((socket, _)) = accepted {
                        self.serve(socket).await;
                    }
                }
                Some(event) = events.next() => {
                    let Ok(event) = event else { continue };
                    if self.needs_retarget(event, &mut seen_current) {
                        self.retarget().await;
                    }
                }
            }
        }
    }

    /// The pod connections go to now.
    fn current(&self) -> Option<String> {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).pod.clone()
    }

    /// Whether a pod event means the forward should look for a pod again.
    fn needs_retarget(&self, event: WatchEvent<Pod>, seen_current: &mut bool) -> bool {
        let current = self.current();
        let is_current = |pod: &Pod| current.as_deref() == Some(pod.name_any().as_str());
        match event {
            WatchEvent::Init => {
                *seen_current = false;
                false
            }
            WatchEvent::InitApply(pod) => {
                *seen_current |= is_current(&pod) && usable(&pod);
                false
            }
            // After a (re)list: the pod may have gone while the watch was away.
            WatchEvent::InitDone => current.is_none() || !*seen_current,
            WatchEvent::Apply(pod) => match current {
                Some(_) => is_current(&pod) && !usable(&pod),
                None => usable(&pod),
            },
            WatchEvent::Delete(pod) => is_current(&pod),
        }
    }

    /// Looks for a ready pod and updates the state.
    async fn retarget(&self) {
        let had_pod = self.current().is_some();
        if had_pod {
            self.update(None, PortForwardState::Retargeting);
        }
        let state = match ready_pod(&self.client, &self.namespace, &self.target).await {
            Ok(ReadyPod::Found(pod)) => return self.update(Some(pod), PortForwardState::Active),
            Ok(ReadyPod::Missing(reason) | ReadyPod::Absent(reason)) => PortForwardState::NoPod { reason },
            Err(error) => PortForwardState::NoPod { reason: error.view().message },
        };
        self.update(None, state);
    }

    /// Changes the view and announces it if anything changed.
    fn update(&self, pod: Option<String>, state: PortForwardState) {
        let changed = {
            let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
            let changed = view.pod != pod || view.state != state;
            view.pod = pod;
            view.state = state;
            changed.then(|| view.clone())
        };
        if let Some(view) = changed {
            self.bus.publish(Event::PortForward(view));
        }
    }

    /// Connects one accepted connection to the pod, re-targeting once if the pod has just gone.
    async fn serve(&self, socket: TcpStream) {
        let _ = socket.set_nodelay(true);
        for _attempt in 0..2 {
            if self.current().is_none() {
                self.retarget().await;
            }
            let Some(pod) = self.current() else { return }; // refused: no pod to go to
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
            match pods.portforward(&pod, &[self.port]).await {
                Ok(forwarder) => {
                    tokio::spawn(relay(forwarder, socket, self.port, pod, self.bus.clone()));
                    return;
                }
                Err(_) => self.retarget().await,
            }
        }
    }
}

/// Copies bytes both ways until either side closes; reports what the pod's side refused.
async fn relay(mut forwarder: kube::api::Portforwarder, mut socket: TcpStream, port: u16, pod: String, bus: EventBus) {
    let Some(mut stream) = forwarder.take_stream(port) else { return };
    if let Some(refused) = forwarder.take_error(port) {
        let pod = pod.clone();
        tokio::spawn(async move {
            if let Some(message) = refused.await {
                let message = Text::new(
                    format!(
                        "Port-forward to port {port} of pod {pod}: the pod refused the connection ({message}). Does its container listen on that port?"
                    ),
                    format!(
                        "转发到 Pod {pod} 的端口 {port}：Pod 拒绝了连接（{message}）。它的容器是否在该端口上监听？"
                    ),
                );
                bus.publish(Event::Notice { level: "warning".into(), message });
            }
        });
    }
    // An error only means one side went away (a pod deleted mid-connection ends it); the next
    // connection goes to whichever pod is current then.
    let _ = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
    drop(stream);
    forwarder.abort();
}

//! The live area: the resource graph, events, YAML, logs, exec sessions and port-forwards.
//!
//! Translates commands into calls on [`Live`], which owns the watches and streams.

use super::Context;
use crate::error::Result;
use crate::live::{ExecRequest, Live};
use gitops_lab_protocol::{Command, Reply};
use std::sync::Arc;

/// The area's state.
pub(super) struct LiveArea {
    live: Arc<Live>,
}

impl LiveArea {
    pub(super) fn new(context: &Context) -> LiveArea {
        LiveArea { live: context.live.clone() }
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        let live = &self.live;
        Ok(match command {
            Command::Graph => Reply::Graph(live.graph()),
            Command::WatchNamespaces { namespaces } => {
                live.watch_namespaces(namespaces)?;
                Reply::Done
            }
            Command::Events => Reply::Events(live.events()),
            Command::GetYaml { object } => Reply::Yaml(live.yaml(&object).await?),
            Command::FollowLogs { pod, container } => Reply::Stream(live.follow_logs(&pod, container).await?),
            Command::ExecStart { pod, container, command, tty, cols, rows } => {
                let request = ExecRequest { pod, container, command, tty, size: (cols, rows) };
                Reply::Stream(live.exec(request).await?)
            }
            Command::ExecInput { stream, data } => {
                live.exec_input(stream, data).await?;
                Reply::Done
            }
            Command::ExecResize { stream, cols, rows } => {
                live.exec_resize(stream, cols, rows).await?;
                Reply::Done
            }
            Command::StopStream { stream } => {
                live.stop_stream(stream)?;
                Reply::Done
            }
            Command::PortForwardStart { target, port, local_port } => {
                Reply::PortForward(live.port_forward(target, port, local_port).await?)
            }
            Command::PortForwardStop { id } => Reply::PortForward(live.stop_port_forward(id).await?),
            Command::PortForwards => Reply::PortForwards(live.port_forwards()),
            other => return Err(super::not_available(&other)),
        })
    }

    pub(super) async fn shutdown(&self) {
        self.live.shutdown().await;
    }
}

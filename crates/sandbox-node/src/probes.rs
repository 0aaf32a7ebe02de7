//! Container probes, run by the simulated kubelet as upstream's prober runs them: a startup,
//! liveness or readiness probe is an `httpGet`, `tcpSocket` or `exec` check, repeated every
//! `periodSeconds` after `initialDelaySeconds`, each given `timeoutSeconds`; `successThreshold`
//! and `failureThreshold` successive results change its verdict.
//!
//! Readiness decides the container's Ready (and so the pod's, and whether its Service sends it
//! traffic); a liveness failure, or a startup probe that never passes, restarts the container.
//! Liveness and readiness wait until the startup probe has passed. Each failure is a `Warning
//! Unhealthy` event (`Liveness probe failed: HTTP probe failed with statuscode: 500`), a restart
//! a `Killing` event, as upstream records them.

use crate::runtime::PodRuntime;
use crate::{SimulatedNode, exec, kubelet};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::events::{EventType, Occurrence};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `startupProbe`: the others wait for it; failing it restarts the container.
    Startup,
    /// `livenessProbe`: failing it restarts the container.
    Liveness,
    /// `readinessProbe`: decides whether the container is Ready.
    Readiness,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Startup, Kind::Liveness, Kind::Readiness];

    fn field(self) -> &'static str {
        match self {
            Kind::Startup => "startupProbe",
            Kind::Liveness => "livenessProbe",
            Kind::Readiness => "readinessProbe",
        }
    }

    /// The word upstream's events use.
    fn label(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// An HTTP GET of `path` on `port`: a status from 200 to 399 passes.
    Http {
        /// The container port.
        port: u16,
        /// The path (and query).
        path: String,
        /// Whether the scheme is HTTPS (the kubelet skips certificate checks; the listener must
        /// speak TLS).
        https: bool,
    },
    /// A TCP connection to `port`: accepted passes.
    Tcp {
        /// The container port.
        port: u16,
    },
    /// A command run in the container: exit code 0 passes.
    Exec {
        /// The command and its arguments.
        command: Vec<String>,
    },
}

/// One probe of a container, as its spec declares it (with upstream's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Which probe.
    pub kind: Kind,
    /// What it checks.
    pub check: Check,
    /// `initialDelaySeconds` (0).
    pub initial_delay: Duration,
    /// `periodSeconds` (10).
    pub period: Duration,
    /// `timeoutSeconds` (1).
    pub timeout: Duration,
    /// `successThreshold` (1).
    pub success_threshold: u32,
    /// `failureThreshold` (3).
    pub failure_threshold: u32,
}

impl Probe {
    /// The container's probe of `kind`, if it declares one the node can run.
    pub fn of(container: &Value, kind: Kind) -> Option<Probe> {
        let spec = &container[kind.field()];
        let check = if let Some(get) = spec["httpGet"].as_object() {
            let https = match get.get("scheme").and_then(Value::as_str) {
                None | Some("HTTP") => false,
                Some("HTTPS") => true,
                Some(_) => return None,
            };
            let path = get.get("path").and_then(Value::as_str).filter(|p| !p.is_empty()).unwrap_or("/");
            Check::Http { port: port(container, &get["port"])?, path: path.to_string(), https }
        } else if let Some(tcp) = spec["tcpSocket"].as_object() {
            Check::Tcp { port: port(container, &tcp["port"])? }
        } else {
            let command: Vec<String> =
                spec["exec"]["command"].as_array()?.iter().filter_map(|a| a.as_str().map(String::from)).collect();
            Check::Exec { command }
        };
        let seconds = |key: &str, default: u64| spec[key].as_u64().filter(|s| *s > 0).unwrap_or(default);
        let count = |key: &str, default: u64| seconds(key, default).min(u64::from(u32::MAX)) as u32;
        Some(Probe {
            kind,
            check,
            initial_delay: Duration::from_secs(spec["initialDelaySeconds"].as_u64().unwrap_or(0)),
            period: Duration::from_secs(seconds("periodSeconds", 10)),
            timeout: Duration::from_secs(seconds("timeoutSeconds", 1)),
            success_threshold: count("successThreshold", 1),
            failure_threshold: count("failureThreshold", 3),
        })
    }
}

/// A probe's port: a number, or the name of one of the container's ports.
fn port(container: &Value, port: &Value) -> Option<u16> {
    if let Some(number) = port.as_u64() {
        return u16::try_from(number).ok();
    }
    let name = port.as_str()?;
    if let Ok(number) = name.parse() {
        return Some(number);
    }
    let ports = container["ports"].as_array()?;
    let found = ports.iter().find(|p| p["name"] == name)?;
    found["containerPort"].as_u64().and_then(|n| u16::try_from(n).ok())
}

/// Sets a new run's probe verdicts (not started and not ready while a probe must pass first) and
/// starts its probes on the node's runtime.
pub fn arm(node: &SimulatedNode, rt: &Arc<PodRuntime>, spec: &Value, run: u64) {
    let name = spec["name"].as_str().unwrap_or_default().to_string();
    let probes: Vec<Probe> =
        if probes_off() { Vec::new() } else { Kind::ALL.iter().filter_map(|kind| Probe::of(spec, *kind)).collect() };
    {
        let mut containers = rt.containers();
        let Some(c) = containers.get_mut(&name) else { return };
        c.started = !probes.iter().any(|p| p.kind == Kind::Startup);
        c.probed_ready = !probes.iter().any(|p| p.kind == Kind::Readiness);
    }
    for probe in probes {
        let prober = Prober {
            sandbox: node.shared_sandbox(),
            rt: rt.clone(),
            container: name.clone(),
            run,
            notify: node.exit_notifier(&rt.namespace, &rt.name),
            network: node.network(rt),
            clients: node.clients(),
        };
        node.spawn_task(prober.run(probe));
    }
}

/// Whether `GITOPS_LAB_SANDBOX_PROBES=off` turns probes off, for tests that stand a simulated image
/// in for a program the sandbox cannot run (its probes would fail where the real program's pass).
fn probes_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var("GITOPS_LAB_SANDBOX_PROBES").is_ok_and(|v| v == "off"))
}

/// One probe's loop, for one run of a container.
struct Prober {
    sandbox: Arc<Sandbox>,
    rt: Arc<PodRuntime>,
    container: String,
    run: u64,
    /// Queues the pod for the kubelet (which writes its status).
    notify: Arc<dyn Fn() + Send + Sync>,
    network: Arc<dyn gitops_sandbox_shell::net::Network>,
    clients: Arc<dyn crate::ClusterClients>,
}

/// What a probe result does.
enum Verdict {
    /// Nothing changes.
    Same,
    /// The container's Ready or started changed: the kubelet writes the status.
    Changed,
    /// The container must be restarted (liveness or startup failed).
    Restart,
    /// The startup probe passed: it stops.
    Done,
}

impl Prober {
    async fn run(self, probe: Probe) {
        tokio::time::sleep(probe.initial_delay).await;
        let (mut successes, mut failures) = (0_u32, 0_u32);
        loop {
            let Some(started) = self.current() else { return };
            if probe.kind == Kind::Startup || started {
                let result = match tokio::time::timeout(probe.timeout, self.check(&probe.check)).await {
                    Ok(result) => result,
                    Err(_) => Err(self.timed_out(&probe.check)),
                };
                match &result {
                    Ok(()) => (successes, failures) = (successes + 1, 0),
                    Err(detail) => {
                        (successes, failures) = (0, failures + 1);
                        let message = format!("{} probe failed: {detail}", probe.kind.label());
                        self.event(EventType::Warning, "Unhealthy", message).await;
                    }
                }
                match self.judge(&probe, successes, failures) {
                    Verdict::Same => {}
                    Verdict::Changed => (self.notify)(),
                    Verdict::Done => return (self.notify)(),
                    Verdict::Restart => return self.restart(probe.kind).await,
                }
            }
            tokio::time::sleep(probe.period).await;
        }
    }

    /// Whether this run is still the container's running one, and if so whether it has started.
    fn current(&self) -> Option<bool> {
        let containers = self.rt.containers();
        let c = containers.get(&self.container)?;
        (c.run == self.run && c.running()).then_some(c.started)
    }

    /// Applies the counts to the container's verdicts.
    fn judge(&self, probe: &Probe, successes: u32, failures: u32) -> Verdict {
        let mut containers = self.rt.containers();
        let Some(c) = containers.get_mut(&self.container).filter(|c| c.run == self.run) else { return Verdict::Same };
        let passed = successes >= probe.success_threshold;
        let failed = failures >= probe.failure_threshold;
        match probe.kind {
            Kind::Startup if passed => {
                c.started = true;
                Verdict::Done
            }
            Kind::Startup | Kind::Liveness if failed => Verdict::Restart,
            Kind::Readiness if passed != c.probed_ready && (passed || failed) => {
                c.probed_ready = passed;
                Verdict::Changed
            }
            _ => Verdict::Same,
        }
    }

    async fn check(&self, check: &Check) -> Result<(), String> {
        match check {
            Check::Http { port, path, https } => self.http_get(*port, path, *https).await,
            Check::Tcp { port } => self.rt.connect(*port).map(drop).map_err(|_| self.refused(*port)),
            Check::Exec { command } => self.exec(command.clone()).await,
        }
    }

    fn refused(&self, port: u16) -> String {
        format!("dial tcp {}:{port}: connect: connection refused", self.rt.ip)
    }

    fn url(&self, port: u16, path: &str, https: bool) -> String {
        format!("{}://{}:{port}{path}", if https { "https" } else { "http" }, self.rt.ip)
    }

    fn timed_out(&self, check: &Check) -> String {
        match check {
            Check::Http { port, path, https } => format!(
                "Get \"{}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
                self.url(*port, path, *https)
            ),
            Check::Tcp { port } => format!("dial tcp {}:{port}: i/o timeout", self.rt.ip),
            Check::Exec { command } => format!("command \"{}\" timed out", command.join(" ")),
        }
    }

    /// GET `path` as the kubelet does (`User-Agent: kube-probe/1.32`); 200–399 passes. TLS is not
    /// played byte for byte: a listener's `tls` flag says which scheme it answers, and a mismatch
    /// fails as it does upstream.
    async fn http_get(&self, port: u16, path: &str, https: bool) -> Result<(), String> {
        let url = self.url(port, path, https);
        match (https, self.rt.speaks_tls(port)) {
            (true, Some(false)) => {
                return Err(format!("Get \"{url}\": http: server gave HTTP response to HTTPS client"));
            }
            // An HTTPS server answers a plain request with 400 ("Client sent an HTTP request to an HTTPS server.").
            (false, Some(true)) => return Err("HTTP probe failed with statuscode: 400".to_string()),
            _ => {}
        }
        let mut stream = self.rt.connect(port).map_err(|_| format!("Get \"{url}\": {}", self.refused(port)))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}:{port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            self.rt.ip
        );
        let lost = |e: std::io::Error| format!("Get \"{url}\": {e}");
        stream.write_all(request.as_bytes()).await.map_err(lost)?;
        let mut head = Vec::new();
        let mut chunk = [0_u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 16 * 1024 {
            let read = stream.read(&mut chunk).await.map_err(lost)?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&chunk[..read]);
        }
        let line = String::from_utf8_lossy(&head);
        let code: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
        if (200..400).contains(&code) { Ok(()) } else { Err(format!("HTTP probe failed with statuscode: {code}")) }
    }

    /// Runs `command` in the container; a non-zero exit fails with what it printed.
    async fn exec(&self, command: Vec<String>) -> Result<(), String> {
        let target = {
            let containers = self.rt.containers();
            let c = containers.get(&self.container).ok_or_else(|| "the container is gone".to_string())?;
            exec::Target {
                fs: c.fs.clone().ok_or_else(|| "the container is not running".to_string())?,
                env: c.env.clone(),
                processes: c.processes.clone(),
                hostname: self.rt.name.clone(),
                tools: c.tools.clone(),
                clients: Some(self.clients.clone()),
                network: Some(self.network.clone()),
            }
        };
        let mut process = exec::start(&tokio::runtime::Handle::current(), target, command, false, false);
        let mut printed = Vec::new();
        while let Some(out) = process.output.recv().await {
            match out {
                crate::Output::Stdout(b) | crate::Output::Stderr(b) => printed.extend_from_slice(&b),
            }
        }
        match process.exit.await {
            Ok(0) => Ok(()),
            _ => Err(String::from_utf8_lossy(&printed).trim_end().to_string()),
        }
    }

    /// Stops the run (its main process gets its stop signal); the kubelet then restarts it.
    async fn restart(&self, kind: Kind) {
        let message =
            format!("Container {} failed {} probe, will be restarted", self.container, kind.label().to_lowercase());
        self.event(EventType::Normal, "Killing", message).await;
        let containers = self.rt.containers();
        if let Some(c) = containers.get(&self.container).filter(|c| c.run == self.run && c.running()) {
            let _ = c.processes.signal(1, c.stop_signal);
        }
    }

    /// Records an event about the pod's container (off the async workers: it is a store write).
    async fn event(&self, kind: EventType, reason: &'static str, message: String) {
        let (sandbox, rt, container) = (self.sandbox.clone(), self.rt.clone(), self.container.clone());
        let _ = tokio::task::spawn_blocking(move || {
            let Some(pod) = sandbox.get(kubelet::pods(), Some(&rt.namespace), &rt.name) else { return };
            if pod["metadata"]["uid"].as_str() != Some(rt.uid.as_str()) {
                return;
            }
            let field_path = Some(format!("spec.containers{{{container}}}"));
            sandbox.record_event(kubelet::SOURCE, Occurrence { about: &pod, field_path, kind, reason, message });
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probes_take_upstreams_defaults_and_named_ports() {
        let container = json!({
            "name": "web", "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"port": "http"}},
            "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 2, "failureThreshold": 1},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5},
        });
        let live = Probe::of(&container, Kind::Liveness).unwrap();
        assert_eq!(live.check, Check::Http { port: 8080, path: "/".into(), https: false });
        assert_eq!(
            (live.period, live.timeout, live.success_threshold, live.failure_threshold),
            (Duration::from_secs(10), Duration::from_secs(1), 1, 3)
        );
        let ready = Probe::of(&container, Kind::Readiness).unwrap();
        assert_eq!(
            (ready.check.clone(), ready.period, ready.failure_threshold),
            (Check::Tcp { port: 80 }, Duration::from_secs(2), 1)
        );
        let startup = Probe::of(&container, Kind::Startup).unwrap();
        assert_eq!(startup.check, Check::Exec { command: vec!["cat".into(), "/tmp/ok".into()] });
        assert_eq!(startup.initial_delay, Duration::from_secs(5));
    }

    #[test]
    fn an_https_probe_is_run_against_the_listeners_scheme() {
        let container = json!({"name": "api", "livenessProbe": {"httpGet": {"port": 8443, "path": "/livez",
            "scheme": "HTTPS"}}});
        let live = Probe::of(&container, Kind::Liveness).unwrap();
        assert_eq!(live.check, Check::Http { port: 8443, path: "/livez".into(), https: true });
    }

    #[test]
    fn a_probe_on_a_port_the_container_does_not_name_is_not_run() {
        let container = json!({"name": "web", "livenessProbe": {"httpGet": {"port": "admin"}},
            "startupProbe": {"httpGet": {"port": 443, "scheme": "FTP"}}, "readinessProbe": {"grpc": {"port": 9090}}});
        assert_eq!(Probe::of(&container, Kind::Liveness), None);
        assert_eq!(Probe::of(&container, Kind::Startup), None, "not a scheme");
        assert_eq!(Probe::of(&container, Kind::Readiness), None, "nor gRPC");
    }
}

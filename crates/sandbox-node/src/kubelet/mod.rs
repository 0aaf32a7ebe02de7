//! The kubelet: for each pod bound to the node, sets up its sandbox, runs init containers in order
//! and then the app containers, restarts them under the pod's restartPolicy with upstream's
//! back-off, reports the status, and stops and removes pods being deleted. It also runs the
//! control plane's static pods (`static_pods`).

mod pull;
pub mod static_pods;

use super::containers::{self, Program, Run};
use super::images::{self, Resolved};
use super::pace::Pace;
use super::runtime::{Container, LogRun, PodRuntime, Processes, State};
use super::{SimulatedNode, status, volumes};
use gitops_sandbox_controllers::{Action, Controller, ObjectRef};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::events::{EventType, Occurrence, Source};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::builtin_type;
use gitops_sandbox_core::registry::{ResourceId, ResourceType};
use gitops_sandbox_core::watch::WatchEvent;
use gitops_sandbox_shell::vfs::Filesystem;
use pull::{Prepared, prepare, pull};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Who the kubelet's events come from.
pub const SOURCE: Source = Source { component: "kubelet", host: Some(SimulatedNode::NAME) };

/// The kubelet as a controller of pods.
pub struct Kubelet {
    /// The node whose pods it runs.
    pub node: Arc<SimulatedNode>,
}

/// The pods type.
pub fn pods() -> &'static ResourceType {
    builtin_type("", "pods")
}

impl Controller for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn primary(&self) -> ResourceId {
        pods().id()
    }

    fn reconcile(&self, _sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        reconcile_pod(&self.node, &target.namespace, &target.name)
    }
}

/// The first back-off delay: upstream's 10 s, or `GITOPS_LAB_SANDBOX_BACKOFF_MS` (for tests).
pub fn backoff_base() -> Duration {
    let ms = std::env::var("GITOPS_LAB_SANDBOX_BACKOFF_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    Duration::from_millis(ms)
}

/// The longest back-off: five minutes upstream, scaled with the base.
fn backoff_cap(base: Duration) -> Duration {
    base * 30
}

/// Whether a container that ended should run again.
fn should_restart(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

/// What to do with a container that ended and should run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Start it now.
    Start,
    /// Wait this long (CrashLoopBackOff).
    Wait(Duration),
}

/// Upstream's back-off: the first restart is immediate; after each later exit the wait is 10 s,
/// 20 s, 40 s… up to 5 min; a run that lasted twice the cap resets it.
pub fn restart_decision(c: &mut Container, now: Instant, base: Duration) -> Next {
    let cap = backoff_cap(base);
    if let Some(until) = c.backoff_until {
        if now < until {
            return Next::Wait(until - now);
        }
        c.backoff_until = None;
        return Next::Start;
    }
    let ran_long = c.last_run().is_some_and(|t| t.finished.duration_since(t.started).unsigned_abs() >= cap * 2);
    if ran_long {
        c.backoff = None;
    }
    match c.backoff {
        None => {
            c.backoff = Some(base);
            Next::Start
        }
        Some(delay) => {
            c.backoff_until = Some(now + delay);
            c.backoff = Some((delay * 2).min(cap));
            Next::Wait(delay)
        }
    }
}

fn field_path(init: bool, name: &str) -> String {
    format!("spec.{}{{{name}}}", if init { "initContainers" } else { "containers" })
}

fn event(sb: &Sandbox, pod: &Value, path: Option<String>, kind: EventType, reason: &str, message: String) {
    sb.record_event(SOURCE, Occurrence { about: pod, field_path: path, kind, reason, message });
}

/// One pass over one pod.
pub fn reconcile_pod(node: &SimulatedNode, namespace: &str, name: &str) -> ApiResult<Action> {
    let sb = node.sandbox();
    let Some(pod) = sb.get(pods(), Some(namespace), name) else {
        node.forget(namespace, name);
        // A static pod's mirror is never gone for long: the kubelet creates it again.
        static_pods::ensure(sb, Some((namespace, name)))?;
        return Ok(Action::Done);
    };
    if pod["spec"]["nodeName"].as_str() != Some(SimulatedNode::NAME) {
        return Ok(Action::Done);
    }
    let uid = object::uid(&pod);
    if pod["metadata"]["deletionTimestamp"].is_string() {
        return terminate(node, &pod);
    }
    let runtime = match node.pod(namespace, name, uid) {
        Some(runtime) => runtime,
        // A finished pod stays finished, also after the sandbox restarts.
        None if matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) => return Ok(Action::Done),
        None => match node.admit(&pod) {
            Ok(runtime) => runtime,
            Err(error) => {
                event(sb, &pod, None, EventType::Warning, "FailedMount", error.0);
                return Ok(Action::RequeueAfter(Duration::from_secs(2)));
            }
        },
    };
    let action = drive(node, &pod, &runtime);
    sync_status(sb, &runtime)?;
    Ok(action)
}

fn container_specs<'a>(pod: &'a Value, list: &str) -> Vec<&'a Value> {
    pod["spec"][list].as_array().map(|v| v.iter().collect()).unwrap_or_default()
}

/// Starts, restarts or waits for containers; returns when to look again.
fn drive(node: &SimulatedNode, pod: &Value, rt: &Arc<PodRuntime>) -> Action {
    let inits = container_specs(pod, "initContainers");
    let apps = container_specs(pod, "containers");
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    {
        let mut containers = rt.containers();
        let first_wait = if inits.is_empty() { "ContainerCreating" } else { "PodInitializing" };
        for (spec, init) in inits.iter().map(|s| (s, true)).chain(apps.iter().map(|s| (s, false))) {
            let name = spec["name"].as_str().unwrap_or_default();
            containers.entry(name.to_string()).or_insert_with(|| Container::new(name, init, first_wait));
        }
    }
    for spec in &inits {
        // Init containers restart unless the pod never restarts anything.
        let init_policy = if policy == "Never" { "Never" } else { "OnFailure" };
        match step(node, pod, rt, spec, true, init_policy) {
            Step::Done => continue,
            Step::Busy => return Action::Done,
            Step::Later(after) => return Action::RequeueAfter(after),
        }
    }
    let mut wake: Option<Duration> = None;
    for spec in &apps {
        if let Step::Later(after) = step(node, pod, rt, spec, false, policy) {
            wake = Some(wake.map_or(after, |w| w.min(after)));
        }
    }
    wake.map_or(Action::Done, Action::RequeueAfter)
}

enum Step {
    /// Completed (init) or nothing to do now.
    Done,
    /// Running or just started: wait for it.
    Busy,
    /// Look again after this long.
    Later(Duration),
}

fn step(node: &SimulatedNode, pod: &Value, rt: &Arc<PodRuntime>, spec: &Value, init: bool, policy: &str) -> Step {
    let name = spec["name"].as_str().unwrap_or_default();
    let (decision, was_terminated) = {
        let mut containers = rt.containers();
        let Some(c) = containers.get_mut(name) else { return Step::Done };
        if c.running() {
            return if init { Step::Busy } else { Step::Done };
        }
        let ended = c.last_run().map(|t| t.exit_code);
        match (&c.state, ended) {
            (State::Waiting { reason, .. }, _)
                if c.run == 0 && !reason.starts_with("Err") && !reason.ends_with("BackOff") =>
            {
                (Next::Start, false)
            }
            (_, Some(0)) if init => return Step::Done,
            (_, Some(code)) if !should_restart(policy, code) => return if init { Step::Busy } else { Step::Done },
            _ => {
                let was_terminated = matches!(c.state, State::Terminated(_));
                (restart_decision(c, Instant::now(), backoff_base()), was_terminated)
            }
        }
    };
    match decision {
        Next::Start => match prepare(node, pod, rt, spec, init) {
            Prepared::Now(pulled_in) => {
                start(node, pod, rt, spec, init, pulled_in);
                Step::Busy
            }
            Prepared::After(after) => Step::Later(after),
        },
        Next::Wait(after) => {
            back_off(node, pod, rt, name, init, after, was_terminated);
            Step::Later(after)
        }
    }
}

/// Shows CrashLoopBackOff (or ImagePullBackOff) while a restart waits.
fn back_off(
    node: &SimulatedNode,
    pod: &Value,
    rt: &PodRuntime,
    name: &str,
    init: bool,
    after: Duration,
    was_terminated: bool,
) {
    let sb = node.sandbox();
    let pod_id = format!("{}_{}({})", rt.name, rt.namespace, rt.uid);
    let pull_failed = {
        let mut containers = rt.containers();
        let Some(c) = containers.get_mut(name) else { return };
        let pull_failed = matches!(&c.state, State::Waiting { reason,
            .. } if reason == "ErrImagePull" || reason == "ImagePullBackOff");
        if let State::Terminated(t) = &c.state {
            c.last = Some(t.clone());
        }
        let delay = c.backoff.map_or(after, |next| next / 2);
        c.state = if pull_failed {
            let image = image_of(pod, name);
            State::Waiting {
                reason: "ImagePullBackOff".into(),
                message: Some(format!("Back-off pulling image \"{image}\"")),
            }
        } else {
            let message = format!("back-off {} restarting failed container={name} pod={pod_id}", human(delay));
            State::Waiting { reason: "CrashLoopBackOff".into(), message: Some(message) }
        };
        pull_failed
    };
    let path = Some(field_path(init, name));
    if pull_failed {
        event(
            sb,
            pod,
            path.clone(),
            EventType::Normal,
            "BackOff",
            format!("Back-off pulling image \"{}\"", image_of(pod, name)),
        );
        event(sb, pod, path, EventType::Warning, "Failed", "Error: ImagePullBackOff".into());
    } else if was_terminated {
        event(
            sb,
            pod,
            path,
            EventType::Warning,
            "BackOff",
            format!("Back-off restarting failed container {name} in pod {pod_id}"),
        );
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`).
fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        s if s < 60 => format!("{s}s"),
        s => format!("{}m{}s", s / 60, s % 60),
    }
}

fn image_of<'a>(pod: &'a Value, name: &str) -> &'a str {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|l| pod["spec"][l].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .and_then(|c| c["image"].as_str())
        .unwrap_or_default()
}

/// Creates and starts one run of a container.
fn start(
    node: &SimulatedNode,
    pod: &Value,
    rt: &Arc<PodRuntime>,
    spec: &Value,
    init: bool,
    pulled_in: Option<Duration>,
) {
    let sb = node.sandbox();
    let name = spec["name"].as_str().unwrap_or_default().to_string();
    let resolved = match pull(node, pod, spec, init, pulled_in) {
        Ok(resolved) => resolved,
        Err((reason, message)) => return wait_after_failed_pull(rt, &name, reason, message),
    };
    let Some(launch) = Launch::of(spec, &resolved) else { return };
    let fs = filesystem(rt, pod, spec, launch.root.clone());
    let mut env = volumes::environment(sb, pod, spec, &launch.image_env, &rt.ip);
    if let Some(dir) = spec["workingDir"].as_str().map(String::from).or(launch.working_dir.clone()) {
        let _ = fs.mkdir(&dir);
        env.retain(|(k, _)| k != "PWD");
        env.push(("PWD".into(), dir));
    }
    let path = Some(field_path(init, &name));
    event(sb, pod, path.clone(), EventType::Normal, "Created", format!("Created container {name}"));
    let Some(run) = begin_run(node, rt, &name, launch, fs, env) else { return };
    event(sb, pod, path, EventType::Normal, "Started", format!("Started container {name}"));
    let number = run.run;
    node.spawn(run);
    // Init containers have no probes (upstream refuses them there).
    if !init {
        crate::probes::arm(node, rt, spec, number);
    }
}

/// A failed pull leaves the container waiting with its reason, and backs off like a crash.
fn wait_after_failed_pull(rt: &PodRuntime, name: &str, reason: String, message: String) {
    let mut containers = rt.containers();
    if let Some(c) = containers.get_mut(name) {
        c.state = State::Waiting { reason, message: Some(message) };
        let _ = restart_decision(c, Instant::now(), backoff_base());
        if c.backoff_until.is_none() {
            c.backoff_until = Some(Instant::now() + backoff_base());
        }
    }
}

/// What a container run starts from: its program and argv, the image's root, environment, extra
/// tools and working directory.
struct Launch {
    program: Program,
    argv: Vec<String>,
    root: gitops_sandbox_shell::vfs::Volume,
    image_env: Vec<(String, String)>,
    reference: images::ImageRef,
    tools: Vec<String>,
    working_dir: Option<String>,
    /// `stdin`, `stdinOnce` and `tty` of the container's spec.
    stdin: bool,
    stdin_once: bool,
    tty: bool,
}

impl Launch {
    /// The launch of `spec`'s container from its resolved image; `None` for an invalid reference.
    fn of(spec: &Value, resolved: &Resolved<'static>) -> Option<Self> {
        let strings = |key: &str| -> Vec<String> {
            spec[key].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect()
        };
        let (command, args) = (strings("command"), strings("args"));
        let (stdin, stdin_once, tty) = (spec["stdin"] == true, spec["stdinOnce"] == true, spec["tty"] == true);
        match resolved {
            Resolved::Known(image, r) => {
                let argv = image.argv(&command, &args);
                let program = match (image.behaviour, image.starts_behaviour(&argv)) {
                    (images::Behaviour::Shell, _) | (_, false) => Program::Shell(Some(image)),
                    _ => Program::Behaviour(image, r.tag.clone()),
                };
                let image_env = image.env.iter().map(|(k, v)| (k.clone(), image.fill(v, &r.tag))).collect();
                let root = image.root(images::table(), &r.tag);
                let (tools, working_dir) = (image.all_tools(images::table()), image.working_dir.clone());
                let reference = r.clone();
                Some(Self { program, argv, root, image_env, reference, tools, working_dir, stdin, stdin_once, tty })
            }
            Resolved::Unknown(r) => Some(Self {
                program: Program::Unsupported(spec["image"].as_str().unwrap_or_default().to_string()),
                argv: command.into_iter().chain(args).collect(),
                root: gitops_sandbox_shell::vfs::Volume::empty(),
                image_env: Vec::new(),
                reference: r.clone(),
                tools: Vec::new(),
                working_dir: None,
                stdin,
                stdin_once,
                tty,
            }),
            Resolved::Invalid => None,
        }
    }
}

/// Records a new run of container `name` (its restart count, logs, state, process table) and
/// returns what its task needs; `None` if the container is gone.
fn begin_run(
    node: &SimulatedNode,
    rt: &Arc<PodRuntime>,
    name: &str,
    launch: Launch,
    fs: Filesystem,
    env: Vec<(String, String)>,
) -> Option<Run> {
    let started = jiff::Timestamp::now();
    let mut containers = rt.containers();
    let c = containers.get_mut(name)?;
    if let State::Terminated(t) = &c.state {
        c.last = Some(t.clone());
    }
    if c.run > 0 {
        c.restarts += 1;
        c.previous_log = Some(std::mem::replace(&mut c.log, LogRun::new()));
    }
    c.run += 1;
    let container_id = format!("sandbox://{}", images::hex_digest(&format!("{}/{name}/{}", rt.uid, c.run)));
    c.state = State::Running { started, container_id: container_id.clone() };
    c.image = Some((launch.reference.full(), launch.reference.image_id()));
    c.processes = Processes::new(&containers::main_command(&launch.program, &launch.argv));
    c.fs = Some(fs.clone());
    c.env = env.clone();
    c.tools = launch.tools.clone();
    c.stop_signal = containers::stop_signal(&launch.program);
    let (stdin_tx, stdin) = if launch.stdin {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    (c.stdin, c.stdin_once) = (stdin_tx, launch.stdin_once);
    Some(Run {
        pod: rt.clone(),
        container: name.to_string(),
        run: c.run,
        program: launch.program,
        argv: launch.argv,
        fs,
        env,
        log: c.log.clone(),
        processes: c.processes.clone(),
        container_id,
        started,
        on_exit: node.exit_notifier(&rt.namespace, &rt.name),
        tools: launch.tools,
        clients: Some(node.clients()),
        network: Some(node.network(rt)),
        stdin,
        tty: launch.tty,
    })
}

/// The container's view: the image's root, `/etc/hostname` and `/etc/hosts`, and the pod's volumes
/// at their mount paths.
fn filesystem(rt: &PodRuntime, pod: &Value, spec: &Value, root: gitops_sandbox_shell::vfs::Volume) -> Filesystem {
    let mut fs = Filesystem::new(root);
    let hostname = pod["spec"]["hostname"].as_str().unwrap_or(&rt.name);
    let _ = fs.write("/etc/hostname", format!("{hostname}\n").into_bytes(), false);
    let hosts = format!(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost \
            ip6-loopback\n{}\t{hostname}\n",
        rt.ip
    );
    let _ = fs.write("/etc/hosts", hosts.into_bytes(), false);
    let _ = fs.write("/etc/resolv.conf", crate::network::resolv_conf(&rt.namespace).into_bytes(), false);
    let volumes = rt.volumes.lock().unwrap_or_else(|e| e.into_inner());
    let declared = pod["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    for mount in spec["volumeMounts"].as_array().into_iter().flatten() {
        let (Some(name), Some(path)) = (mount["name"].as_str(), mount["mountPath"].as_str()) else { continue };
        let Some(volume) = volumes.get(name) else { continue };
        let projected = declared.iter().any(|v| v["name"] == name && volumes::is_projected(v));
        fs.mount(path, volume.clone(), mount["readOnly"] == true || projected);
    }
    fs
}

/// Writes the pod's status from the runtime's state. Only the kubelet's reconcile calls it, one at
/// a time (container exits reach it as triggers), so the newest state is always the last written.
fn sync_status(sb: &Sandbox, rt: &PodRuntime) -> ApiResult<()> {
    let Some(pod) = sb.get(pods(), Some(&rt.namespace), &rt.name) else { return Ok(()) };
    if pod["metadata"]["uid"].as_str() != Some(rt.uid.as_str()) {
        return Ok(());
    }
    let status = status::pod_status(&pod, &rt.ip, &rt.started, &rt.containers());
    if status == pod["status"] {
        return Ok(());
    }
    let result = sb.modify(pods(), Some(&rt.namespace), &rt.name, UpdateScope::Status, Default::default(), |current| {
        if current["metadata"]["uid"].as_str() != Some(rt.uid.as_str()) {
            return Err(ApiError::conflict(pods(), &rt.name, "the pod was replaced"));
        }
        let mut new = current.clone();
        new["status"] = status;
        Ok(new)
    });
    match result {
        Ok(_) => Ok(()),
        // Gone or replaced meanwhile: the next event for it takes over.
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Graceful deletion: stop the containers, then remove the pod (unless finalizers still hold it).
fn terminate(node: &SimulatedNode, pod: &Value) -> ApiResult<Action> {
    let sb = node.sandbox();
    let namespace = object::namespace(pod);
    let name = object::name(pod);
    let uid = object::uid(pod).to_string();
    if let Some(rt) = node.pod(namespace, name, &uid) {
        if let Some(after) = stopping(node, pod, &rt) {
            return Ok(Action::RequeueAfter(after));
        }
        node.forget(namespace, name);
    }
    sb.finalize(pods(), Some(namespace), name, Some(&uid))?;
    Ok(Action::Done)
}

/// Asks the pod's running containers to stop (the `Killing` events, once); at the realistic pace,
/// `Some` is how long they still take (a handled SIGTERM, or the grace period, capped).
fn stopping(node: &SimulatedNode, pod: &Value, rt: &PodRuntime) -> Option<Duration> {
    let now = Instant::now();
    let grace = pod["metadata"]["deletionGracePeriodSeconds"].as_u64().unwrap_or(0);
    let mut stopping = rt.stopping.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(until) = *stopping {
        // A later delete with --grace-period=0 --force cut the wait short.
        return (now < until && grace > 0).then(|| until - now);
    }
    let running: Vec<(String, bool, bool)> = rt
        .containers()
        .values()
        .filter(|c| c.running())
        .map(|c| (c.name.clone(), c.init, c.stop_signal == containers::SIGTERM))
        .collect();
    for (container, init, _) in &running {
        let message = format!("Stopping container {container}");
        event(node.sandbox(), pod, Some(field_path(*init, container)), EventType::Normal, "Killing", message);
    }
    if node.pace() == Pace::Instant {
        return None;
    }
    let timings = &images::table().pace;
    let wait = running.iter().map(|(_, _, term)| timings.stopping(*term, grace)).max().unwrap_or_default();
    *stopping = Some(now + wait);
    (!wait.is_zero()).then_some(wait)
}

/// A ConfigMap's change reaches the pods that mount it, as the kubelet's periodic sync does.
pub struct ConfigMapVolumes {
    /// The node whose pods' volumes it refreshes.
    pub node: Arc<SimulatedNode>,
}

impl Controller for ConfigMapVolumes {
    fn name(&self) -> &'static str {
        "kubelet-configmap-volumes"
    }

    fn primary(&self) -> ResourceId {
        builtin_type("", "configmaps").id()
    }

    /// As `triggers`, without waiting for the node's pod table (a watch filter may not block):
    /// a ConfigMap of a namespace without pods here does not even wake the task.
    fn wants(&self, event: &WatchEvent) -> bool {
        event.resource == self.primary() && self.node.may_run_pods_in(object::namespace(&event.object))
    }

    /// Only a namespace where a pod of this node runs: most ConfigMaps are mounted nowhere here, and
    /// a write of one should not cost a reconcile (a hop to a blocking thread and a scan).
    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        let primary = self.primary();
        if event.resource != primary || !self.node.runs_pods_in(object::namespace(&event.object)) {
            return Vec::new();
        }
        vec![ObjectRef::of(&primary, &event.object)]
    }

    fn reconcile(&self, _sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        self.node.refresh_volumes(&target.namespace, |volume| {
            volume["configMap"]["name"] == json!(target.name)
                || volume["projected"]["sources"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|p| p["configMap"]["name"] == json!(target.name)))
        });
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_from_the_second_restart_and_is_capped() {
        let base = Duration::from_secs(10);
        let mut c = Container::new("web", false, "ContainerCreating");
        let mut now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..8 {
            match restart_decision(&mut c, now, base) {
                Next::Start => waits.push(0),
                Next::Wait(d) => {
                    waits.push(d.as_secs());
                    now += d;
                    assert_eq!(restart_decision(&mut c, now, base), Next::Start);
                }
            }
        }
        assert_eq!(waits, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn restart_policies_decide_which_exits_restart() {
        assert!(should_restart("Always", 0));
        assert!(!should_restart("OnFailure", 0));
        assert!(should_restart("OnFailure", 1));
        assert!(!should_restart("Never", 1));
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(human(Duration::from_secs(10)), "10s");
        assert_eq!(human(Duration::from_secs(300)), "5m0s");
        assert_eq!(human(Duration::from_millis(40)), "40ms");
    }
}

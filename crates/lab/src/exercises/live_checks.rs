//! Checks evaluated live from watch events: one kube-runtime watcher per source the open
//! exercise's checks read, a snapshot kept from their events, and every check that reads a changed
//! source evaluated again at once (no polling). HTTP checks run through a port-forward when their
//! pods change, one request at a time per check.

use super::checks::{CheckContext, CompiledCheck, Condition, Snapshot, Source, Verdict, evaluate};
use crate::live::{ReadyPod, http_get, ready_pod};
use futures::StreamExt;
use gitops_lab_protocol::{ObjectRef, Text};
use kube::core::{ApiResource, DynamicObject};
use kube::runtime::watcher;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Where a check lives: step index (or `usize::MAX` for the exercise's verify checks) and position.
pub type CheckAt = (usize, usize);

/// Told about every change of a verdict.
pub type OnChange = Arc<dyn Fn(CheckAt, &CompiledCheck, &Verdict) + Send + Sync>;

/// What the evaluator task is told.
enum Message {
    /// A watcher's event.
    Watch(Source, Box<watcher::Event<DynamicObject>>),
    /// An HTTP check's answer.
    Http(CheckAt, Verdict),
    /// The step's context changed (an action's output, a commit).
    Context(usize, CheckContext),
    /// Evaluate the HTTP checks again (after an action).
    RefreshHttp,
}

/// The checks of one open exercise, kept up to date.
pub struct LiveChecks {
    sender: mpsc::UnboundedSender<Message>,
    verdicts: watch::Receiver<BTreeMap<CheckAt, Verdict>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LiveChecks {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl LiveChecks {
    /// Starts watching what `checks` read.
    pub fn start(
        client: kube::Client,
        namespace: String,
        checks: Vec<(CheckAt, CompiledCheck)>,
        on_change: OnChange,
    ) -> LiveChecks {
        let (sender, receiver) = mpsc::unbounded_channel();
        let sources: BTreeMap<Source, ApiResource> = checks.iter().flat_map(|(_, c)| resources(&c.condition)).collect();
        let mut tasks: Vec<_> = sources
            .into_iter()
            .map(|(source, resource)| tokio::spawn(watch_source(client.clone(), source, resource, sender.clone())))
            .collect();
        let initial: BTreeMap<CheckAt, Verdict> = checks
            .iter()
            .map(|(at, c)| (*at, evaluate(&c.condition, &Snapshot::new(), &CheckContext::default())))
            .collect();
        let (publish, verdicts) = watch::channel(initial);
        let evaluator = Evaluator {
            client,
            namespace,
            checks,
            snapshot: Snapshot::new(),
            contexts: BTreeMap::new(),
            publish,
            on_change,
            sender: sender.clone(),
            http_busy: BTreeSet::new(),
            http_dirty: BTreeSet::new(),
        };
        tasks.push(tokio::spawn(evaluator.run(receiver)));
        LiveChecks { sender, verdicts, tasks }
    }

    /// The verdicts now.
    pub fn verdicts(&self) -> BTreeMap<CheckAt, Verdict> {
        self.verdicts.borrow().clone()
    }

    /// Follows the verdicts.
    pub fn subscribe(&self) -> watch::Receiver<BTreeMap<CheckAt, Verdict>> {
        self.verdicts.clone()
    }

    /// Sets a step's context (its last output, the repositories changed) and evaluates it again.
    pub fn set_context(&self, step: usize, context: CheckContext) {
        let _ = self.sender.send(Message::Context(step, context));
    }

    /// Runs the HTTP checks again.
    pub fn refresh_http(&self) {
        let _ = self.sender.send(Message::RefreshHttp);
    }
}

/// The API resources a condition reads, by source.
pub fn resources(condition: &Condition) -> Vec<(Source, ApiResource)> {
    let pods = ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Pod".into(),
        plural: "pods".into(),
    };
    let selection = match condition {
        Condition::Exists(s) | Condition::Absent(s) => s,
        Condition::Field { selection, .. }
        | Condition::PodPhase { selection, .. }
        | Condition::ReadyReplicas { selection, .. }
        | Condition::Annotation { selection, .. } => selection,
        Condition::Http { target, .. } => {
            let mut found = vec![(target.source(), target.resource.clone())];
            if target.resource.kind != "Pod" {
                let source =
                    Source { api_version: "v1".into(), plural: "pods".into(), namespace: target.namespace.clone() };
                found.push((source, pods));
            }
            return found;
        }
        Condition::Event { events, .. } => events,
        Condition::Output(_) | Condition::GitHead(_) => return Vec::new(),
    };
    vec![(selection.source(), selection.resource.clone())]
}

async fn watch_source(
    client: kube::Client,
    source: Source,
    resource: ApiResource,
    sender: mpsc::UnboundedSender<Message>,
) {
    let api: kube::Api<DynamicObject> = match &source.namespace {
        Some(ns) => kube::Api::namespaced_with(client, ns, &resource),
        None => kube::Api::all_with(client, &resource),
    };
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    let mut backoff = std::time::Duration::from_millis(250);
    loop {
        match stream.next().await {
            Some(Ok(event)) => {
                backoff = std::time::Duration::from_millis(250);
                if sender.send(Message::Watch(source.clone(), Box::new(event))).is_err() {
                    return;
                }
            }
            Some(Err(_)) => {
                // The cluster went away (the connection's status says so); the watcher starts over
                // on its next poll, after a pause so that a dead cluster is not hammered.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
            }
            None => return,
        }
    }
}

struct Evaluator {
    client: kube::Client,
    namespace: String,
    checks: Vec<(CheckAt, CompiledCheck)>,
    snapshot: Snapshot,
    contexts: BTreeMap<usize, CheckContext>,
    publish: watch::Sender<BTreeMap<CheckAt, Verdict>>,
    on_change: OnChange,
    sender: mpsc::UnboundedSender<Message>,
    http_busy: BTreeSet<CheckAt>,
    http_dirty: BTreeSet<CheckAt>,
}

/// Objects being listed while a watcher (re)starts, by source.
type Staging = BTreeMap<Source, Vec<Value>>;

impl Evaluator {
    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Message>) {
        let mut staging = Staging::new();
        while let Some(message) = receiver.recv().await {
            match message {
                Message::Watch(source, event) => {
                    if self.absorb(&source, *event, &mut staging) {
                        self.reevaluate(|condition| condition_reads(condition, &source));
                    }
                }
                Message::Http(at, verdict) => {
                    self.http_busy.remove(&at);
                    self.record(at, verdict);
                    if self.http_dirty.remove(&at) {
                        self.start_http(at);
                    }
                }
                Message::Context(step, context) => {
                    self.contexts.insert(step, context);
                    self.reevaluate_step(step);
                }
                Message::RefreshHttp => {
                    let all: Vec<CheckAt> = self
                        .checks
                        .iter()
                        .filter(|(_, c)| matches!(c.condition, Condition::Http { .. }))
                        .map(|(at, _)| *at)
                        .collect();
                    for at in all {
                        self.start_http(at);
                    }
                }
            }
        }
    }

    /// Applies a watch event to the snapshot; `true` when the visible state changed.
    fn absorb(&mut self, source: &Source, event: watcher::Event<DynamicObject>, staging: &mut Staging) -> bool {
        let value = |object: DynamicObject| serde_json::to_value(object).unwrap_or_default();
        let uid = |v: &Value| v.pointer("/metadata/uid").and_then(Value::as_str).map(String::from);
        match event {
            watcher::Event::Init => {
                staging.insert(source.clone(), Vec::new());
                false
            }
            watcher::Event::InitApply(object) => {
                staging.entry(source.clone()).or_default().push(value(object));
                false
            }
            watcher::Event::InitDone => {
                let listed = staging.remove(source).unwrap_or_default();
                self.snapshot.insert(source.clone(), listed);
                true
            }
            watcher::Event::Apply(object) => {
                let object = value(object);
                let objects = self.snapshot.entry(source.clone()).or_default();
                match objects.iter_mut().find(|o| uid(o) == uid(&object)) {
                    Some(existing) => *existing = object,
                    None => objects.push(object),
                }
                true
            }
            watcher::Event::Delete(object) => {
                let object = value(object);
                if let Some(objects) = self.snapshot.get_mut(source) {
                    objects.retain(|o| uid(o) != uid(&object));
                }
                true
            }
        }
    }

    fn reevaluate(&mut self, reads: impl Fn(&Condition) -> bool) {
        let affected: Vec<(CheckAt, bool)> = self
            .checks
            .iter()
            .filter(|(_, c)| reads(&c.condition))
            .map(|(at, c)| (*at, matches!(c.condition, Condition::Http { .. })))
            .collect();
        for (at, http) in affected {
            if http {
                self.start_http(at);
            } else {
                self.evaluate_one(at);
            }
        }
    }

    fn reevaluate_step(&mut self, step: usize) {
        let ats: Vec<CheckAt> = self.checks.iter().filter(|(at, _)| at.0 == step).map(|(at, _)| *at).collect();
        for at in ats {
            self.evaluate_one(at);
        }
    }

    fn evaluate_one(&mut self, at: CheckAt) {
        let Some((_, check)) = self.checks.iter().find(|(a, _)| *a == at) else { return };
        if matches!(check.condition, Condition::Http { .. }) {
            return;
        }
        let context = self.contexts.get(&at.0).cloned().unwrap_or_default();
        let verdict = evaluate(&check.condition, &self.snapshot, &context);
        self.record(at, verdict);
    }

    fn record(&mut self, at: CheckAt, verdict: Verdict) {
        let mut changed = false;
        self.publish.send_modify(|all| {
            if all.get(&at) != Some(&verdict) {
                all.insert(at, verdict.clone());
                changed = true;
            }
        });
        if changed && let Some((_, check)) = self.checks.iter().find(|(a, _)| *a == at) {
            (self.on_change)(at, check, &verdict);
        }
    }

    /// Starts an HTTP check unless one is running (then it runs again when that one ends).
    fn start_http(&mut self, at: CheckAt) {
        if self.http_busy.contains(&at) {
            self.http_dirty.insert(at);
            return;
        }
        let Some((_, check)) = self.checks.iter().find(|(a, _)| *a == at) else { return };
        let Condition::Http { target, port, path, contains } = check.condition.clone() else { return };
        self.http_busy.insert(at);
        let client = self.client.clone();
        let namespace = target.namespace.clone().unwrap_or_else(|| self.namespace.clone());
        let sender = self.sender.clone();
        let object = ObjectRef {
            api_version: target.resource.api_version.clone(),
            kind: target.resource.kind.clone(),
            namespace: Some(namespace.clone()),
            name: target.name.clone().unwrap_or_default(),
        };
        tokio::spawn(async move {
            let verdict = http_verdict(&client, &namespace, &object, port, &path, &contains).await;
            let _ = sender.send(Message::Http(at, verdict));
        });
    }
}

fn condition_reads(condition: &Condition, source: &Source) -> bool {
    condition.sources().iter().any(|s| s == source)
}

/// Runs one HTTP check.
pub async fn http_verdict(
    client: &kube::Client,
    namespace: &str,
    target: &ObjectRef,
    port: u16,
    path: &str,
    contains: &str,
) -> Verdict {
    let pod = match ready_pod(client, namespace, target).await {
        Ok(ReadyPod::Found(pod)) => pod,
        Ok(ReadyPod::Missing(why) | ReadyPod::Absent(why)) => return Verdict { met: false, reason: why },
        Err(error) => return Verdict { met: false, reason: error.view().message },
    };
    match http_get(client, namespace, &pod, port, path).await {
        Ok(answer) if answer.body.contains(contains) => Verdict {
            met: true,
            reason: Text::new(
                format!("GET {path} on pod {pod} port {port} answers with \"{contains}\"."),
                format!("通过端口 {port} 访问 Pod {pod} 的 {path}，回应中包含“{contains}”。"),
            ),
        },
        Ok(answer) => {
            let start: String = answer.body.chars().take(80).collect();
            Verdict {
                met: false,
                reason: Text::new(
                    format!("GET {path} on pod {pod} answers {} without \"{contains}\": {start}", answer.status),
                    format!("访问 Pod {pod} 的 {path} 得到 {}，但没有“{contains}”：{start}", answer.status),
                ),
            }
        }
        Err(error) => Verdict { met: false, reason: error.view().message },
    }
}

/// Whether a step's checks are all met (and it has at least one).
pub fn step_met(verdicts: &BTreeMap<CheckAt, Verdict>, step: usize) -> bool {
    let mut any = false;
    for ((s, _), verdict) in verdicts {
        if *s == step {
            any = true;
            if !verdict.met {
                return false;
            }
        }
    }
    any
}

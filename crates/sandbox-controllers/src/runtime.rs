//! The controller runtime: a work queue fed by watch events and requeues, draining into one
//! `reconcile(target) -> Action` call at a time per controller. No polling: an idle controller
//! sleeps until an event arrives or its earliest requeue is due.

use gitops_sandbox_core::cluster::Sandbox;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::registry::ResourceId;
use gitops_sandbox_core::watch::WatchEvent;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Sends objects to reconcile from outside the store, as kube-runtime's `reconcile_on` takes them:
/// the node sends a pod when one of its containers ends.
pub type TriggerSender = mpsc::UnboundedSender<ObjectRef>;
/// The receiving end of a [`TriggerSender`], handed to [`run`].
pub type Triggers = mpsc::UnboundedReceiver<ObjectRef>;

/// A new channel of triggers from outside the store.
pub fn triggers() -> (TriggerSender, Triggers) {
    mpsc::unbounded_channel()
}

/// The object a reconcile is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// Its resource type.
    pub resource: ResourceId,
    /// Its namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// The reference to a stored object of type `resource`.
    pub fn of(resource: &ResourceId, obj: &Value) -> Self {
        Self {
            resource: resource.clone(),
            namespace: obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
            name: obj["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// What to do after a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the next relevant event.
    Done,
    /// Look again after this long (timers: back-offs, schedules, grace periods).
    RequeueAfter(Duration),
}

/// A controller: which changes concern it, and how it brings one object to its desired state.
pub trait Controller: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// The type it reconciles; every existing object of it is reconciled at start.
    fn primary(&self) -> ResourceId;
    /// The primaries a change concerns. The default: a primary itself, or the primary that owns
    /// the changed object (through a controller ownerReference).
    fn triggers(&self, event: &WatchEvent) -> Vec<ObjectRef> {
        let primary = self.primary();
        if event.resource == primary {
            return vec![ObjectRef::of(&primary, &event.object)];
        }
        owner_of(&event.object, &primary).into_iter().collect()
    }
    /// Brings one object (which may no longer exist) towards its desired state.
    fn reconcile(&self, sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError>;
}

/// The primary that controls `obj`, if its controller ownerReference names one of `primary`'s kind.
pub fn owner_of(obj: &Value, primary: &ResourceId) -> Option<ObjectRef> {
    let registry = gitops_sandbox_core::registry::Registry::builtin();
    let kind = registry.by_id(primary)?.kind.clone();
    let owners = obj["metadata"]["ownerReferences"].as_array()?;
    let owner = owners.iter().find(|o| o["kind"] == kind.as_str() && o["controller"] == true)?;
    Some(ObjectRef {
        resource: primary.clone(),
        namespace: obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        name: owner["name"].as_str()?.to_string(),
    })
}

/// How long to wait before retrying a reconcile that failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs a controller until `shutdown` fires: on store events, requeues, and `triggers` if given.
pub async fn run(
    sandbox: Arc<Sandbox>,
    controller: Arc<dyn Controller>,
    mut triggers: Option<Triggers>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut queue = WorkQueue::default();
    let primary = controller.primary();
    let (snapshot, _) = sandbox.store().list(&primary, None, None, 0, |_| true);
    let mut subscription = match sandbox.store().subscribe(snapshot.rv) {
        Ok(sub) => sub,
        Err(_) => return,
    };
    for obj in &snapshot.items {
        queue.push(ObjectRef::of(&primary, obj));
    }
    for event in subscription.backlog.drain(..) {
        controller.triggers(&event).into_iter().for_each(|t| queue.push(t));
    }
    loop {
        while let Some(target) = queue.pop() {
            let (sb, ctl, t) = (sandbox.clone(), controller.clone(), target.clone());
            // Reconciles write through the store, which waits for fsync: keep them off the async workers.
            let result = tokio::task::spawn_blocking(move || ctl.reconcile(&sb, &t)).await;
            match result {
                Ok(Ok(Action::Done)) => {}
                Ok(Ok(Action::RequeueAfter(after))) => queue.later(target, after),
                Ok(Err(error)) => {
                    if error.code != 409 {
                        eprintln!("controller {}: {}/{}: {}", controller.name(), target.namespace, target.name, error.message);
                    }
                    queue.later(target, if error.code == 409 { Duration::ZERO } else { RETRY_AFTER });
                }
                Err(panicked) => eprintln!("controller {} failed on {}: {panicked}", controller.name(), target.name),
            }
            // Fold in what arrived meanwhile before taking the next item, so bursts coalesce.
            while let Ok(event) = subscription.receiver.try_recv() {
                controller.triggers(&event).into_iter().for_each(|t| queue.push(t));
            }
            while let Some(target) = triggers.as_mut().and_then(|t| t.try_recv().ok()) {
                queue.push(target);
            }
        }
        let due = queue.next_due();
        tokio::select! {
            received = subscription.receiver.recv() => match received {
                Ok(event) => controller.triggers(&event).into_iter().for_each(|t| queue.push(t)),
                // Fell behind: reconcile everything of the primary type again.
                Err(RecvError::Lagged(_)) => {
                    let (snapshot, _) = sandbox.store().list(&primary, None, None, 0, |_| true);
                    snapshot.items.iter().for_each(|o| queue.push(ObjectRef::of(&primary, o)));
                }
                Err(RecvError::Closed) => return,
            },
            received = next_trigger(&mut triggers) => match received {
                Some(target) => queue.push(target),
                // Every sender is gone: only store events and requeues remain.
                None => triggers = None,
            },
            _ = sleep_until_due(due) => queue.release_due(),
            _ = shutdown.changed() => return,
        }
    }
}

async fn next_trigger(triggers: &mut Option<Triggers>) -> Option<ObjectRef> {
    match triggers {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_due(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A de-duplicating FIFO of targets plus timers for requeues.
#[derive(Default)]
struct WorkQueue {
    ready: VecDeque<ObjectRef>,
    queued: HashSet<ObjectRef>,
    timers: BTreeMap<(Instant, u64), ObjectRef>,
    sequence: u64,
}

impl WorkQueue {
    fn push(&mut self, target: ObjectRef) {
        if self.queued.insert(target.clone()) {
            self.ready.push_back(target);
        }
    }

    fn pop(&mut self) -> Option<ObjectRef> {
        let target = self.ready.pop_front()?;
        self.queued.remove(&target);
        Some(target)
    }

    fn later(&mut self, target: ObjectRef, after: Duration) {
        self.sequence += 1;
        self.timers.insert((Instant::now() + after, self.sequence), target);
    }

    fn next_due(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    fn release_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let target = entry.remove();
            self.push(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> ObjectRef {
        ObjectRef { resource: ResourceId { group: "apps".into(), plural: "deployments".into() }, namespace: "default".into(), name: name.into() }
    }

    #[test]
    fn the_queue_drops_duplicates_of_waiting_targets() {
        let mut queue = WorkQueue::default();
        queue.push(target("a"));
        queue.push(target("a"));
        queue.push(target("b"));
        assert_eq!(queue.pop(), Some(target("a")));
        queue.push(target("a"));
        assert_eq!(queue.pop(), Some(target("b")));
        assert_eq!(queue.pop(), Some(target("a")));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn requeues_are_released_when_due() {
        let mut queue = WorkQueue::default();
        queue.later(target("a"), Duration::ZERO);
        queue.later(target("b"), Duration::from_secs(3600));
        queue.release_due();
        assert_eq!(queue.pop(), Some(target("a")));
        assert_eq!(queue.pop(), None);
        assert!(queue.next_due().is_some());
    }

    #[test]
    fn an_owned_object_triggers_its_controlling_owner() {
        let rs = serde_json::json!({"metadata": {"namespace": "default", "name": "web-1",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true, "apiVersion": "apps/v1", "uid": "u"}]}});
        let owner = owner_of(&rs, &target("x").resource).unwrap();
        assert_eq!(owner.name, "web");
    }
}

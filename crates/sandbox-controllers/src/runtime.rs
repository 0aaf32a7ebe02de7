//! The controller runtime: a work queue fed by watch events and requeues, draining into one
//! `reconcile(target) -> Action` call at a time per controller. No polling: an idle controller
//! sleeps until an event arrives or its earliest requeue is due. A reconcile that fails or panics
//! is logged and retried with an exponential back-off per target, never dropped.

use gitops_sandbox_core::cluster::Sandbox;
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::ResourceId;
use gitops_sandbox_core::watch::{Filter, WatchEvent};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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
            namespace: object::namespace(obj).to_string(),
            name: object::name(obj).to_string(),
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
    /// Whether a change may concern it, asked as the store publishes the change so that a
    /// controller is not woken for changes [`Controller::triggers`] would discard. It must answer
    /// true whenever `triggers` could return a target, and, like any watch
    /// [`Filter`](gitops_sandbox_core::watch::Filter), be cheap, take no lock and never block. The
    /// default matches the default `triggers`: the primary type, or an object with a controller
    /// ownerReference to the primary's kind.
    fn wants(&self, event: &WatchEvent) -> bool {
        let primary = self.primary();
        event.resource == primary || owner_of(&event.object, &primary).is_some()
    }
    /// Brings one object (which may no longer exist) towards its desired state.
    fn reconcile(&self, sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError>;
}

/// The primary that controls `obj`, if its controller ownerReference names one of `primary`'s kind.
pub fn owner_of(obj: &Value, primary: &ResourceId) -> Option<ObjectRef> {
    // Most objects have no owner: look before searching the registry.
    let owners = obj["metadata"]["ownerReferences"].as_array()?;
    let registry = gitops_sandbox_core::registry::Registry::builtin();
    let kind = registry.by_id(primary)?.kind.clone();
    let owner = owners.iter().find(|o| o["kind"] == kind.as_str() && o["controller"] == true)?;
    Some(ObjectRef {
        resource: primary.clone(),
        namespace: object::namespace(obj).to_string(),
        name: owner["name"].as_str()?.to_string(),
    })
}

/// The wait after a reconcile fails; it doubles with each failure in a row of the same target.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between retries of a target that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Why a reconcile did not finish.
enum Failure {
    /// It returned an error.
    Error(ApiError),
    /// It panicked (the message, if the panic carried one).
    Panic(String),
}

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
    // Weak: the filter lives in the store, and a controller may hold the node, which holds the
    // sandbox that owns the store; a strong reference would keep the sandbox alive after shutdown.
    let wanted = Arc::downgrade(&controller);
    let filter: Filter = Arc::new(move |event: &WatchEvent| wanted.upgrade().is_some_and(|c| c.wants(event)));
    let mut subscription = match sandbox.store().subscribe_filtered(snapshot.rv, filter) {
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
            // A stop wins over queued work: a reconcile after it could start what the stop ended.
            if *shutdown.borrow() {
                return;
            }
            let outcome = reconcile_once(&sandbox, &controller, &target).await;
            settle(&mut queue, controller.name(), target, outcome);
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
            biased;
            _ = shutdown.changed() => return,
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
        }
    }
}

/// One reconcile, off the async workers (reconciles write through the store, which waits for
/// fsync); a panic is caught here and reported as a failure of this target only.
async fn reconcile_once(
    sandbox: &Arc<Sandbox>,
    controller: &Arc<dyn Controller>,
    target: &ObjectRef,
) -> Result<Action, Failure> {
    let (sb, ctl, t) = (sandbox.clone(), controller.clone(), target.clone());
    match tokio::task::spawn_blocking(move || ctl.reconcile(&sb, &t)).await {
        Ok(Ok(action)) => Ok(action),
        Ok(Err(error)) => Err(Failure::Error(error)),
        Err(join) => {
            let message = match join.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into()),
                Err(join) => join.to_string(),
            };
            Err(Failure::Panic(message))
        }
    }
}

/// Queues what a reconcile asked for; a failure is logged (unless it only lost a race) and the
/// target comes back after its back-off.
fn settle(queue: &mut WorkQueue, controller: &str, target: ObjectRef, outcome: Result<Action, Failure>) {
    let failure = match outcome {
        Ok(action) => {
            queue.forget(&target);
            if let Action::RequeueAfter(after) = action {
                queue.later(target, after);
            }
            return;
        }
        Err(failure) => failure,
    };
    let raced = matches!(&failure, Failure::Error(e) if e.is_conflict());
    let wait = queue.backoff(&target, raced);
    let at = format!("{}/{}", target.namespace, target.name);
    match &failure {
        // Someone else wrote first: look again at once (then back off if it keeps happening).
        Failure::Error(_) if raced => {}
        Failure::Error(error) => eprintln!("controller {controller}: {at}: {} (retrying in {wait:?})", error.message),
        Failure::Panic(message) => {
            eprintln!("controller {controller} panicked on {at}: {message} (retrying in {wait:?})")
        }
    }
    queue.later(target, wait);
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

/// A de-duplicating FIFO of targets plus timers for requeues, and each failing target's count of
/// failures in a row.
#[derive(Default)]
struct WorkQueue {
    ready: VecDeque<ObjectRef>,
    queued: HashSet<ObjectRef>,
    timers: BTreeMap<(Instant, u64), ObjectRef>,
    sequence: u64,
    failures: HashMap<ObjectRef, u32>,
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

    /// Counts a failure of `target` and says how long to wait before retrying it: 250 ms doubling
    /// up to 5 minutes; a lost race is retried at once the first time.
    fn backoff(&mut self, target: &ObjectRef, raced: bool) -> Duration {
        let failures = self.failures.entry(target.clone()).or_default();
        *failures = failures.saturating_add(1);
        let doublings = match raced {
            true if *failures == 1 => return Duration::ZERO,
            true => *failures - 2,
            false => *failures - 1,
        };
        FIRST_BACKOFF.saturating_mul(1 << doublings.min(20)).min(MAX_BACKOFF)
    }

    /// Forgets `target`'s failures after a reconcile succeeded.
    fn forget(&mut self, target: &ObjectRef) {
        self.failures.remove(target);
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
        ObjectRef {
            resource: ResourceId { group: "apps".into(), plural: "deployments".into() },
            namespace: "default".into(),
            name: name.into(),
        }
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
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true, "apiVersion": "apps/v1",
                "uid": "u"}]}});
        let owner = owner_of(&rs, &target("x").resource).unwrap();
        assert_eq!(owner.name, "web");
    }

    #[test]
    fn failures_back_off_exponentially_and_a_success_resets_them() {
        let mut queue = WorkQueue::default();
        let a = target("a");
        let waits: Vec<u128> = (0..4).map(|_| queue.backoff(&a, false).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000]);
        queue.forget(&a);
        assert_eq!(queue.backoff(&a, true), Duration::ZERO, "a lost race is retried at once");
        assert_eq!(queue.backoff(&a, true), FIRST_BACKOFF);
        for _ in 0..40 {
            queue.backoff(&a, false);
        }
        assert_eq!(queue.backoff(&a, false), MAX_BACKOFF);
    }

    /// Panics on its first reconcile of the `default` namespace, then counts the calls.
    struct PanicsOnce(std::sync::Mutex<Vec<Instant>>);

    impl Controller for PanicsOnce {
        fn name(&self) -> &'static str {
            "panics-once"
        }

        fn primary(&self) -> ResourceId {
            ResourceId { group: String::new(), plural: "namespaces".into() }
        }

        fn reconcile(&self, _sandbox: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
            if target.name != "default" {
                return Ok(Action::Done);
            }
            let first = {
                let mut calls = self.0.lock().unwrap();
                calls.push(Instant::now());
                calls.len() == 1
            };
            assert!(!first, "the first reconcile of default fails");
            Ok(Action::Done)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reconcile_that_panics_is_retried_after_a_back_off() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Arc::new(Sandbox::open(dir.path()).unwrap());
        let controller = Arc::new(PanicsOnce(std::sync::Mutex::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(run(sandbox, controller.clone(), None, stopped));
        let deadline = Instant::now() + Duration::from_secs(5);
        while controller.0.lock().unwrap().len() < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let calls = controller.0.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "retried once, then done");
        assert!(calls[1] - calls[0] >= FIRST_BACKOFF, "after the back-off, not at once");
        stop.send(true).unwrap();
        running.await.unwrap();
    }
}

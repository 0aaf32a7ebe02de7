//! A synchronous stand-in for the controller runtime in unit tests: reconciles every primary
//! object, then follows the watch events through the controllers' triggers until all is quiet.

use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::registry::ResourceType;
use gitops_sandbox_core::registry::builtin_type;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A sandbox in a temporary directory with some controllers.
pub struct Harness {
    pub sb: Sandbox,
    controllers: Vec<Arc<dyn Controller>>,
    /// Joined at the start, so changes made by the test between settles are seen too.
    subscription: Mutex<gitops_sandbox_core::watch::Subscription>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub fn new(controllers: Vec<Arc<dyn Controller>>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let sb = Sandbox::open(dir.path()).expect("a sandbox opens");
        let subscription = Mutex::new(sb.store().subscribe(sb.store().resource_version()).expect("subscribes"));
        Self { sb, controllers, subscription, _dir: dir }
    }

    pub fn rt(&self, group: &str, plural: &str) -> &'static ResourceType {
        builtin_type(group, plural)
    }

    pub fn create(&self, group: &str, plural: &str, obj: Value) -> Arc<Value> {
        let rt = self.rt(group, plural);
        self.sb.create(rt, Some("default"), obj, WriteOptions::default()).expect("the object is created").object
    }

    pub fn delete(&self, group: &str, plural: &str, name: &str, opts: DeleteOptions) {
        self.sb.delete(self.rt(group, plural), Some("default"), name, &opts).expect("the object is deleted");
    }

    pub fn list(&self, group: &str, plural: &str) -> Vec<Arc<Value>> {
        // Events are written detached: let them land before reading.
        self.sb.store().flush().expect("queued writes commit");
        self.sb.store().list(&self.rt(group, plural).id(), Some("default"), None, 0, |_| true).0.items
    }

    /// Plays the kubelet: every pod not yet running runs and turns Ready (no settle).
    pub fn make_pods_ready(&self) {
        for pod in self.list("", "pods") {
            if pod["status"]["phase"] == "Running" {
                continue;
            }
            let ready = |current: &Value| {
                let mut next = current.clone();
                next["status"] = serde_json::json!({"phase": "Running", "conditions": [{"type": "Ready",
                    "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
                Ok(next)
            };
            let (pods, name) = (self.rt("", "pods"), gitops_sandbox_core::object::name(&pod));
            self.sb
                .modify(pods, Some("default"), name, UpdateScope::Status, WriteOptions::default(), ready)
                .expect("the pod status is written");
        }
    }

    /// Runs reconciles until no controller has anything left to do; returns the requeues asked for.
    pub fn settle(&self) -> Vec<(ObjectRef, Action)> {
        let mut subscription = self.subscription.lock().expect("one test thread");
        let mut queue: VecDeque<(usize, ObjectRef)> = VecDeque::new();
        for (i, controller) in self.controllers.iter().enumerate() {
            let primary = controller.primary();
            for obj in self.sb.store().list(&primary, None, None, 0, |_| true).0.items {
                queue.push_back((i, ObjectRef::of(&primary, &obj)));
            }
        }
        let mut requeues = Vec::new();
        for _ in 0..5000 {
            self.take_events(&mut subscription, &mut queue);
            let Some((i, target)) = queue.pop_front() else {
                return requeues;
            };
            match self.controllers[i].reconcile(&self.sb, &target) {
                Ok(Action::Done) => {}
                Ok(action) => requeues.push((target, action)),
                Err(error) if error.is_conflict() => queue.push_back((i, target)),
                Err(error) => panic!("{} failed on {}: {}", self.controllers[i].name(), target.name, error.message),
            }
        }
        panic!("the controllers did not settle");
    }

    fn take_events(
        &self,
        subscription: &mut gitops_sandbox_core::watch::Subscription,
        queue: &mut VecDeque<(usize, ObjectRef)>,
    ) {
        while let Ok(event) = subscription.receiver.try_recv() {
            for (j, controller) in self.controllers.iter().enumerate() {
                for t in controller.triggers(&event) {
                    if !queue.contains(&(j, t.clone())) {
                        queue.push_back((j, t));
                    }
                }
            }
        }
    }
}

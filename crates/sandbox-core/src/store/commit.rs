//! Group commit: which waiting writer commits the queue, and how the others learn their outcome.
//!
//! Leadership is a flag under the decision lock. A writer whose write is not finished and that
//! finds no commit under way takes the whole queue and commits it (one log record, one fsync);
//! the others park. When its batch is done, the leader records the outcome, wakes one writer still
//! waiting (whose write is in the queue now) to lead the next batch, then wakes each writer of its
//! own batch. Before, every writer waited on the commit mutex: a finished batch woke its writers
//! one after another through that mutex, each hand-off a context switch, and on two cores the next
//! fsync started only once the chain had reached a writer whose write was still queued.

use super::disk::DiskWrite;
use super::{DiskError, Entry, Queued, Shared, lock};
use crate::watch::WatchEvent;
use std::sync::atomic::Ordering;
use std::thread::Thread;

/// A parked writer: the resourceVersion it waits for, and its thread.
pub(super) struct Waiter {
    rv: u64,
    thread: Thread,
}

impl Shared {
    /// Returns once the write with resourceVersion `rv` is committed (or failed): either another
    /// writer's batch included it, or this writer leads a commit of everything queued so far.
    pub(super) fn wait_durable(&self, rv: u64) -> Result<(), DiskError> {
        let me = std::thread::current();
        let mut parked = false;
        loop {
            let mut decisions = lock(&self.decisions);
            if parked {
                // Woken early (a stale wake-up) the thread may still be listed: a listed thread
                // that is not waiting must never be picked to lead.
                decisions.waiters.retain(|w| w.thread.id() != me.id());
            }
            if self.done_rv.load(Ordering::Acquire) >= rv {
                if decisions.failed.contains(&rv) {
                    return Err(DiskError::Transaction(format!("the commit of resourceVersion {rv} failed")));
                }
                return Ok(());
            }
            if !decisions.committing {
                let batch = std::mem::take(&mut decisions.queue);
                if batch.is_empty() {
                    // Unreachable while every queued write is either committed or marked failed.
                    return Err(DiskError::Transaction(format!(
                        "resourceVersion {rv} was neither committed nor queued"
                    )));
                }
                decisions.committing = true;
                drop(decisions);
                self.lead(batch);
                continue;
            }
            decisions.waiters.push(Waiter { rv, thread: me.clone() });
            drop(decisions);
            // Woken by the leader whose batch held `rv`, or to lead the next batch; the outcome
            // and the leadership are read again under the lock, so an early wake-up only loops.
            std::thread::park();
            parked = true;
        }
    }

    /// Commits a batch in one log record and one fsync, then makes it visible: the index first,
    /// then the watch events, in resourceVersion order (one leader at a time orders batches).
    /// Then hands leadership on and wakes the batch's writers.
    fn lead(&self, batch: Vec<Queued>) {
        let last_rv = batch.last().map_or(0, |q| q.rv);
        let writes: Vec<DiskWrite<'_>> = batch
            .iter()
            .map(|q| match &q.json {
                Some(json) => DiskWrite::Put(&q.key, json),
                None => DiskWrite::Delete(&q.key),
            })
            .collect();
        let committed = lock(&self.disk).commit(&writes, last_rv);
        drop(writes);
        let (mut decisions, done) = match committed {
            Ok(()) => {
                self.apply(batch, last_rv);
                (lock(&self.decisions), last_rv)
            }
            Err(_) => {
                // Later queued writes were decided against these: they fail too, and all are forgotten.
                let mut decisions = lock(&self.decisions);
                let rest = std::mem::take(&mut decisions.queue);
                decisions.pending.clear();
                let failed: Vec<u64> = batch.iter().chain(&rest).map(|q| q.rv).collect();
                decisions.failed.extend(&failed);
                let done = failed.last().copied().unwrap_or(last_rv);
                (decisions, done)
            }
        };
        self.done_rv.store(done, Ordering::Release);
        decisions.committing = false;
        let waiters = std::mem::take(&mut decisions.waiters);
        let (finished, mut still): (Vec<Waiter>, Vec<Waiter>) = waiters.into_iter().partition(|w| w.rv <= done);
        // The writer waiting longest leads next; the others stay parked until their batch is done.
        let next = (!still.is_empty()).then(|| still.remove(0));
        decisions.waiters = still;
        drop(decisions);
        self.committed.notify_waiters();
        // The next leader first: its fsync is what every queued writer waits for.
        if let Some(next) = next {
            next.thread.unpark();
        }
        for waiter in finished {
            waiter.thread.unpark();
        }
    }

    /// A committed batch into the index (its writes no longer pending), then its events to the
    /// watchers.
    fn apply(&self, batch: Vec<Queued>, last_rv: u64) {
        {
            let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
            index.rv = last_rv;
            for q in &batch {
                let objects = index.by_type.entry(q.key.resource.clone()).or_default();
                let slot = (q.key.namespace.clone(), q.key.name.clone());
                match &q.json {
                    Some(json) => objects.insert(slot, Entry { object: q.object.clone(), json: json.clone() }),
                    None => objects.remove(&slot),
                };
            }
        }
        {
            let mut decisions = lock(&self.decisions);
            for q in &batch {
                if decisions.pending.get(&q.key).is_some_and(|(rv, _)| *rv == q.rv) {
                    decisions.pending.remove(&q.key);
                }
            }
        }
        for q in batch {
            let event = WatchEvent { kind: q.event, rv: q.rv, resource: q.key.resource, object: q.object, old: q.old };
            self.hub.publish(event);
        }
    }
}

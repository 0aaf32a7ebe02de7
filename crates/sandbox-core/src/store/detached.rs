//! Detached writes: queued without waiting for the disk, committed by the next batch or by the
//! store's flusher thread (one per store, ended when the store is dropped). For what upstream
//! also records without a guarantee: Events.

use super::{DiskError, Shared, Store, lock};
use std::cell::Cell;

impl Drop for Store {
    fn drop(&mut self) {
        lock(&self.shared.decisions).closing = true;
        self.shared.flush.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

thread_local! {
    /// Set while this thread runs inside [`Store::detached`].
    pub(super) static DETACHED: Cell<bool> = const { Cell::new(false) };
}

impl Store {
    /// Runs `write` with every store write it makes detached: queued without waiting for the
    /// disk, so a crash may lose it. For what upstream also records without a guarantee (Events).
    pub fn detached<T>(&self, write: impl FnOnce() -> T) -> T {
        let before = DETACHED.with(|d| d.replace(true));
        let result = write();
        DETACHED.with(|d| d.set(before));
        result
    }
}

impl Shared {
    /// The flusher thread: commits detached and deferred writes that no writer's batch took along.
    pub(super) fn flush_detached(&self) {
        loop {
            let mut decisions = lock(&self.decisions);
            while decisions.unflushed.is_none() && !decisions.closing {
                decisions = self.flush.wait(decisions).unwrap_or_else(|e| e.into_inner());
            }
            let (target, closing) = (decisions.unflushed.take(), decisions.closing);
            drop(decisions);
            if let Some(rv) = target
                && let Err(e) = self.wait_durable(rv)
            {
                eprintln!("sandbox store: a queued write was not committed: {e}");
            }
            if closing {
                return;
            }
        }
    }

    /// Returns once every write queued so far, detached ones included, is committed (or failed).
    pub fn flush(&self) -> Result<(), DiskError> {
        let last = lock(&self.decisions).last_rv;
        self.wait_durable(last)
    }
}

//! Deferred writes: decided and queued by a request handler on an async worker, committed by the
//! store's flusher thread (or any leading writer), and awaited without a thread of their own.
//!
//! Why: a handler that waits for its fsync on a thread needs a blocking-pool thread per request,
//! and each request then costs a hand-off to that thread and back. Inside [`Store::deferred`] a
//! write returns as soon as it is queued and notes the resourceVersion to wait for; the caller
//! answers only after [`Store::durable`] says that resourceVersion is committed. So a reply still
//! never reports a change a crash could lose: only the waiting moved from a parked thread to a
//! parked task, and concurrent requests share the flusher's commits (one fsync per batch).

use super::{DiskError, Store, lock};
use std::cell::Cell;
use std::sync::atomic::Ordering;

thread_local! {
    /// Inside [`Store::deferred`]: the newest resourceVersion a write of this thread must see
    /// committed before it is acknowledged (0: none yet). `None` outside.
    pub(super) static DEFERRED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Whether this thread runs inside [`Store::deferred`].
pub(super) fn active() -> bool {
    DEFERRED.with(Cell::get).is_some()
}

/// Notes that the deferred request must wait for `rv`.
pub(super) fn note(rv: u64) {
    DEFERRED.with(|d| d.set(d.get().map(|seen| seen.max(rv))));
}

/// Restores the thread's state when the deferred call ends, also by unwinding.
struct Restore(Option<u64>);

impl Drop for Restore {
    fn drop(&mut self) {
        DEFERRED.with(|d| d.set(self.0));
    }
}

impl Store {
    /// Runs `write` with the store writes it makes queued but not waited for. Returns its result
    /// and the resourceVersion to pass to [`Store::durable`] before acknowledging anything
    /// (0: nothing to wait for). Reads inside `write` do not see its own queued writes (reads see
    /// committed objects), so use it for handlers that write once and read nothing back.
    pub fn deferred<T>(&self, write: impl FnOnce() -> T) -> (T, u64) {
        let restore = Restore(DEFERRED.with(|d| d.replace(Some(0))));
        let result = write();
        let rv = DEFERRED.with(Cell::get).unwrap_or(0);
        drop(restore);
        (result, rv)
    }

    /// Waits, without blocking the thread, until the write with resourceVersion `rv` is
    /// committed (`Ok`) or its commit failed.
    pub async fn durable(&self, rv: u64) -> Result<(), DiskError> {
        loop {
            // Registered before the check, so a commit finishing in between still wakes it.
            let mut committed = std::pin::pin!(self.shared.committed.notified());
            committed.as_mut().enable();
            if self.shared.done_rv.load(Ordering::Acquire) >= rv {
                return match lock(&self.shared.decisions).failed.contains(&rv) {
                    true => Err(DiskError::Transaction(format!("the commit of resourceVersion {rv} failed"))),
                    false => Ok(()),
                };
            }
            committed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::tests::{key, put};
    use crate::store::{Change, Store};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime")
    }

    #[test]
    fn a_deferred_write_names_the_version_to_await_and_is_durable_once_awaited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let (written, rv) = store.deferred(|| {
                put(&store, "a");
                put(&store, "b")
            });
            assert_eq!((written.object["metadata"]["resourceVersion"].as_str(), rv), (Some("2"), 2));
            runtime().block_on(store.durable(rv)).unwrap();
            assert!(store.get(&key("a")).is_some() && store.get(&key("b")).is_some());
            // Nothing written: nothing to wait for; outside `deferred` a write waits as before.
            assert_eq!(store.deferred(|| ()).1, 0);
            assert_eq!(put(&store, "c").object["metadata"]["resourceVersion"], "3");
            // A write that keeps a queued object waits for that object's commit (none when the
            // flusher committed it first).
            let (_, rv) = store.deferred(|| put(&store, "d"));
            let (_, kept) = store.deferred(|| store.write::<()>(&key("d"), false, |_| Ok(Change::Keep)).unwrap());
            assert!(rv == 4 && (kept == 4 || kept == 0), "{rv} {kept}");
            runtime().block_on(store.durable(rv)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 4);
        assert!(["a", "b", "c", "d"].iter().all(|n| store.get(&key(n)).is_some()));
    }

    #[test]
    fn concurrent_deferred_writers_all_get_their_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
            std::thread::scope(|scope| {
                for t in 0..8 {
                    let (store, rt) = (&store, &rt);
                    scope.spawn(move || {
                        for i in 0..25 {
                            let (_, rv) = store.deferred(|| put(store, &format!("w{t}-{i}")));
                            rt.block_on(store.durable(rv)).unwrap();
                            assert!(store.get(&key(&format!("w{t}-{i}"))).is_some());
                        }
                    });
                }
            });
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.resource_version(), 200);
    }
}

//! A container's process table: what `ps` lists and where `kill` delivers signals. PID 1 is the
//! container's main process; the kubelet watches it to learn that the container was killed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent's process id (0 for PID 1).
    pub ppid: u32,
    /// When it started.
    pub started: jiff::Timestamp,
    /// Its command line, as `ps` shows it.
    pub command: String,
}

/// The signals `kill` knows, by number and name.
pub const SIGNALS: &[(i32, &str)] =
    &[(1, "HUP"), (2, "INT"), (3, "QUIT"), (9, "KILL"), (10, "USR1"), (12, "USR2"), (15, "TERM")];

struct Entry {
    info: ProcessInfo,
    signal: watch::Sender<Option<i32>>,
}

struct Table {
    next_pid: u32,
    entries: BTreeMap<u32, Entry>,
}

/// A shared, cloneable handle to one container's processes.
#[derive(Clone)]
pub struct ProcessTable(Arc<Mutex<Table>>);

impl ProcessTable {
    /// A table whose PID 1 runs `main_command` (e.g. `nginx: master process nginx -g daemon off;`).
    pub fn new(main_command: &str) -> Self {
        let table = Self(Arc::new(Mutex::new(Table { next_pid: 7, entries: BTreeMap::new() })));
        table.insert(1, 0, main_command);
        table
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, pid: u32, ppid: u32, command: &str) {
        let info = ProcessInfo { pid, ppid, started: jiff::Timestamp::now(), command: command.to_string() };
        self.lock().entries.insert(pid, Entry { info, signal: watch::channel(None).0 });
    }

    /// Registers another process (an exec'd shell, a `sleep`); it leaves the table when the guard drops.
    pub fn start(&self, ppid: u32, command: &str) -> ProcessGuard {
        let pid = {
            let mut table = self.lock();
            let pid = table.next_pid;
            table.next_pid += 1;
            pid
        };
        self.insert(pid, ppid, command);
        ProcessGuard { table: self.clone(), pid }
    }

    /// Adds a process that stays until the container ends (e.g. nginx's worker under PID 1).
    pub fn add_resident(&self, ppid: u32, command: &str) -> u32 {
        let guard = self.start(ppid, command);
        let pid = guard.pid;
        std::mem::forget(guard);
        pid
    }

    /// The processes, by pid.
    pub fn list(&self) -> Vec<ProcessInfo> {
        self.lock().entries.values().map(|e| e.info.clone()).collect()
    }

    /// Delivers `signal` to `pid` (0 only checks that it exists), worded like busybox's `kill`.
    pub fn signal(&self, pid: u32, signal: i32) -> Result<(), String> {
        let table = self.lock();
        let entry = table.entries.get(&pid).ok_or_else(|| format!("can't kill pid {pid}: No such process"))?;
        if signal != 0 {
            entry.signal.send_replace(Some(signal));
        }
        Ok(())
    }

    /// Signals sent to `pid` from now on (the kubelet watches PID 1 with this).
    pub fn watch(&self, pid: u32) -> Option<watch::Receiver<Option<i32>>> {
        self.lock().entries.get(&pid).map(|e| e.signal.subscribe())
    }
}

/// A registered process; dropping it removes the process from the table.
pub struct ProcessGuard {
    table: ProcessTable,
    /// Its process id.
    pub pid: u32,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.table.lock().entries.remove(&self.pid);
    }
}

/// Waits until `signals` reports a signal and returns its number (never returns if none comes).
pub async fn signalled(signals: &mut Option<watch::Receiver<Option<i32>>>) -> i32 {
    let Some(rx) = signals else { return std::future::pending().await };
    loop {
        if let Some(sig) = *rx.borrow_and_update() {
            return sig;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn started_processes_leave_the_table_when_dropped() {
        let table = ProcessTable::new("sleep 3600");
        let guard = table.start(1, "sh");
        assert_eq!(table.list().iter().map(|p| p.pid).collect::<Vec<_>>(), [1, guard.pid]);
        drop(guard);
        assert_eq!(table.list().len(), 1);
    }

    #[tokio::test]
    async fn signalling_pid_one_reaches_its_watcher() {
        let table = ProcessTable::new("nginx");
        let mut watcher = table.watch(1);
        table.signal(1, 15).unwrap();
        assert_eq!(signalled(&mut watcher).await, 15);
        assert_eq!(table.signal(99, 9).unwrap_err(), "can't kill pid 99: No such process");
    }
}

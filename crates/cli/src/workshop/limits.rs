//! Per-sandbox limits a workshop sets on each learner's sandbox, so that one learner's runaway
//! loop cannot starve the others:
//!
//! - **Objects**: the limit is kept in the sandbox's data directory, where `sandbox serve` reads it
//!   (the engine starts the sandbox itself, so a file, not a flag, reaches it); the sandbox's
//!   admission refuses creates past it.
//! - **CPU**: every thread of every sandbox child runs at a lower priority ([`SANDBOX_NICE`]) than the
//!   workshop server, which serves every learner's pages, commands and kubectl. A busy sandbox then
//!   yields to the server at once, and busy sandboxes share what is left the way the scheduler
//!   shares equal-priority work. (cgroup v2 `cpu.max` per sandbox would cap each one too, but needs a
//!   delegated cgroup v2 tree with the cpu controller; see docs/workshop.md.)

use gitops_lab::EngineConfig;
use std::collections::HashSet;
use std::sync::Mutex;

/// The niceness of sandbox threads (the server runs at 0; 19 is the lowest priority).
pub const SANDBOX_NICE: i32 = 10;

/// Writes (or, for 0, removes) the object limit of a learner's sandbox.
pub fn prepare(config: &EngineConfig, max_objects: usize) -> anyhow::Result<()> {
    let dir = config.sandbox_dir();
    let path = dir.join(gitops_sandbox_core::admission::MAX_OBJECTS_FILE);
    if max_objects == 0 {
        return match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::write(&path, format!("{max_objects}\n"))?;
    Ok(())
}

/// Lowers the priority of the sandbox children's threads; threads already lowered are skipped.
/// Run every few seconds: a sandbox (re)started since, or a thread it started since, is found by
/// its parent (this process) and its command line (`sandbox serve`).
#[derive(Default)]
pub struct CpuShare {
    done: Mutex<HashSet<u32>>,
}

impl CpuShare {
    /// One pass over this process's children.
    pub fn sweep(&self) {
        let own = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        let children = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| parent_of(*pid) == Some(own) && is_sandbox(*pid));
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let mut alive = HashSet::new();
        for pid in children {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
            for tid in tasks.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
                alive.insert(tid);
                if !done.contains(&tid) && lower(tid) {
                    done.insert(tid);
                }
            }
        }
        done.retain(|tid| alive.contains(tid));
    }
}

/// The parent of a process, from `/proc/PID/stat` (the field after the parenthesised name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

fn is_sandbox(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(2).any(|w| w[0] == b"sandbox" && w[1] == b"serve")
}

/// setpriority on one thread (on Linux, `PRIO_PROCESS` with a thread id sets that thread only).
fn lower(tid: u32) -> bool {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, SANDBOX_NICE) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The niceness of a thread (field 19 of its stat).
    fn nice_of(path: &Path) -> Option<i32> {
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        stat.rsplit_once(") ")?.1.split(' ').nth(16)?.parse().ok()
    }

    #[test]
    fn a_child_sandbox_is_found_and_lowered_and_others_are_not() {
        // Stand-ins: a child whose command line says `sandbox serve`, and one that does not.
        let sandbox = std::process::Command::new("sh").args(["-c", "sleep 30", "sandbox", "serve"]).spawn().unwrap();
        let other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        CpuShare::default().sweep();
        let nice = |pid: u32| nice_of(Path::new(&format!("/proc/{pid}")));
        assert_eq!(nice(sandbox.id()), Some(SANDBOX_NICE));
        assert_ne!(nice(other.id()), Some(SANDBOX_NICE));
        assert_eq!(parent_of(sandbox.id()), Some(std::process::id()));
        for mut child in [sandbox, other] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! Per-sandbox limits a workshop sets on each learner's sandbox, so that one learner's runaway
//! loop cannot starve the others:
//!
//! - **Objects**: the limit is kept in the sandbox's data directory, where `sandbox serve` reads it
//!   (the engine starts the sandbox itself, so a file, not a flag, reaches it); the sandbox's
//!   admission refuses creates past it.
//! - **CPU**: every sandbox child lowers its own priority ([`SANDBOX_NICE`]) before it starts a
//!   thread ([`lower_sandboxes`]), below the workshop server, which serves every learner's pages,
//!   commands and kubectl. A busy sandbox then yields to the server at once, and busy sandboxes
//!   share what is left the way the scheduler shares equal-priority work. (A cgroup v2 `cpu.weight`
//!   per sandbox would be finer, but needs a delegated cgroup v2 tree with the cpu controller, which
//!   an ordinary user rarely has; see docs/workshop.md.)

use gitops_lab::EngineConfig;

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

/// Has every sandbox this process starts lower its own priority: the engine starts `sandbox serve`
/// as a child, which inherits the environment and applies [`SANDBOX_NICE`] before its first thread
/// (so no thread ever runs at the server's priority, and nothing has to look for new ones).
pub fn lower_sandboxes() {
    if std::env::var_os(crate::sandbox_serve::NICE_ENV).is_none() {
        // SAFETY: called before the workshop builds its runtime, while this is the only thread, so
        // nothing reads the environment meanwhile.
        unsafe { std::env::set_var(crate::sandbox_serve::NICE_ENV, SANDBOX_NICE.to_string()) };
    }
}

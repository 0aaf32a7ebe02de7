//! The shell's own heap (glibc's malloc, Linux only): at most two malloc arenas instead of eight per
//! core, and the memory freed during start-up handed back to the system once the window is idle.
//!
//! Both only touch this process: WebKit's web and network processes allocate mostly through their
//! own allocator (libpas), which glibc's settings do not reach. `GITOPS_LAB_MALLOC=default` leaves
//! glibc's defaults alone (for measuring the difference).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    //! The two glibc calls, declared here (the `libc` crate would add a dependency for two lines).
    use std::ffi::c_int;

    /// `mallopt`'s parameter for the most arenas glibc may create (malloc.h: `M_ARENA_MAX`).
    pub const M_ARENA_MAX: c_int = -8;

    unsafe extern "C" {
        /// Sets a malloc tuning parameter; any value is safe to pass, a bad one returns 0.
        pub safe fn mallopt(param: c_int, value: c_int) -> c_int;
        /// Returns the free memory of every arena to the system; safe from any thread.
        pub safe fn malloc_trim(pad: usize) -> c_int;
    }
}

/// How long after start the shell trims its heap: by then the page has loaded and the engine and
/// sandbox have started, which is where the start-up garbage comes from.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(12);

/// Whether the memory settings apply (not with `GITOPS_LAB_MALLOC=default`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn enabled() -> bool {
    !std::env::var("GITOPS_LAB_MALLOC").is_ok_and(|v| v == "default")
}

/// Limits glibc to two arenas. Call it first thing in `main`: arenas are made as threads first
/// allocate, and the limit only holds for arenas not made yet (tokio, GTK and WebKit start a dozen
/// threads, each of which would otherwise get an arena of its own with its own free lists).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_arenas() {
    if enabled() {
        glibc::mallopt(glibc::M_ARENA_MAX, 2);
    }
}

/// Trims the heap once, [`TRIM_AFTER`] from now, on a short-lived thread of its own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_when_idle() {
    if enabled() {
        std::thread::spawn(|| {
            std::thread::sleep(TRIM_AFTER);
            glibc::malloc_trim(0);
        });
    }
}

/// Elsewhere the system's allocator is left alone.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// Elsewhere the system's allocator is left alone.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_when_idle() {}

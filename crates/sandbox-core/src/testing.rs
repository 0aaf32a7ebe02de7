//! Test support for the sandbox crates' own tests (feature `testing`): a store-backed sandbox in a
//! temporary directory. Not part of the sandbox a user runs.

use crate::Sandbox;

/// A sandbox opened in a fresh temporary directory, which is removed when the `TempDir` drops.
pub fn sandbox() -> (tempfile::TempDir, Sandbox) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = Sandbox::open(dir.path()).expect("a sandbox opens in a fresh directory");
    (dir, sandbox)
}

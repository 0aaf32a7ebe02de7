//! What every engine benchmark needs: its knobs from the environment and the `gitops-lab` binary
//! that serves the sandbox. A directory module, so Cargo does not take it for a benchmark of its own.

use std::path::{Path, PathBuf};

/// A numeric knob from the environment, or its default when unset or not a number.
pub fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `gitops-lab` binary: `$GITOPS_LAB_BIN`, else the one in this benchmark's target directory.
pub fn gitops_lab_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("GITOPS_LAB_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.parent().and_then(Path::parent).expect("target/<profile>/deps").join("gitops-lab");
    assert!(bin.exists(), "{} is missing: run `cargo build --release -p gitops-lab` first", bin.display());
    bin
}

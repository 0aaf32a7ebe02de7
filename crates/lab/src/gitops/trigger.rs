//! How the sync loop notices a new commit without polling a local repository: the kernel tells it
//! when the repository's refs change (`notify`: inotify on Linux, FSEvents on macOS,
//! ReadDirectoryChangesW on Windows). Commits made through the lab are announced directly as well
//! (see [`super::repos`]); only remote URLs are polled.

use crate::error::{Error, Result};
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;

/// Watches a repository's refs for as long as it lives.
pub struct RefWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Wakes `kick` whenever a ref of the repository at `git_dir` (its `.git` directory) may have moved:
/// `HEAD`, `packed-refs`, or anything under `refs/`. Lock files and object writes are ignored.
pub fn watch_refs(git_dir: &Path, kick: Arc<Notify>) -> Result<RefWatcher> {
    let root = git_dir.to_path_buf();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.paths.iter().any(|p| is_ref_path(&root, p)) {
            kick.notify_one();
        }
    };
    let fail = |e: notify::Error| Error::io(git_dir, std::io::Error::other(e.to_string()));
    let mut watcher = notify::recommended_watcher(handler).map_err(fail)?;
    watcher.watch(git_dir, RecursiveMode::NonRecursive).map_err(fail)?;
    let refs: PathBuf = git_dir.join("refs");
    if refs.is_dir() {
        watcher.watch(&refs, RecursiveMode::Recursive).map_err(fail)?;
    }
    Ok(RefWatcher { _watcher: watcher })
}

/// Whether a changed path is a ref (a branch, a tag, HEAD or the packed refs), not a lock or an object.
fn is_ref_path(git_dir: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(git_dir) else { return false };
    let text = relative.to_string_lossy();
    if text.ends_with(".lock") {
        return false;
    }
    text == "HEAD" || text == "packed-refs" || text.starts_with("refs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_count_and_locks_and_objects_do_not() {
        let git = Path::new("/r/.git");
        assert!(is_ref_path(git, Path::new("/r/.git/refs/heads/main")));
        assert!(is_ref_path(git, Path::new("/r/.git/HEAD")));
        assert!(is_ref_path(git, Path::new("/r/.git/packed-refs")));
        assert!(!is_ref_path(git, Path::new("/r/.git/refs/heads/main.lock")));
        assert!(!is_ref_path(git, Path::new("/r/.git/objects/ab/cdef")));
        assert!(!is_ref_path(git, Path::new("/r/.git/index")));
    }

    #[tokio::test]
    async fn a_commit_made_by_the_real_git_wakes_the_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let repos = super::super::Repos::new(dir.path());
        let work = repos.dir("config").unwrap();
        let kick = Arc::new(Notify::new());
        let _watcher = watch_refs(&work.join(".git"), kick.clone()).unwrap();
        std::fs::write(work.join("note.txt"), "hello").unwrap();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
                .args(args)
                .current_dir(&work)
                .status()
                .unwrap();
            assert!(status.success());
        };
        git(&["add", "note.txt"]);
        git(&["commit", "-q", "-m", "note"]);
        tokio::time::timeout(std::time::Duration::from_secs(5), kick.notified()).await.expect("woken by the commit");
    }
}

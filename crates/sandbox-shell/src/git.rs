//! `git clone` for the operator image: clones with libgit2 (git2) into a temporary directory on
//! the host, then copies the work tree into the container's filesystem. Only repositories on this
//! machine are reachable: `file://` URLs and http(s) on loopback, as the lab serves them.

use std::path::Path;

use super::builtins::{Call, Flags};
use super::interp::Shell;

/// Whether the sandbox lets a container reach `url`; `Err` is why not.
fn reachable(url: &str) -> Result<(), String> {
    if url.starts_with("file://") {
        return Ok(());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("fatal: repository '{url}' does not exist"));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("fatal: Unable to find remote helper for '{scheme}'"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default().to_string()
    };
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        Ok(())
    } else {
        Err(format!("fatal: unable to access '{url}': Could not resolve host: {host}"))
    }
}

/// The directory `git clone URL` picks: the last path segment without `.git`.
fn default_dir(url: &str) -> String {
    let last = url.trim_end_matches('/').rsplit('/').next().unwrap_or("repo");
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() { "repo".into() } else { name.into() }
}

/// Files of a work tree (without `.git`), with paths relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push((relative.to_string_lossy().replace('\\', "/"), std::fs::read(&path)?));
        }
    }
    Ok(())
}

/// Clones on a blocking thread into a fresh temporary directory, which is removed afterwards.
async fn clone_files(url: String, branch: Option<String>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let work = tokio::task::spawn_blocking(move || {
        let dir = std::env::temp_dir().join(format!("gitops-sandbox-clone-{}", uuid::Uuid::new_v4()));
        let mut builder = git2::build::RepoBuilder::new();
        if let Some(branch) = &branch {
            builder.branch(branch);
        }
        let result = builder.clone(&url, &dir).map_err(|e| format!("fatal: {}", e.message())).and_then(|_| {
            let mut files = Vec::new();
            collect(&dir, &dir, &mut files).map(|()| files).map_err(|e| format!("fatal: {e}"))
        });
        let _ = std::fs::remove_dir_all(&dir);
        result
    });
    work.await.map_err(|e| format!("fatal: clone interrupted: {e}"))?
}

/// `git clone [-b BRANCH] [--depth N] [-q] URL [DIR]` and `git --version`.
pub(crate) async fn git(sh: &mut Shell, c: &mut Call) -> i32 {
    match c.args.get(1).map(String::as_str) {
        Some("clone") => clone(sh, c).await,
        Some("--version" | "version") => {
            c.out("git version 2.47.0 (sandbox, libgit2)\n").await;
            0
        }
        other => {
            let what = other.unwrap_or("");
            c.err(format!(
                "git: '{what}' is not supported in the sandbox: only 'git clone' is (use a real cluster, \
                e.g. minikube, for more)\n"
            ))
            .await;
            1
        }
    }
}

async fn clone(sh: &mut Shell, c: &mut Call) -> i32 {
    let args: Vec<String> = c.args[2..]
        .iter()
        .filter(|a| !a.starts_with("--depth=") && !a.starts_with("--single-branch") && *a != "--no-checkout")
        .cloned()
        .collect();
    let flags = match Flags::parse(&args, "bo") {
        Ok(flags) => flags,
        Err(message) => return c.fail(message).await,
    };
    // `--depth N` takes a value the short-option parser does not know about.
    let operands: Vec<&String> = {
        let mut skip = false;
        flags
            .operands
            .iter()
            .filter(|a| !std::mem::replace(&mut skip, *a == "--depth" || *a == "--branch") && !a.starts_with("--"))
            .collect()
    };
    let Some(url) = operands.first().map(|s| s.to_string()) else {
        c.err("fatal: You must specify a repository to clone.\n").await;
        return 129;
    };
    let dir = operands.get(1).map(|s| s.to_string()).unwrap_or_else(|| default_dir(&url));
    let dest = sh.abs(&dir);
    if sh.ctx.fs.list(&dest).is_ok_and(|entries| !entries.is_empty()) || sh.ctx.fs.is_dir(&dest) == Some(false) {
        c.err(format!("fatal: destination path '{dir}' already exists and is not an empty directory.\n")).await;
        return 128;
    }
    if !flags.has('q') {
        c.err(format!("Cloning into '{dir}'...\n")).await;
    }
    if let Err(message) = reachable(&url) {
        c.err(format!(
            "{message}\ngit: note: from the sandbox, containers reach only repositories on this machine \
            (file:// or http://127.0.0.1); use a real cluster for others\n"
        ))
        .await;
        return 128;
    }
    let branch = flags
        .values
        .get(&'b')
        .cloned()
        .or_else(|| args.iter().position(|a| a == "--branch").and_then(|i| args.get(i + 1).cloned()));
    match clone_files(url, branch).await {
        Ok(files) => {
            if let Err(e) = sh.ctx.fs.mkdir(&dest) {
                return c.fail(format!("fatal: could not create work tree dir '{dir}': {e}")).await;
            }
            for (path, bytes) in files {
                if let Err(e) = sh.ctx.fs.write(&format!("{dest}/{path}"), bytes, false) {
                    return c.fail(format!("fatal: {e}")).await;
                }
            }
            0
        }
        Err(message) => {
            c.err(format!("{message}\n")).await;
            128
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_repositories_are_reachable() {
        assert!(reachable("file:///tmp/repo").is_ok());
        assert!(reachable("http://127.0.0.1:8080/config.git").is_ok());
        assert!(reachable("https://user@localhost/x.git").is_ok());
        assert_eq!(
            reachable("https://github.com/org/repo.git").unwrap_err(),
            "fatal: unable to access 'https://github.com/org/repo.git': Could not resolve host: github.com"
        );
        assert!(reachable("ssh://git@example.com/x").is_err());
    }

    #[test]
    fn the_default_directory_is_the_repository_name() {
        assert_eq!(default_dir("http://127.0.0.1/gitops/config.git"), "config");
        assert_eq!(default_dir("file:///tmp/app/"), "app");
    }
}

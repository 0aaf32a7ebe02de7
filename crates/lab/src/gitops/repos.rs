//! The learner's repositories: real git repositories (with a work tree, so the learner can also use
//! the real `git` in them) under the lab's data directory, created from their templates on first use.
//!
//! Every commit made through the lab checks the manifests it writes first, writes only the files it
//! changes (the learner's other uncommitted edits stay out of it), and is announced on a channel so
//! that the sync loop reacts at once instead of polling.

use super::error::{bad_path, git, no_such_file, nothing_to_commit, unknown_repo};
use super::templates;
use crate::error::{Error, Result};
use gitops_lab_protocol::{CommitView, ErrorView, FileChange, Text};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// The author of the lab's own commits.
const AUTHOR: (&str, &str) = ("GitOps Lab", "lab@gitops-lab.invalid");
/// The branch the repositories start on.
pub const BRANCH: &str = "main";

/// A commit made through the lab, as announced to the sync loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitNotice {
    /// The repository's directory.
    pub dir: PathBuf,
    /// The new head commit.
    pub sha: String,
}

/// The learner's repositories under one directory.
pub struct Repos {
    root: PathBuf,
    /// Serialises creation and commits: git2 work is short and blocking, never held across `.await`.
    lock: Mutex<()>,
    commits: broadcast::Sender<CommitNotice>,
}

impl Repos {
    /// The repositories kept under `root` (created lazily).
    pub fn new(root: impl Into<PathBuf>) -> Repos {
        Repos { root: root.into(), lock: Mutex::new(()), commits: broadcast::channel(64).0 }
    }

    /// The directory holding every repository (the git server's root).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Follows the commits made through the lab.
    pub fn subscribe(&self) -> broadcast::Receiver<CommitNotice> {
        self.commits.subscribe()
    }

    /// A repository's directory, after checking that the lab keeps it. Creates it on first use.
    pub fn dir(&self, name: &str) -> Result<PathBuf> {
        self.open(name).map(|_| self.root.join(name))
    }

    /// Opens a repository, creating it from its template on first use.
    pub fn open(&self, name: &str) -> Result<git2::Repository> {
        let files = templates::files(name).ok_or_else(|| unknown_repo(name, templates::NAMES))?;
        let dir = self.root.join(name);
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if dir.join(".git").exists() {
            return git2::Repository::open(&dir).map_err(|e| git(("opening the repository", "打开仓库"), name, e));
        }
        create_from_template(&dir, name, files)
    }

    /// The head commit, if the repository has one.
    pub fn head(&self, name: &str) -> Result<Option<CommitView>> {
        let repo = self.open(name)?;
        Ok(head_commit(&repo).map(|c| commit_view(&c)))
    }

    /// The history from the head, newest first, at most `limit` commits.
    pub fn log(&self, name: &str, limit: usize) -> Result<Vec<CommitView>> {
        let repo = self.open(name)?;
        let fail = |e| git(("reading the history", "读取历史"), name, e);
        let mut walk = repo.revwalk().map_err(fail)?;
        if head_commit(&repo).is_none() {
            return Ok(Vec::new());
        }
        walk.push_head().map_err(fail)?;
        let mut commits = Vec::new();
        for oid in walk.take(limit) {
            let commit = repo.find_commit(oid.map_err(fail)?).map_err(fail)?;
            commits.push(commit_view(&commit));
        }
        Ok(commits)
    }

    /// The paths of the head commit's files, sorted.
    pub fn files(&self, name: &str) -> Result<Vec<String>> {
        let repo = self.open(name)?;
        let Some(commit) = head_commit(&repo) else { return Ok(Vec::new()) };
        let tree = commit.tree().map_err(|e| git(("reading the files", "读取文件"), name, e))?;
        let mut paths = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                paths.push(format!("{dir}{}", entry.name().unwrap_or_default()));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(|e| git(("reading the files", "读取文件"), name, e))?;
        paths.sort();
        Ok(paths)
    }

    /// A file of the head commit (not of the work tree), as text.
    pub fn read(&self, name: &str, path: &str) -> Result<String> {
        check_path(path)?;
        let repo = self.open(name)?;
        let commit = head_commit(&repo).ok_or_else(|| no_such_file(name, path))?;
        let tree = commit.tree().map_err(|e| git(("reading a file", "读取文件"), name, e))?;
        let entry = tree.get_path(Path::new(path)).map_err(|_| no_such_file(name, path))?;
        let blob = repo.find_blob(entry.id()).map_err(|_| no_such_file(name, path))?;
        Ok(String::from_utf8_lossy(blob.content()).into_owned())
    }

    /// Commits `changes` on the current branch. Manifests (`.yaml`, `.yml`, `.json`) are parsed first:
    /// a broken one is refused with its file, line and reason, and nothing is written.
    pub fn commit(&self, name: &str, changes: &[FileChange], message: &str) -> Result<CommitView> {
        for change in changes {
            check_path(&change.path)?;
            if let Some(content) = &change.content {
                check_manifest(&change.path, content)?;
            }
        }
        let repo = self.open(name)?;
        let dir = self.root.join(name);
        let view = {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            write_and_commit(&repo, &dir, name, changes, message)?
        };
        let _ = self.commits.send(CommitNotice { dir, sha: view.sha.clone() });
        Ok(view)
    }

    /// Commits the reverse of `sha` (as `git revert` does), e.g. to roll the config back.
    pub fn revert(&self, name: &str, sha: &str) -> Result<CommitView> {
        let repo = self.open(name)?;
        let dir = self.root.join(name);
        let fail = |e| git(("reverting a commit", "回滚提交"), name, e);
        let view = {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let oid = git2::Oid::from_str(sha).map_err(fail)?;
            let target = repo.find_commit(oid).map_err(fail)?;
            let head = head_commit(&repo).ok_or_else(|| no_such_file(name, sha))?;
            let mut index = repo.revert_commit(&target, &head, 0, None).map_err(fail)?;
            if index.has_conflicts() {
                return Err(revert_conflict(name, sha));
            }
            let tree = repo.find_tree(index.write_tree_to(&repo).map_err(fail)?).map_err(fail)?;
            let message = format!(
                "Revert \"{}\"\n\nThis reverts commit {sha}.\n",
                target.summary().ok().flatten().unwrap_or_default()
            );
            let signature = git2::Signature::now(AUTHOR.0, AUTHOR.1).map_err(fail)?;
            let new = repo.commit(Some("HEAD"), &signature, &signature, &message, &tree, &[&head]).map_err(fail)?;
            // Bring the work tree and index to the new commit, as `git revert` leaves them.
            let mut checkout = git2::build::CheckoutBuilder::new();
            checkout.force();
            repo.checkout_head(Some(&mut checkout)).map_err(fail)?;
            commit_view(&repo.find_commit(new).map_err(fail)?)
        };
        let _ = self.commits.send(CommitNotice { dir, sha: view.sha.clone() });
        Ok(view)
    }
}

fn create_from_template(dir: &Path, name: &str, files: &[templates::TemplateFile]) -> Result<git2::Repository> {
    let fail = |e| git(("creating the repository", "创建仓库"), name, e);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head(BRANCH);
    let repo = git2::Repository::init_opts(dir, &options).map_err(fail)?;
    let changes: Vec<FileChange> = files
        .iter()
        .map(|(path, text)| FileChange { path: path.to_string(), content: Some(text.to_string()) })
        .collect();
    write_and_commit(&repo, dir, name, &changes, "Start from the lab's template")?;
    Ok(repo)
}

/// Writes the changed files to the work tree, stages exactly those paths, and commits the index.
fn write_and_commit(
    repo: &git2::Repository,
    dir: &Path,
    name: &str,
    changes: &[FileChange],
    message: &str,
) -> Result<CommitView> {
    let fail = |e| git(("committing", "提交"), name, e);
    let mut index = repo.index().map_err(fail)?;
    for change in changes {
        let file = dir.join(&change.path);
        match &change.content {
            Some(content) => {
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::write(&file, content).map_err(|e| Error::io(&file, e))?;
                index.add_path(Path::new(&change.path)).map_err(fail)?;
            }
            None => {
                if file.exists() {
                    std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
                }
                index.remove_path(Path::new(&change.path)).map_err(fail)?;
            }
        }
    }
    index.write().map_err(fail)?;
    let tree = repo.find_tree(index.write_tree().map_err(fail)?).map_err(fail)?;
    let parent = head_commit(repo);
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree.id()) {
        return Err(nothing_to_commit(name));
    }
    let signature = git2::Signature::now(AUTHOR.0, AUTHOR.1).map_err(fail)?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let oid = repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents).map_err(fail)?;
    Ok(commit_view(&repo.find_commit(oid).map_err(fail)?))
}

/// The head commit, `None` in an empty repository.
pub fn head_commit(repo: &git2::Repository) -> Option<git2::Commit<'_>> {
    repo.head().ok()?.peel_to_commit().ok()
}

/// A commit as the UI shows it.
pub fn commit_view(commit: &git2::Commit) -> CommitView {
    let time = jiff::Timestamp::from_second(commit.time().seconds()).map(|t| t.to_string()).unwrap_or_default();
    CommitView {
        sha: commit.id().to_string(),
        summary: commit.summary().ok().flatten().unwrap_or_default().to_string(),
        author: commit.author().name().unwrap_or_default().to_string(),
        time,
    }
}

/// Refuses absolute paths, `..`, empty paths and anything inside `.git`.
fn check_path(path: &str) -> Result<()> {
    let p = Path::new(path);
    let plain = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(part) if part != ".git"));
    if plain { Ok(()) } else { Err(bad_path(path)) }
}

/// Whether a path names a manifest the sync loop would read.
pub fn is_manifest(path: &str) -> bool {
    [".yaml", ".yml", ".json"].iter().any(|ext| path.ends_with(ext))
}

fn check_manifest(path: &str, content: &str) -> Result<()> {
    if !is_manifest(path) {
        return Ok(());
    }
    crate::kubectl::parse(path, content).map(|_| ()).map_err(|error| {
        let mut view: ErrorView = error.view();
        view.hint = Some(Text::new(
            "Fix the file at that line and commit again; nothing was committed.",
            "请修改该文件中这一行后重新提交；本次没有提交任何内容。",
        ));
        Error::from(view)
    })
}

fn revert_conflict(name: &str, sha: &str) -> Error {
    Error::explained(
        "revert-conflict",
        Text::new(
            format!("Commit {sha} of \"{name}\" cannot be reverted cleanly: later commits changed the same lines."),
            format!("仓库“{name}”的提交 {sha} 无法干净地回滚：之后的提交修改了相同的行。"),
        ),
        Some(Text::new(
            "Revert the later commits first (newest first), or edit the file by hand and commit.",
            "请先（从最新的开始）回滚之后的提交，或手动修改文件后提交。",
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, content: &str) -> FileChange {
        FileChange { path: path.into(), content: Some(content.into()) }
    }

    #[test]
    fn a_repository_starts_from_its_template_with_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path());
        assert_eq!(repos.log("config", 10).unwrap().len(), 1);
        assert!(repos.files("config").unwrap().contains(&"deployment.yaml".to_string()));
        assert!(repos.read("config", "deployment.yaml").unwrap().contains("gitops-lab/sample-app:"));
        assert!(dir.path().join("config/deployment.yaml").is_file(), "the work tree is checked out");
    }

    #[test]
    fn a_commit_is_read_back_from_the_head_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path());
        let mut notices = repos.subscribe();
        let view = repos
            .commit(
                "config",
                &[change("extra/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")],
                "Add x",
            )
            .unwrap();
        assert_eq!(view.summary, "Add x");
        assert_eq!(repos.log("config", 10).unwrap()[0], view);
        assert!(repos.read("config", "extra/cm.yaml").unwrap().contains("name: x"));
        assert_eq!(notices.try_recv().unwrap().sha, view.sha);
    }

    #[test]
    fn a_broken_manifest_is_refused_with_its_line_and_nothing_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path());
        let before = repos.head("config").unwrap();
        let error = repos
            .commit(
                "config",
                &[
                    change("ok.txt", "fine"),
                    change("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [\n"),
                ],
                "Broken",
            )
            .unwrap_err()
            .view();
        assert_eq!(error.code, "invalid-manifest");
        assert!(error.message.en.starts_with("bad.yaml:"), "{}", error.message.en);
        assert_eq!(repos.head("config").unwrap(), before);
        assert!(!dir.path().join("config/ok.txt").exists(), "nothing was written");
    }

    #[test]
    fn paths_outside_the_repository_and_unknown_repositories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path());
        for path in ["../x", "/etc/passwd", ".git/config", ""] {
            assert_eq!(
                repos.commit("config", &[change(path, "x")], "m").unwrap_err().view().code,
                "bad-path",
                "{path}"
            );
        }
        assert_eq!(repos.log("nope", 1).unwrap_err().view().code, "unknown-repo");
        assert_eq!(
            repos
                .commit("config", &[change("README.md", &repos.read("config", "README.md").unwrap())], "same")
                .unwrap_err()
                .view()
                .code,
            "nothing-to-commit"
        );
    }

    #[test]
    fn a_revert_restores_the_files_of_the_commit_before() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path());
        let original = repos.read("config", "service.yaml").unwrap();
        let bump = repos
            .commit("config", &[change("service.yaml", &original.replace("port: 80", "port: 81"))], "Port 81")
            .unwrap();
        let revert = repos.revert("config", &bump.sha).unwrap();
        assert!(revert.summary.starts_with("Revert \"Port 81\""));
        assert_eq!(repos.read("config", "service.yaml").unwrap(), original);
        assert_eq!(std::fs::read_to_string(dir.path().join("config/service.yaml")).unwrap(), original);
    }
}

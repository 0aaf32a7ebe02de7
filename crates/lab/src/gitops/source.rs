//! Where the sync loop's manifests come from: one commit of a repository (a lab repository, any
//! local repository, or a remote URL fetched into a cache), read from the commit's tree — never
//! from a work tree, whose uncommitted edits are not part of git's desired state.

use super::error::git;
use super::repos::{Repos, is_manifest};
use crate::error::{Error, Result};
use crate::kubectl::{Manifest, ManifestError, parse};
use gitops_lab_protocol::{ErrorView, Text};
use std::path::{Path, PathBuf};

/// A repository to sync from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A repository on this machine (its work tree or bare directory).
    Local(PathBuf),
    /// A remote repository, fetched into `cache` on each look.
    Remote {
        /// The clone URL.
        url: String,
        /// The bare repository it is fetched into.
        cache: PathBuf,
    },
}

impl Location {
    /// Reads what the learner typed: a lab repository's name (`config`), a URL (`http://…`,
    /// `file://…`), or a path to a git repository.
    pub fn parse(spec: &str, repos: &Repos, cache_root: &Path) -> Result<Location> {
        if spec.contains("://") {
            let id = short_id(spec);
            return Ok(Location::Remote { url: spec.to_string(), cache: cache_root.join(id) });
        }
        if super::templates::files(spec).is_some() && !spec.contains('/') {
            let dir = repos.dir(spec)?;
            return Ok(Location::Local(std::fs::canonicalize(&dir).unwrap_or(dir)));
        }
        let path = PathBuf::from(spec);
        match git2::Repository::open(&path) {
            Ok(_) => Ok(Location::Local(std::fs::canonicalize(&path).unwrap_or(path))),
            Err(_) => Err(not_a_repository(spec)),
        }
    }

    /// The head commit: for a remote, after fetching it.
    pub fn head(&self) -> Result<String> {
        match self {
            Location::Local(dir) => {
                let repo = open(dir)?;
                let commit =
                    super::repos::head_commit(&repo).ok_or_else(|| empty_repository(&dir.display().to_string()))?;
                Ok(commit.id().to_string())
            }
            Location::Remote { url, cache } => fetch(url, cache),
        }
    }

    /// The repository holding the commits (the cache for a remote).
    pub fn open(&self) -> Result<git2::Repository> {
        match self {
            Location::Local(dir) => open(dir),
            Location::Remote { cache, .. } => open(cache),
        }
    }

    /// The directory whose refs change when a commit lands (`.git` of a work tree), for local ones.
    pub fn git_dir(&self) -> Option<PathBuf> {
        match self {
            Location::Local(dir) => git2::Repository::open(dir).ok().map(|r| r.path().to_path_buf()),
            Location::Remote { .. } => None,
        }
    }
}

/// A stable short name for a string (git's SHA-1 of it), for directories and labels.
pub fn short_id(text: &str) -> String {
    let oid = git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes()).map(|o| o.to_string());
    oid.unwrap_or_default().chars().take(12).collect()
}

fn open(dir: &Path) -> Result<git2::Repository> {
    git2::Repository::open(dir).map_err(|e| git(("opening the repository", "打开仓库"), &dir.display().to_string(), e))
}

/// Fetches every branch of `url` into the bare `cache` and returns the remote's HEAD commit.
fn fetch(url: &str, cache: &Path) -> Result<String> {
    let fail = |e| git(("fetching", "拉取"), url, e);
    let repo = match git2::Repository::open_bare(cache) {
        Ok(repo) => repo,
        Err(_) => git2::Repository::init_bare(cache).map_err(fail)?,
    };
    let mut remote = repo.remote_anonymous(url).map_err(fail)?;
    remote.connect(git2::Direction::Fetch).map_err(fail)?;
    let head = remote.list().map_err(fail)?.iter().find(|h| h.name() == "HEAD").map(|h| h.oid());
    remote.disconnect().map_err(fail)?;
    let head = head.ok_or_else(|| empty_repository(url))?;
    remote.fetch(&["+refs/heads/*:refs/remotes/origin/*"], None, None).map_err(fail)?;
    Ok(head.to_string())
}

/// The manifests of one commit under a directory, read and parsed.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    /// The commit.
    pub commit: String,
    /// Every object, in file order (files sorted by path, documents in order).
    pub manifests: Vec<Manifest>,
    /// Files that could not be read, each with its file and line.
    pub errors: Vec<ManifestError>,
    /// How many manifest files were found.
    pub files: usize,
}

/// Reads every `.yaml`/`.yml`/`.json` file under `dir` (`.` or empty for the root) of `commit`.
pub fn read_commit(repo: &git2::Repository, commit: &str, dir: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let place = repo.path().display().to_string();
    let fail = |e| git(("reading a commit", "读取提交"), &place, e);
    let oid = git2::Oid::from_str(commit).map_err(fail)?;
    let tree = repo.find_commit(oid).map_err(fail)?.tree().map_err(fail)?;
    let dir = dir.trim_matches('/');
    let (tree, prefix) = if dir.is_empty() || dir == "." {
        (tree, String::new())
    } else {
        let entry = tree.get_path(Path::new(dir)).map_err(|_| no_such_dir(dir, commit))?;
        let sub = entry.to_object(repo).and_then(|o| o.peel_to_tree()).map_err(|_| no_such_dir(dir, commit))?;
        (sub, format!("{dir}/"))
    };
    let mut files = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let name = entry.name().unwrap_or_default();
        if entry.kind() == Some(git2::ObjectType::Blob)
            && is_manifest(name)
            && let Ok(blob) = repo.find_blob(entry.id())
        {
            files.push((format!("{prefix}{parent}{name}"), blob.content().to_vec()));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(fail)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Parses the files of a commit: a broken file is an error of its own and the others still count.
pub fn parse_files(commit: &str, files: Vec<(String, Vec<u8>)>) -> Desired {
    let mut desired = Desired { commit: commit.to_string(), files: files.len(), ..Desired::default() };
    for (path, bytes) in files {
        let Ok(text) = String::from_utf8(bytes) else {
            desired.errors.push(ManifestError {
                source_name: path,
                line: 1,
                field: None,
                message: "the file is not UTF-8 text".into(),
                message_zh: "该文件不是 UTF-8 文本".into(),
            });
            continue;
        };
        match parse(&path, &text) {
            Ok(manifests) => desired.manifests.extend(manifests),
            Err(error) => desired.errors.push(error),
        }
    }
    desired
}

/// The error for a directory with no manifest files: the sync applies and prunes nothing.
pub fn no_manifests(repo: &str, dir: &str, commit: &str) -> ErrorView {
    let short: String = commit.chars().take(7).collect();
    ErrorView::new(
        "no-manifests",
        Text::new(
            format!("Commit {short} of {repo} has no manifests (.yaml, .yml or .json files) under \"{dir}\": nothing was applied or pruned."),
            format!("{repo} 的提交 {short} 在“{dir}”下没有清单文件（.yaml、.yml 或 .json）：没有应用也没有清理任何对象。"),
        ),
    )
    .with_hint(Text::new(
        "Check the directory given to the sync (--path), or commit a manifest there.",
        "请检查同步所用的目录（--path），或在该目录中提交一个清单。",
    ))
}

fn no_such_dir(dir: &str, commit: &str) -> Error {
    let short: String = commit.chars().take(7).collect();
    Error::explained(
        "no-manifests",
        Text::new(
            format!("Commit {short} has no directory \"{dir}\": there are no manifests to sync."),
            format!("提交 {short} 中没有目录“{dir}”：没有可同步的清单。"),
        ),
        Some(Text::new("Check the directory given to the sync (--path).", "请检查同步所用的目录（--path）。")),
    )
}

fn not_a_repository(spec: &str) -> Error {
    Error::explained(
        "not-a-repository",
        Text::new(
            format!(
                "\"{spec}\" is neither one of the lab's repositories, a git repository on this machine, nor a URL."
            ),
            format!("“{spec}”既不是实验室的仓库，也不是本机上的 git 仓库或 URL。"),
        ),
        Some(Text::new(
            "Give the lab's repository name (config), a path to a folder made with git init or git clone, or a URL such as http://127.0.0.1:PORT/config.",
            "请给出实验室仓库名（config）、一个用 git init 或 git clone 创建的文件夹路径，或一个 URL，例如 http://127.0.0.1:PORT/config。",
        )),
    )
}

fn empty_repository(place: &str) -> Error {
    Error::explained(
        "empty-repository",
        Text::new(format!("The repository {place} has no commits yet."), format!("仓库 {place} 还没有任何提交。")),
        Some(Text::new("Commit the manifests first, then sync.", "请先提交清单，再同步。")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_lab_protocol::FileChange;

    #[test]
    fn manifests_come_from_the_commit_not_the_work_tree_and_a_broken_file_stands_alone() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path().join("repos"));
        let location = Location::parse("config", &repos, dir.path()).unwrap();
        std::fs::write(dir.path().join("repos/config/uncommitted.yaml"), "kind: [").unwrap();
        let head = location.head().unwrap();
        let files = read_commit(&location.open().unwrap(), &head, ".").unwrap();
        let names: Vec<_> = files.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(names, ["deployment.yaml", "namespace.yaml", "service.yaml"]);
        let mut files = files;
        files.push(("z/broken.yaml".into(), b"apiVersion: v1\nkind: [\n".to_vec()));
        let desired = parse_files(&head, files);
        assert_eq!(desired.manifests.len(), 3);
        assert_eq!(desired.errors.len(), 1);
        assert_eq!(desired.errors[0].source_name, "z/broken.yaml");
        assert!((2..=3).contains(&desired.errors[0].line), "line {}", desired.errors[0].line);
    }

    #[test]
    fn a_sub_directory_is_read_with_its_paths_and_a_missing_one_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path().join("repos"));
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        repos
            .commit("config", &[FileChange { path: "apps/one/cm.yaml".into(), content: Some(cm.into()) }], "Add")
            .unwrap();
        let location = Location::parse("config", &repos, dir.path()).unwrap();
        let repo = location.open().unwrap();
        let head = location.head().unwrap();
        let files = read_commit(&repo, &head, "apps/").unwrap();
        assert_eq!(files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["apps/one/cm.yaml"]);
        assert_eq!(read_commit(&repo, &head, "nowhere").unwrap_err().view().code, "no-manifests");
    }

    #[test]
    fn a_spec_that_is_no_repository_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repos = Repos::new(dir.path().join("repos"));
        let error = Location::parse(dir.path().to_str().unwrap(), &repos, dir.path()).unwrap_err().view();
        assert_eq!(error.code, "not-a-repository");
        assert!(matches!(
            Location::parse("http://127.0.0.1:1/config", &repos, dir.path()),
            Ok(Location::Remote { .. })
        ));
    }
}

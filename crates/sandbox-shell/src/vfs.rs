//! The virtual filesystem of a simulated container: its own tree, with the pod's volumes mounted
//! over paths inside it. A volume is shared by every container that mounts it, so what an init
//! container writes to an emptyDir is what nginx serves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Why a file operation failed, worded like the shell errors learners know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    /// `No such file or directory`.
    #[error("{0}: No such file or directory")]
    NotFound(String),
    /// `Is a directory`.
    #[error("{0}: Is a directory")]
    IsDirectory(String),
    /// `Not a directory`.
    #[error("{0}: Not a directory")]
    NotDirectory(String),
    /// `Read-only file system`.
    #[error("{0}: Read-only file system")]
    ReadOnly(String),
    /// `Directory not empty`.
    #[error("{0}: Directory not empty")]
    NotEmpty(String),
}

/// A node of a tree: a file's bytes or a directory's entries.
#[derive(Debug, Clone)]
pub enum Node {
    /// A regular file.
    File(Vec<u8>),
    /// A directory.
    Dir(BTreeMap<String, Node>),
}

/// A tree that can be mounted (an emptyDir, a configMap or secret volume, or a root filesystem).
#[derive(Debug, Clone)]
pub struct Volume(Arc<Mutex<Node>>);

impl Volume {
    /// An empty directory.
    pub fn empty() -> Self {
        Self(Arc::new(Mutex::new(Node::Dir(BTreeMap::new()))))
    }

    /// A directory holding these files (`path` relative to the volume, `/` separated).
    pub fn with_files<'a>(files: impl IntoIterator<Item = (&'a str, Vec<u8>)>) -> Self {
        let volume = Self::empty();
        for (path, bytes) in files {
            let parts = split(path);
            // Paths come from the caller's own data; a clash with a file just skips that entry.
            let _ = volume.edit(&parts, "", |tree, parts, shown| write_at(tree, parts, shown, bytes, false));
        }
        volume
    }

    /// Replaces this volume's whole tree with `other`'s (a refreshed configMap volume), so every
    /// container that mounts it sees the new files.
    pub fn replace_with(&self, other: &Volume) {
        let tree = other.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = tree;
    }

    fn edit<T>(
        &self,
        parts: &[&str],
        shown: &str,
        f: impl FnOnce(&mut Node, &[&str], &str) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        let mut root = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut root, parts, shown)
    }
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|p| !p.is_empty() && *p != ".").collect()
}

fn find<'a>(tree: &'a Node, parts: &[&str], shown: &str) -> Result<&'a Node, FsError> {
    parts.iter().try_fold(tree, |node, part| match node {
        Node::Dir(entries) => entries.get(*part).ok_or_else(|| FsError::NotFound(shown.into())),
        Node::File(_) => Err(FsError::NotDirectory(shown.into())),
    })
}

fn parent_dir<'a>(
    tree: &'a mut Node,
    parts: &[&str],
    shown: &str,
    create: bool,
) -> Result<&'a mut BTreeMap<String, Node>, FsError> {
    let mut node = tree;
    for part in parts {
        let Node::Dir(entries) = node else { return Err(FsError::NotDirectory(shown.into())) };
        if create {
            node = entries.entry(part.to_string()).or_insert_with(|| Node::Dir(BTreeMap::new()));
        } else {
            node = entries.get_mut(*part).ok_or_else(|| FsError::NotFound(shown.into()))?;
        }
    }
    match node {
        Node::Dir(entries) => Ok(entries),
        Node::File(_) => Err(FsError::NotDirectory(shown.into())),
    }
}

fn write_at(tree: &mut Node, parts: &[&str], shown: &str, bytes: Vec<u8>, append: bool) -> Result<(), FsError> {
    let Some((name, dirs)) = parts.split_last() else { return Err(FsError::IsDirectory(shown.into())) };
    let dir = parent_dir(tree, dirs, shown, true)?;
    match dir.get_mut(*name) {
        Some(Node::Dir(_)) => Err(FsError::IsDirectory(shown.into())),
        Some(Node::File(existing)) if append => {
            existing.extend_from_slice(&bytes);
            Ok(())
        }
        _ => {
            dir.insert(name.to_string(), Node::File(bytes));
            Ok(())
        }
    }
}

/// One container's view: its root tree plus mounted volumes (the longest matching mount wins).
#[derive(Debug, Clone)]
pub struct Filesystem {
    root: Volume,
    mounts: Vec<Mount>,
}

#[derive(Debug, Clone)]
struct Mount {
    path: Vec<String>,
    volume: Volume,
    read_only: bool,
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes (0 for directories).
    pub size: usize,
}

impl Filesystem {
    /// A filesystem whose root is `root`.
    pub fn new(root: Volume) -> Self {
        Self { root, mounts: Vec::new() }
    }

    /// Mounts `volume` at the absolute `path`.
    pub fn mount(&mut self, path: &str, volume: Volume, read_only: bool) {
        let path: Vec<String> = split(path).into_iter().map(String::from).collect();
        // Make the mount point visible in listings of its parent.
        let parts: Vec<&str> = path.iter().map(String::as_str).collect();
        let _ = self.root.edit(&parts, "", |tree, parts, shown| parent_dir(tree, parts, shown, true).map(|_| ()));
        self.mounts.push(Mount { path, volume, read_only });
        self.mounts.sort_by_key(|m| std::cmp::Reverse(m.path.len()));
    }

    /// The mounted volume and remaining path parts for an absolute path.
    fn resolve<'p>(&self, parts: &'p [&'p str]) -> (&Volume, &'p [&'p str], bool) {
        for mount in &self.mounts {
            if parts.len() >= mount.path.len() && mount.path.iter().zip(parts).all(|(a, b)| a == b) {
                return (&mount.volume, &parts[mount.path.len()..], mount.read_only);
            }
        }
        (&self.root, parts, false)
    }

    /// Reads a file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let parts = split(path);
        let (volume, rest, _) = self.resolve(&parts);
        volume.edit(rest, path, |tree, rest, shown| match find(tree, rest, shown)? {
            Node::File(bytes) => Ok(bytes.clone()),
            Node::Dir(_) => Err(FsError::IsDirectory(shown.into())),
        })
    }

    /// Writes (or appends to) a file, creating missing parent directories.
    pub fn write(&self, path: &str, bytes: Vec<u8>, append: bool) -> Result<(), FsError> {
        let parts = split(path);
        let (volume, rest, read_only) = self.resolve(&parts);
        if read_only {
            return Err(FsError::ReadOnly(path.into()));
        }
        volume.edit(rest, path, |tree, rest, shown| write_at(tree, rest, shown, bytes, append))
    }

    /// Creates a directory and its parents.
    pub fn mkdir(&self, path: &str) -> Result<(), FsError> {
        let parts = split(path);
        let (volume, rest, read_only) = self.resolve(&parts);
        if read_only {
            return Err(FsError::ReadOnly(path.into()));
        }
        volume.edit(rest, path, |tree, rest, shown| parent_dir(tree, rest, shown, true).map(|_| ()))
    }

    /// Removes a file or an empty directory (or any directory with `recursive`).
    pub fn remove(&self, path: &str, recursive: bool) -> Result<(), FsError> {
        let parts = split(path);
        let (volume, rest, read_only) = self.resolve(&parts);
        if read_only {
            return Err(FsError::ReadOnly(path.into()));
        }
        volume.edit(rest, path, |tree, rest, shown| {
            let Some((name, dirs)) = rest.split_last() else { return Err(FsError::ReadOnly(shown.into())) };
            let dir = parent_dir(tree, dirs, shown, false)?;
            match dir.get(*name) {
                None => Err(FsError::NotFound(shown.into())),
                Some(Node::Dir(entries)) if !entries.is_empty() && !recursive => Err(FsError::NotEmpty(shown.into())),
                Some(_) => {
                    dir.remove(*name);
                    Ok(())
                }
            }
        })
    }

    /// Whether the path is a directory (`None` if it does not exist).
    pub fn is_dir(&self, path: &str) -> Option<bool> {
        let parts = split(path);
        let (volume, rest, _) = self.resolve(&parts);
        volume.edit(rest, path, |tree, rest, shown| Ok(matches!(find(tree, rest, shown)?, Node::Dir(_)))).ok()
    }

    /// The mount points (absolute paths) and whether each is read-only, longest first.
    pub fn mount_points(&self) -> Vec<(String, bool)> {
        self.mounts.iter().map(|m| (format!("/{}", m.path.join("/")), m.read_only)).collect()
    }

    /// The entries of a directory, sorted by name (mount points included).
    pub fn list(&self, path: &str) -> Result<Vec<Entry>, FsError> {
        let parts = split(path);
        let (volume, rest, _) = self.resolve(&parts);
        volume.edit(rest, path, |tree, rest, shown| match find(tree, rest, shown)? {
            Node::File(_) => Err(FsError::NotDirectory(shown.into())),
            Node::Dir(entries) => Ok(entries
                .iter()
                .map(|(name, node)| match node {
                    Node::File(bytes) => Entry { name: name.clone(), is_dir: false, size: bytes.len() },
                    Node::Dir(_) => Entry { name: name.clone(), is_dir: true, size: 0 },
                })
                .collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_volume_shows_one_containers_write_to_another() {
        let data = Volume::empty();
        let mut init = Filesystem::new(Volume::empty());
        init.mount("/data", data.clone(), false);
        let mut nginx = Filesystem::new(Volume::empty());
        nginx.mount("/usr/share/nginx/html", data, false);
        init.write("/data/index.html", b"<pre>moo</pre>".to_vec(), false).unwrap();
        assert_eq!(nginx.read("/usr/share/nginx/html/index.html").unwrap(), b"<pre>moo</pre>");
    }

    #[test]
    fn read_only_mounts_refuse_writes() {
        let mut fs = Filesystem::new(Volume::empty());
        fs.mount("/etc/config", Volume::with_files([("a", b"1".to_vec())]), true);
        assert_eq!(fs.read("/etc/config/a").unwrap(), b"1");
        assert_eq!(fs.write("/etc/config/a", vec![], false), Err(FsError::ReadOnly("/etc/config/a".into())));
    }

    #[test]
    fn listings_include_mount_points_and_errors_name_the_path() {
        let mut fs = Filesystem::new(Volume::with_files([("etc/hostname", b"web\n".to_vec())]));
        fs.mount("/data", Volume::empty(), false);
        let names: Vec<String> = fs.list("/").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["data", "etc"]);
        assert_eq!(fs.read("/nope"), Err(FsError::NotFound("/nope".into())));
        assert_eq!(fs.read("/etc"), Err(FsError::IsDirectory("/etc".into())));
        fs.write("/data/log", b"a".to_vec(), true).unwrap();
        fs.write("/data/log", b"b".to_vec(), true).unwrap();
        assert_eq!(fs.read("/data/log").unwrap(), b"ab");
    }
}

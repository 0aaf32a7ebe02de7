//! What the sync loop keeps on disk, per repository and directory: the history of its runs (with
//! the commit of each) and the inventory of objects it created (the only ones it may prune).
//!
//! Files are JSON with a format version, written to a temporary file and renamed into place, so a
//! killed process leaves the old file or the new one, never half of one.

use crate::error::{Error, Result};
use gitops_lab_protocol::{ObjectRef, SyncRunView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How many runs the history keeps.
const HISTORY_LIMIT: usize = 100;
/// The files' format version.
const VERSION: u32 = 1;

/// The objects the sync loop created, by API group, kind, namespace and name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The objects.
    pub objects: BTreeSet<ObjectRef>,
}

impl Inventory {
    /// Whether `object` is listed, whatever its API version (a move from v1beta1 to v1 is the same object).
    pub fn contains(&self, object: &ObjectRef) -> bool {
        self.objects.iter().any(|o| same_object(o, object))
    }

    /// Lists `object` (replacing an entry for the same object under another version).
    pub fn insert(&mut self, object: ObjectRef) {
        self.remove(&object);
        self.objects.insert(object);
    }

    /// Forgets `object`.
    pub fn remove(&mut self, object: &ObjectRef) {
        self.objects.retain(|o| !same_object(o, object));
    }
}

/// The same object under any API version.
pub fn same_object(a: &ObjectRef, b: &ObjectRef) -> bool {
    a.group() == b.group() && a.kind == b.kind && a.namespace == b.namespace && a.name == b.name
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    version: u32,
    data: T,
}

/// One sync configuration's files.
#[derive(Clone, Debug)]
pub struct SyncStore {
    dir: PathBuf,
}

impl SyncStore {
    /// The store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> SyncStore {
        SyncStore { dir: dir.into() }
    }

    /// Past runs, newest first.
    pub fn history(&self) -> Result<Vec<SyncRunView>> {
        Ok(read(&self.dir.join("history.json"))?.unwrap_or_default())
    }

    /// Adds a run at the front of the history.
    pub fn record(&self, run: &SyncRunView) -> Result<()> {
        let mut history = self.history()?;
        history.insert(0, run.clone());
        history.truncate(HISTORY_LIMIT);
        write(&self.dir.join("history.json"), &history)
    }

    /// The objects the loop created.
    pub fn inventory(&self) -> Result<Inventory> {
        Ok(read(&self.dir.join("inventory.json"))?.unwrap_or_default())
    }

    /// Replaces the inventory.
    pub fn save_inventory(&self, inventory: &Inventory) -> Result<()> {
        write(&self.dir.join("inventory.json"), inventory)
    }
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io(path, error)),
    };
    let versioned: Versioned<T> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    if versioned.version != VERSION {
        let message = format!("format version {} is not {VERSION}", versioned.version);
        return Err(Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, message)));
    }
    Ok(Some(versioned.data))
}

fn write<T: Serialize>(path: &Path, data: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let bytes = serde_json::to_vec_pretty(&Versioned { version: VERSION, data }).unwrap_or_default();
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, bytes).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_lab_protocol::Text;

    fn object(version: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: version.into(),
            kind: "Deployment".into(),
            namespace: Some("a".into()),
            name: name.into(),
        }
    }

    fn run(commit: &str) -> SyncRunView {
        SyncRunView {
            commit: commit.into(),
            started: String::new(),
            duration_ms: 1,
            resources: vec![],
            errors: vec![],
            message: Text::same(""),
        }
    }

    #[test]
    fn the_history_is_kept_newest_first_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        SyncStore::new(dir.path()).record(&run("one")).unwrap();
        SyncStore::new(dir.path()).record(&run("two")).unwrap();
        let commits: Vec<_> = SyncStore::new(dir.path()).history().unwrap().into_iter().map(|r| r.commit).collect();
        assert_eq!(commits, ["two", "one"]);
    }

    #[test]
    fn the_inventory_matches_an_object_under_another_api_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = SyncStore::new(dir.path());
        let mut inventory = store.inventory().unwrap();
        inventory.insert(object("apps/v1beta1", "web"));
        inventory.insert(object("apps/v1", "web"));
        store.save_inventory(&inventory).unwrap();
        let back = store.inventory().unwrap();
        assert_eq!(back.objects.len(), 1);
        assert!(back.contains(&object("apps/v1", "web")));
        assert!(!back.contains(&object("apps/v1", "db")));
    }
}

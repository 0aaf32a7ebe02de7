//! A learner's progress on one cluster, kept in a versioned JSON file written atomically (a temporary
//! file, fsync, rename, fsync of the folder), so a killed process never leaves half a file.

use crate::error::{Error, Result};
use gitops_lab_protocol::ClusterChoice;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The format this build writes.
const VERSION: u32 = 1;

/// Progress on one exercise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseProgress {
    /// Ids of the steps done.
    pub done_steps: BTreeSet<String>,
    /// The step to resume at.
    pub current_step: usize,
    /// Prediction answers by step id.
    pub answers: BTreeMap<String, usize>,
    /// When every step was done (RFC 3339).
    pub completed: Option<String>,
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The format's version.
    pub version: u32,
    /// Progress by exercise id.
    pub exercises: BTreeMap<String, ExerciseProgress>,
    /// Where the learner last was: exercise id and step index.
    pub last: Option<(String, usize)>,
}

/// The progress file of one learner on one cluster.
#[derive(Debug)]
pub struct ProgressStore {
    path: PathBuf,
    state: Mutex<Progress>,
}

/// The file name for a cluster.
pub fn file_name(cluster: &ClusterChoice) -> String {
    let key = match cluster {
        ClusterChoice::Sandbox => "sandbox".to_string(),
        ClusterChoice::Minikube => "minikube".to_string(),
        ClusterChoice::Context { name } => {
            let safe: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            format!("context-{safe}")
        }
    };
    format!("{key}.json")
}

impl ProgressStore {
    /// Opens (or starts) the progress of `cluster` under `dir`. A file that cannot be read is kept
    /// aside (renamed `*.unreadable`) rather than overwritten, and progress starts afresh.
    pub fn open(dir: &Path, cluster: &ClusterChoice) -> Result<(ProgressStore, Option<String>)> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(file_name(cluster));
        let mut note = None;
        let state = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Progress>(&bytes) {
                Ok(progress) if progress.version <= VERSION => progress,
                Ok(progress) => {
                    return Err(Error::explained(
                        "progress-version",
                        gitops_lab_protocol::Text::new(
                            format!("{} was written by a newer lab (format {}).", path.display(), progress.version),
                            format!("{} 由更新版本的实验室写入（格式 {}）。", path.display(), progress.version),
                        ),
                        Some(gitops_lab_protocol::Text::new(
                            "Update the lab, or pass another --data-dir.",
                            "请更新实验室，或指定其他 --data-dir。",
                        )),
                    ));
                }
                Err(error) => {
                    let aside = path.with_extension("json.unreadable");
                    let _ = std::fs::rename(&path, &aside);
                    note = Some(format!(
                        "{} could not be read ({error}); it was kept as {}",
                        path.display(),
                        aside.display()
                    ));
                    Progress::default()
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Progress::default(),
            Err(error) => return Err(Error::io(&path, error)),
        };
        Ok((ProgressStore { path, state: Mutex::new(state) }, note))
    }

    /// The current progress.
    pub fn get(&self) -> Progress {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the progress and writes it before returning; on a failed write nothing changes.
    pub fn update(&self, edit: impl FnOnce(&mut Progress)) -> Result<Progress> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = state.clone();
        edit(&mut next);
        next.version = VERSION;
        if next != *state {
            write_atomically(&self.path, &serde_json::to_vec_pretty(&next).unwrap_or_default())?;
            *state = next.clone();
        }
        Ok(next)
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp =
        dir.join(format!(".{}.{}.tmp", path.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|error| {
        let _ = std::fs::remove_file(&temp);
        Error::io(path, error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_survives_reopening_and_is_kept_per_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = ProgressStore::open(dir.path(), &ClusterChoice::Sandbox).unwrap();
        store
            .update(|p| {
                p.exercises.entry("2.1-nginx-pod".into()).or_default().done_steps.insert("apply".into());
                p.last = Some(("2.1-nginx-pod".into(), 1));
            })
            .unwrap();
        let (again, note) = ProgressStore::open(dir.path(), &ClusterChoice::Sandbox).unwrap();
        assert!(note.is_none());
        assert!(again.get().exercises["2.1-nginx-pod"].done_steps.contains("apply"));
        let (other, _) = ProgressStore::open(dir.path(), &ClusterChoice::Context { name: "kind/a".into() }).unwrap();
        assert!(other.get().exercises.is_empty());
        assert!(dir.path().join("context-kind_a.json").exists() || other.get().last.is_none());
    }

    #[test]
    fn an_unreadable_file_is_kept_aside_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sandbox.json"), b"{ half a fi").unwrap();
        let (store, note) = ProgressStore::open(dir.path(), &ClusterChoice::Sandbox).unwrap();
        assert!(note.unwrap().contains("could not be read"));
        assert!(store.get().exercises.is_empty());
        assert_eq!(std::fs::read(dir.path().join("sandbox.json.unreadable")).unwrap(), b"{ half a fi");
    }
}

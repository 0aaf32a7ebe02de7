//! The learner's copy of an exercise's files: actions read manifests from it, `edit` actions change
//! it (as the learner would in an editor), and reset puts the originals back.

use super::load::{Exercise, FILE_NAME};
use crate::error::{Error, Result};
use gitops_lab_protocol::Text;
use std::path::{Path, PathBuf};

/// One exercise's working folder.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The folder.
    pub root: PathBuf,
    source: PathBuf,
}

impl Workspace {
    /// The workspace of `exercise` under `base`, created from the exercise's files on first use.
    pub fn open(base: &Path, exercise: &Exercise) -> Result<Workspace> {
        let workspace = Workspace { root: base.join(&exercise.file.id), source: exercise.dir.clone() };
        if !workspace.root.exists() {
            workspace.copy_originals()?;
        }
        Ok(workspace)
    }

    fn copy_originals(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        copy_tree(&self.source, &self.root)
    }

    /// Puts the original files back.
    pub fn reset(&self) -> Result<()> {
        if self.root.exists() {
            std::fs::remove_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        }
        self.copy_originals()
    }

    /// A file's current text.
    pub fn read(&self, name: &str) -> Result<String> {
        let path = self.root.join(name);
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
    }

    /// Replaces `from` by `to` once; returns the unified diff of the change. Running it again after
    /// it was done changes nothing (the replacement is already there).
    pub fn edit(&self, name: &str, from: &str, to: &str) -> Result<String> {
        let before = self.read(name)?;
        if !before.contains(from) {
            if before.contains(to) {
                return Ok(String::new());
            }
            return Err(Error::explained(
                "edit",
                Text::new(
                    format!("{name} no longer contains \"{from}\", so the lab cannot make this change for you."),
                    format!("{name} 中已没有“{from}”，实验室无法替你完成这处修改。"),
                ),
                Some(Text::new(
                    "Reset the exercise to get the original files back, or edit the file yourself.",
                    "请重置练习以恢复原始文件，或自己编辑该文件。",
                )),
            ));
        }
        let after = before.replacen(from, to, 1);
        let path = self.root.join(name);
        super::progress::write_atomically(&path, after.as_bytes())?;
        Ok(similar::TextDiff::from_lines(&before, &after)
            .unified_diff()
            .header(&format!("a/{name}"), &format!("b/{name}"))
            .to_string())
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| Error::io(&target, e))?;
            copy_tree(&path, &target)?;
        } else if entry.file_name() != FILE_NAME {
            std::fs::copy(&path, &target).map_err(|e| Error::io(&target, e))?;
        }
    }
    Ok(())
}

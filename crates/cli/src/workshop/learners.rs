//! The class list: each learner's id, display name and token, kept in one small file written
//! atomically, so a restarted workshop server lets every learner resume with the same link.

use anyhow::Context;
use gitops_lab::protocol::{ExerciseSummary, Text};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The longest display name, in characters (the board's column stays readable).
pub const MAX_NAME_CHARS: usize = 40;

/// One learner as the file keeps them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LearnerRecord {
    /// Stable id: the folder of their data (`learner-7`).
    pub id: String,
    /// The display name they typed.
    pub name: String,
    /// The token of their personal link.
    pub token: String,
    /// When they joined (seconds since the Unix epoch).
    pub joined: u64,
    /// Their progress as last seen (the board shows it while their engine is stopped).
    #[serde(default)]
    pub progress: Vec<ExerciseSummary>,
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Roster {
    /// The format's version.
    pub version: u32,
    /// The instructor's token (the board's link survives a restart too).
    pub instructor_token: String,
    /// The learners, in joining order.
    pub learners: Vec<LearnerRecord>,
    /// SHA-256 (hex) of the link and kubectl tokens of learners the instructor removed, so that
    /// their links are refused with the reason, also after a restart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The highest learner number given so far (`learner-N`), so that a removed learner's id is
    /// never given to someone else.
    #[serde(default)]
    pub last_number: usize,
}

/// Where the roster lives, and how it is read and written.
pub struct RosterFile {
    path: PathBuf,
}

impl RosterFile {
    /// The roster file of a workshop data directory.
    pub fn in_dir(dir: &Path) -> RosterFile {
        RosterFile { path: dir.join("learners.json") }
    }

    /// The roster, or `None` when this directory has no workshop yet.
    pub fn load(&self) -> anyhow::Result<Option<Roster>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error).with_context(|| format!("cannot read {}", self.path.display())),
        };
        let roster = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a workshop's learner list (move it away to start a new workshop) / {} 不是工作坊的学员列表（移走它即可开始新的工作坊）",
                self.path.display(),
                self.path.display()
            )
        })?;
        Ok(Some(roster))
    }

    /// Writes the roster: a temporary file beside it, synced, then renamed over it, so a crash
    /// leaves the old list or the new one, never half of one.
    pub fn save(&self, roster: &Roster) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(roster)?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let temporary = dir.join(".learners.json.tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)?;
            // The rename itself is durable once the directory is synced.
            std::fs::File::open(dir)?.sync_all()
        };
        write().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// A display name as typed, trimmed; or what is wrong with it, in both languages.
pub fn validate_name(raw: &str) -> Result<String, Text> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Text::new(
            "Please type your name (the instructor sees it on the board).",
            "请输入你的名字（讲师会在看板上看到它）。",
        ));
    }
    let length = name.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(Text::new(
            format!("This name has {length} characters; please use at most {MAX_NAME_CHARS}."),
            format!("这个名字有 {length} 个字符，请不要超过 {MAX_NAME_CHARS} 个。"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Text::new(
            "The name contains a control character (such as a tab or a line break); please type letters, digits and spaces only.",
            "名字中含有控制字符（例如制表符或换行），请只输入文字、数字和空格。",
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bad_ones_refused_with_a_reason() {
        assert_eq!(validate_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert_eq!(validate_name("李雷").unwrap(), "李雷");
        assert!(validate_name("   ").unwrap_err().en.contains("type your name"));
        assert!(validate_name(&"x".repeat(41)).unwrap_err().en.contains("41 characters"));
        assert!(validate_name(&"字".repeat(40)).is_ok());
        assert!(validate_name("a\u{7}b").unwrap_err().zh.contains("控制字符"));
        assert!(validate_name("a\tb").is_err());
    }

    #[test]
    fn the_roster_survives_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = RosterFile::in_dir(dir.path());
        assert_eq!(file.load().unwrap(), None);
        let roster = Roster {
            version: 1,
            instructor_token: "i".into(),
            learners: vec![LearnerRecord {
                id: "learner-1".into(),
                name: "Ada".into(),
                token: "t".into(),
                joined: 1,
                progress: Vec::new(),
            }],
            removed: vec!["ab".repeat(32)],
            last_number: 3,
        };
        file.save(&roster).unwrap();
        assert_eq!(file.load().unwrap(), Some(roster));
        std::fs::write(dir.path().join("learners.json"), "{").unwrap();
        assert!(file.load().unwrap_err().to_string().contains("not a workshop's learner list"));
    }
}

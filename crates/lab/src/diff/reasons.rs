//! The reasons of the three-way view and the fields diffs hide, read from `data/reasons.yaml`.

use gitops_lab_protocol::{FieldOutcome, Text};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
struct Bilingual {
    en: String,
    #[serde(rename = "zh-CN")]
    zh: String,
}

impl Bilingual {
    fn text(&self) -> Text {
        Text::new(self.en.clone(), self.zh.clone())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathReasons {
    path: String,
    #[serde(default)]
    add: Option<Bilingual>,
    #[serde(default)]
    overwrite: Option<Bilingual>,
    #[serde(default)]
    delete: Option<Bilingual>,
    #[serde(default)]
    keep: Option<Bilingual>,
}

/// The data file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reasons {
    outcomes: BTreeMap<String, Bilingual>,
    paths: Vec<PathReasons>,
    interesting: Vec<String>,
    /// JSON pointers of the fields diffs hide.
    pub hidden: Vec<String>,
}

/// The reasons, parsed once. The file is part of the crate and a test reads it, so a failure is a
/// build defect, not bad input.
pub fn reasons() -> &'static Reasons {
    static REASONS: OnceLock<Reasons> = OnceLock::new();
    REASONS.get_or_init(|| serde_norway::from_str(include_str!("data/reasons.yaml")).expect("reasons.yaml is valid"))
}

fn outcome_key(outcome: FieldOutcome) -> &'static str {
    match outcome {
        FieldOutcome::Add => "add",
        FieldOutcome::Overwrite => "overwrite",
        FieldOutcome::Delete => "delete",
        FieldOutcome::Keep => "keep",
        FieldOutcome::Unchanged => "unchanged",
    }
}

impl Reasons {
    /// Why apply does `outcome` to the field at `path`.
    pub fn reason(&self, path: &str, outcome: FieldOutcome) -> Text {
        let specific = self.paths.iter().filter(|p| glob(&p.path, path)).find_map(|p| match outcome {
            FieldOutcome::Add => p.add.as_ref(),
            FieldOutcome::Overwrite => p.overwrite.as_ref(),
            FieldOutcome::Delete => p.delete.as_ref(),
            FieldOutcome::Keep => p.keep.as_ref(),
            FieldOutcome::Unchanged => None,
        });
        specific.or_else(|| self.outcomes.get(outcome_key(outcome))).map(Bilingual::text).unwrap_or_default()
    }

    /// Whether a field only the live object has is worth listing.
    pub fn is_interesting(&self, path: &str) -> bool {
        self.interesting.iter().any(|pattern| glob(pattern, path))
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let Some(rest) = text.strip_prefix(parts[0]) else { return false };
    let mut rest = rest;
    for (i, part) in parts[1..].iter().enumerate() {
        let last = i == parts.len() - 2;
        if last {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_a_reason_in_both_languages() {
        let r = reasons();
        for outcome in [
            FieldOutcome::Add,
            FieldOutcome::Overwrite,
            FieldOutcome::Delete,
            FieldOutcome::Keep,
            FieldOutcome::Unchanged,
        ] {
            let text = r.reason("spec.some.field", outcome);
            assert!(!text.en.is_empty() && !text.zh.is_empty(), "{outcome:?}");
        }
    }

    #[test]
    fn a_specific_reason_wins_over_the_general_one() {
        let r = reasons();
        assert!(r.reason("spec.replicas", FieldOutcome::Keep).en.contains("kubectl scale"));
        assert!(
            r.reason("spec.template.spec.containers[name=nginx].image", FieldOutcome::Overwrite)
                .en
                .contains("rolls out")
        );
        assert!(r.reason("spec.paused", FieldOutcome::Keep).en.starts_with("Set outside the file"));
    }

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(glob("metadata.annotations.*", "metadata.annotations.kubectl.kubernetes.io/restartedAt"));
        assert!(glob("spec.template.spec.containers[*].image", "spec.template.spec.containers[name=web].image"));
        assert!(!glob("spec.template.spec.containers[*].image", "spec.template.spec.containers[name=web].ports"));
        assert!(glob("spec.replicas", "spec.replicas") && !glob("spec.replicas", "spec.replicas2"));
    }
}

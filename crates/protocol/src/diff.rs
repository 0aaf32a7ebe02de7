//! The diff view: a file against the live object, and the three-way view with a reason per field.

use crate::error::ErrorView;
use crate::graph::ObjectRef;
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// What apply would do to one object as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectDiffState {
    /// It does not exist: apply creates it.
    New,
    /// Apply would change it (`configured`).
    Changed,
    /// Apply would send nothing (`unchanged`).
    Unchanged,
    /// It could not be compared (see the error).
    Error,
}

/// What apply does to one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldOutcome {
    /// New in the file: apply adds it.
    Add,
    /// Changed in the file: apply overwrites the live value.
    Overwrite,
    /// Removed from the file but in last-applied: apply deletes it.
    Delete,
    /// Only in the live object: apply leaves it alone.
    Keep,
    /// The same in the file and the live object.
    Unchanged,
}

/// One field in the three-way view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldExplanation {
    /// The field's path, list items named by their merge key: `spec.template.spec.containers[name=nginx].image`.
    pub path: String,
    /// Its value in the last-applied configuration (compact JSON), if there.
    pub last_applied: Option<String>,
    /// Its value in the live object, if there.
    pub live: Option<String>,
    /// Its value in the file, if there.
    pub file: Option<String>,
    /// What apply does.
    pub outcome: FieldOutcome,
    /// Why, in plain words.
    pub reason: Text,
}

/// The diff of one object of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectDiff {
    /// The object.
    pub object: ObjectRef,
    /// What apply would do to it.
    pub state: ObjectDiffState,
    /// The live object as YAML, normalised as `kubectl diff` shows it (no status, managed fields or
    /// server-set metadata); absent for a new object.
    pub live_yaml: Option<String>,
    /// The object as apply would leave it, normalised the same way.
    pub merged_yaml: String,
    /// The unified diff from live to merged, as `kubectl diff` prints it.
    pub unified: String,
    /// The last-applied configuration as YAML, if the object has one.
    pub last_applied_yaml: Option<String>,
    /// The object as the file gives it, as YAML.
    pub file_yaml: String,
    /// The patch apply would send (JSON), for an existing object.
    pub patch: Option<String>,
    /// Every field that differs between the three, explained.
    pub fields: Vec<FieldExplanation>,
    /// A note about the object as a whole (no last-applied annotation, …).
    pub note: Option<Text>,
    /// Why it could not be compared.
    pub error: Option<ErrorView>,
}

/// The diff of a whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffView {
    /// The file's name.
    pub source: String,
    /// One entry per object in the file, in file order.
    pub objects: Vec<ObjectDiff>,
}

//! Diffs that explain themselves: a file against the live object, and the three-way view —
//! last-applied, live, file — with a plain-language reason for every field.
//!
//! In the gitops-engine spirit the comparison is pure: [`fields`] flattens objects into readable
//! field paths, [`explain`] decides each field's outcome from the three objects and the patch,
//! with reasons and hidden fields as data (`data/reasons.yaml`, [`reasons`]). Only [`gather`]
//! talks to the cluster (the live object and a server-side dry run of apply).

pub mod explain;
pub mod fields;
pub mod gather;
pub mod reasons;

pub use gather::diff_manifests;

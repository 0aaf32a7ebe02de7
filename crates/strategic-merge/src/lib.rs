//! Kubernetes strategic merge patch for `serde_json::Value` objects.
//!
//! [`apply_patch`] applies an `application/strategic-merge-patch+json` body the
//! way the API server does; [`create_three_way_patch`] computes the patch that
//! `kubectl apply` (client-side) sends from the last-applied configuration, the
//! new file and the live object, and [`create_two_way_patch`] the plain diff.
//! Which lists merge, and by which key, is data: [`MergeSchema::for_kind`] reads
//! it from `data/merge_keys.yaml` (upstream's `patchStrategy`/`patchMergeKey`
//! tags for the built-in kinds the lab serves); [`FieldMeta`] is one field's
//! entry. Failures are a [`PatchError`] naming the field path.
//!
//! It is not server-side apply (no managed fields), not JSON Patch or JSON merge
//! patch (an unknown kind gets merge-patch-like behaviour only), and it knows no
//! kinds beyond its data file; it does no I/O.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod apply;
mod create;
mod diff;
mod directives;
mod error;
mod merge;
mod order;
mod schema;

pub use apply::apply_patch;
pub use create::{create_three_way_patch, create_two_way_patch};
pub use error::PatchError;
pub use schema::{FieldMeta, MergeSchema, PatchStrategy};

//! Label and field selectors, parsed from query strings and matched against objects.
//!
//! Label selectors follow upstream's syntax and error texts (`label`), and can also be built from a
//! `LabelSelector` object for controllers. Field selectors accept, per kind, the fields listed in
//! `selectors/data/fields.yaml` (`field`).

mod field;
mod label;
mod names;
mod parse;

pub use field::FieldSelector;
pub use label::{LabelSelector, Operator, Requirement};
pub use names::{label_key_errors, label_value_errors};

//! Admission: what the API server does to an object between decoding and storage — defaults, then validation.

mod defaults;
mod names;
mod validation;

pub use defaults::apply_defaults;
pub use names::{validate_dns1123_label, validate_dns1123_subdomain, validate_object_name};
pub use validation::validate;

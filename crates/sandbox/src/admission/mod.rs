//! Admission: what the API server does to an object between decoding and storage — defaults, then validation.
//!
//! Defaults are data (`data/defaults.yaml`) played by a small engine in `defaults`, with the few
//! computed ones in `computed`. Validation is code per kind, sharing the metadata, name and pod
//! checks; every message keeps upstream's field path and wording.

mod computed;
mod cron;
mod defaults;
mod meta;
mod names;
mod objects;
mod pod;
mod service_account;
mod validation;
mod workloads;

pub use defaults::apply_defaults;
pub use names::{
    validate_config_key, validate_dns1035_label, validate_dns1123_label, validate_dns1123_subdomain,
    validate_generate_name, validate_label_value, validate_object_name, validate_path_segment_name,
    validate_port_name, validate_qualified_name,
};
pub use service_account::{MOUNT_PATH as SERVICE_ACCOUNT_MOUNT_PATH, mount_api_access};
pub use validation::validate;

//! Admission: what the API server does to an object between decoding and storage — defaults, then validation.
//!
//! Defaults are data (`data/defaults.yaml`) played by a small engine in `defaults`, with the few
//! computed ones in `computed`. Validation is code per kind, sharing the metadata, name and pod
//! checks; every message keeps upstream's field path and wording.

mod claims;
mod computed;
mod cron;
mod defaults;
mod ingress;
mod limits;
mod meta;
mod objects;
mod pod;
pub mod priority;
mod service_account;
mod validation;
mod workloads;

pub use defaults::apply_defaults;
pub use limits::{
    MAX_OBJECTS_FILE, check_object_count, counted as counts_towards_limit, counts_object, read_max_objects,
};
pub use service_account::{MOUNT_PATH as SERVICE_ACCOUNT_MOUNT_PATH, mount_api_access};
pub use validation::validate;

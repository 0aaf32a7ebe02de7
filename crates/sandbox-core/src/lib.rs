//! The sandbox's core: everything the Kubernetes API server decides, without HTTP, controllers or
//! a node.
//!
//! The main type is [`Sandbox`], the store-backed shared state every entry point goes through
//! (create, update, modify, delete, finalize). Beside it: the served types ([`registry`]), the
//! durable [`store`] with its [`watch`] fan-out, what happens to an object on its way in
//! ([`lifecycle`], [`schema`], [`admission`]), reading and answering ([`selectors`], [`table`],
//! [`protobuf`], [`openapi`]), [`events`], the [`auth`] decisions, and the leaf rules every layer
//! shares ([`names`], [`cron`], [`object`], [`time`], [`digest`]).
//!
//! It is not the HTTP layer (`gitops-lab-sandbox`), and it knows no controller and no node: those
//! crates import this one, never the other way round.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admission;
pub mod auth;
pub mod cluster;
pub mod cron;
pub mod custom;
pub mod digest;
pub mod errors;
pub mod events;
pub mod fields;
pub mod lifecycle;
pub mod names;
pub mod object;
pub mod openapi;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod service_ip;
pub mod store;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod watch;

/// This crate's folder, for its tests' data. Read when the test runs (cargo sets `CARGO_MANIFEST_DIR`
/// for it), not when it was compiled: a shared target directory reuses test binaries built in another
/// checkout, whose compile-time path may be gone or hold other files.
#[cfg(test)]
pub(crate) fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub use cluster::Sandbox;

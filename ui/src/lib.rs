//! The GitOps Lab user interface.
//!
//! One Leptos front end for the desktop shell and web mode, talking to the engine through a
//! `Transport`. It is a placeholder that only links the protocol until the UI issue lands.
#![deny(missing_docs)]

pub use gitops_lab_protocol as protocol;

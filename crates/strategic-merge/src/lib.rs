//! Kubernetes strategic merge patch (placeholder until implemented).
#![deny(missing_docs)]

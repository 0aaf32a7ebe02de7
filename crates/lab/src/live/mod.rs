//! The live model: what runs in the cluster, as a graph kept up to date from watches.

mod facts;
mod graph;
mod pod_status;
mod rules;

#[cfg(test)]
mod golden_tests;

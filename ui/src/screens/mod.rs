//! The screens, one per file. Each renders view models from [`crate::state::Lab`] and sends
//! commands; none holds Kubernetes or exercise logic.

pub mod board;
pub mod ci;
pub mod cluster_bar;
pub mod diff;
pub mod events;
pub mod gitops;
pub mod live;
pub mod logs;
pub mod navigator;
pub mod port_forwards;
pub mod settings;
pub mod step_view;
pub mod terminal;
pub mod tree;
pub mod yaml;

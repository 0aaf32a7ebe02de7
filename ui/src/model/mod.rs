//! The UI's view logic as plain Rust, tested natively: no signals, no DOM.

pub mod diff;
pub mod exercise;
pub mod frame_queue;
pub mod graph;
pub mod labels;
pub mod markdown;
pub mod text_buffer;
pub mod tree_order;

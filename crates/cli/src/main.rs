//! The `gitops-lab` command.
fn main() {}

//! Exercises as data: the chapter's steps, checked live against the cluster.
//!
//! [`model`] is the file format and [`load`] reads and validates it (file, line, field); [`checks`]
//! compiles a step's conditions and evaluates them without I/O ([`path`] reads field paths);
//! [`live_checks`] keeps them up to date from watch events, [`snapshot`] reads them once for
//! `exercises check`. [`session`] holds one learner's catalog, progress ([`progress`], written
//! atomically) and open exercise; [`actions`] runs a step's button, [`workspace`] keeps the
//! learner's copies of files, [`reset`] removes what an exercise created.

pub mod actions;
pub mod checks;
pub mod gitops_port;
pub mod live_checks;
pub mod load;
pub mod model;
pub mod path;
pub mod progress;
pub mod reset;
pub mod session;
pub mod snapshot;
pub mod view;
pub mod workspace;

pub use load::{Exercise, ExerciseError, load, load_all};
pub use session::{EXERCISE_LABEL, Exercises};

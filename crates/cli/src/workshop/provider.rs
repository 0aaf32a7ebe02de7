//! Where a learner's cluster comes from: a narrow trait, with the local sandbox children
//! ([`LocalSandboxes`]) and a Pod per learner (`super::kubernetes`) behind it.

use super::learners::LearnerRecord;
use gitops_lab::EngineConfig;
use gitops_lab::protocol::ClusterChoice;
use gitops_lab::protocol::Text;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// A provider's step that may wait on a cluster; it owns what it needs.
pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Gives each learner the settings of their own engine and cluster. The engine starts the
/// learner's cluster when it starts and stops it when it is shut down (an idle learner, the end of
/// the workshop); the learner's data stays where [`SandboxProvider::engine_config`] put it.
pub trait SandboxProvider: Send + Sync {
    /// The engine settings of one learner: their own data folder (progress, repositories, the
    /// sandbox's objects) and their own cluster.
    fn engine_config(&self, learner: &LearnerRecord) -> EngineConfig;

    /// About how much memory one more running learner needs, in bytes (engine and cluster), for
    /// the admission check.
    fn memory_per_learner(&self) -> u64;

    /// Before the learner's engine starts: makes their cluster exist and answer, or says (to the
    /// learner) why not yet; their engine does not start then. Nothing to do for a cluster the
    /// engine starts itself.
    fn prepare(&self, _learner: &LearnerRecord) -> Pending<Result<(), Text>> {
        Box::pin(async { Ok(()) })
    }

    /// After the learner's engine stopped (idle, or the workshop's end): frees what their cluster
    /// holds while keeping their data.
    fn stopped(&self, _learner: &LearnerRecord) -> Pending<()> {
        Box::pin(async {})
    }

    /// Deletes the learner's cluster and its data, for a learner removed from the class; their
    /// engine must be stopped first.
    fn remove(&self, _learner: &LearnerRecord) -> Pending<Result<(), Text>> {
        Box::pin(async { Ok(()) })
    }
}

/// Each learner's sandbox as a `gitops-lab sandbox serve` child of this server, under
/// `DATA_DIR/learners/ID/`.
pub struct LocalSandboxes {
    /// The workshop's data directory.
    pub data_dir: PathBuf,
    /// The exercises the learners see.
    pub exercises_dir: PathBuf,
    /// Each sandbox's object limit (0: none), written where `sandbox serve` reads it.
    pub max_objects: usize,
}

/// An idle sandbox measures about 22 MiB and a learner's engine (watches, check loops) a few more;
/// the margin covers a learner in the middle of an exercise.
const LOCAL_LEARNER_BYTES: u64 = 64 << 20;

impl SandboxProvider for LocalSandboxes {
    fn engine_config(&self, learner: &LearnerRecord) -> EngineConfig {
        let mut config = EngineConfig::new(self.data_dir.join("learners").join(&learner.id), &self.exercises_dir);
        config.cluster = ClusterChoice::Sandbox;
        config.learner = learner.id.clone();
        config
    }

    fn memory_per_learner(&self) -> u64 {
        LOCAL_LEARNER_BYTES
    }

    /// The engine starts the sandbox itself, which reads its object limit from its data folder at
    /// start: written before every start, so a workshop restarted with another limit applies it.
    fn prepare(&self, learner: &LearnerRecord) -> Pending<Result<(), Text>> {
        let written = super::limits::prepare(&self.engine_config(learner), self.max_objects).map_err(|error| {
            Text::new(
                format!("The workshop cannot set your sandbox's object limit: {error:#}. Show this message to your instructor."),
                format!("工作坊无法设置你的沙盒的对象数量上限：{error:#}。请把这条消息给讲师看。"),
            )
        });
        Box::pin(async move { written })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_learner_gets_an_own_folder_and_sandbox() {
        let provider = LocalSandboxes { data_dir: "/w".into(), exercises_dir: "/e".into(), max_objects: 0 };
        let learner = |id: &str| LearnerRecord {
            id: id.into(),
            name: id.into(),
            token: String::new(),
            joined: 0,
            progress: Vec::new(),
        };
        let (a, b) = (provider.engine_config(&learner("learner-1")), provider.engine_config(&learner("learner-2")));
        assert_eq!(a.data_dir, PathBuf::from("/w/learners/learner-1"));
        assert_ne!(a.sandbox_dir(), b.sandbox_dir());
        assert_ne!(a.repos_dir(), b.repos_dir());
        assert_eq!(a.cluster, ClusterChoice::Sandbox);
    }
}

//! The flags every command that reaches a cluster shares: `--cluster` and `--data-dir`.

use crate::sandbox_serve::default_data_dir;
use gitops_lab::EngineConfig;
use gitops_lab::protocol::ClusterChoice;
use std::path::PathBuf;

/// `--cluster sandbox|minikube|context:NAME` and `--data-dir DIR`, flattened into a command's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// The cluster: `sandbox` (built in, the default), `minikube`, or `context:NAME` of $KUBECONFIG
    /// (or ~/.kube/config).
    #[arg(long, default_value = "sandbox", value_parser = parse_cluster)]
    pub cluster: ClusterChoice,
    /// The lab's data directory: the sandbox's objects, progress, repositories (default: the
    /// user's data directory, or $GITOPS_LAB_DATA).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl ClusterArgs {
    /// The engine settings these flags ask for; `None` when no data directory can be found.
    pub fn engine_config(&self) -> Option<EngineConfig> {
        let data_dir = self.data_dir.clone().or_else(default_data_dir)?;
        let mut config = EngineConfig::new(data_dir, exercises_dir());
        config.cluster = self.cluster.clone();
        Some(config)
    }
}

/// The exercises: `$GITOPS_LAB_EXERCISES`, else `exercises/` of the current directory, else the
/// source tree's `exercises/` this binary was built from.
pub fn exercises_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GITOPS_LAB_EXERCISES").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from("exercises");
    if here.join("2.1-nginx-pod").is_dir() {
        return here;
    }
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../exercises")
}

/// Parses `--cluster`; the error names the accepted forms in both languages.
fn parse_cluster(arg: &str) -> Result<ClusterChoice, String> {
    ClusterChoice::from_arg(arg).ok_or_else(|| {
        format!(
            "\"{arg}\" is not a cluster: use sandbox, minikube or context:NAME / “{arg}”不是有效的集群：请使用 sandbox、minikube 或 context:名称"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        cluster: ClusterArgs,
    }

    #[test]
    fn the_sandbox_is_the_default_and_contexts_keep_their_name() {
        let probe = Probe::try_parse_from(["x"]).unwrap();
        assert_eq!(probe.cluster.cluster, ClusterChoice::Sandbox);
        let probe = Probe::try_parse_from(["x", "--cluster", "context:kind-a", "--data-dir", "/d"]).unwrap();
        assert_eq!(probe.cluster.cluster, ClusterChoice::Context { name: "kind-a".into() });
        assert_eq!(probe.cluster.engine_config().unwrap().data_dir, PathBuf::from("/d"));
    }

    #[test]
    fn an_unknown_cluster_is_refused_with_the_accepted_forms() {
        let error = Probe::try_parse_from(["x", "--cluster", "docker"]).err().unwrap().to_string();
        assert!(error.contains("sandbox, minikube or context:NAME"), "{error}");
    }
}

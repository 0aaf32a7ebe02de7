//! The flags every command that reaches a cluster takes: `--cluster sandbox|minikube|context:NAME`
//! and `--data-dir`, and the engine settings they make.

use gitops_lab::EngineConfig;
use gitops_lab::protocol::ClusterChoice;
use std::path::PathBuf;

/// `--cluster` and `--data-dir`.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// The cluster: sandbox (built in, the default), minikube, or context:NAME of your kubeconfig.
    #[arg(long, default_value = "sandbox", value_parser = parse_cluster)]
    pub cluster: ClusterChoice,
    /// The lab's data directory (default: the user's data directory, or $GITOPS_LAB_DATA).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Reads `sandbox`, `minikube` or `context:NAME`.
pub fn parse_cluster(text: &str) -> Result<ClusterChoice, String> {
    match text {
        "sandbox" => Ok(ClusterChoice::Sandbox),
        "minikube" => Ok(ClusterChoice::Minikube),
        other => match other.strip_prefix("context:") {
            Some(name) if !name.is_empty() => Ok(ClusterChoice::Context { name: name.to_string() }),
            _ => Err(format!("\"{other}\" is not a cluster: use sandbox, minikube or context:NAME")),
        },
    }
}

impl ClusterArgs {
    /// The engine's settings: the data directory, the cluster, the exercises beside the program.
    pub fn engine_config(&self) -> Option<EngineConfig> {
        let data_dir = self.data_dir.clone().or_else(crate::sandbox_serve::default_data_dir)?;
        let mut config = EngineConfig::new(data_dir, PathBuf::from("exercises"));
        config.cluster = self.cluster.clone();
        Some(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_read_from_their_three_spellings() {
        assert_eq!(parse_cluster("sandbox"), Ok(ClusterChoice::Sandbox));
        assert_eq!(parse_cluster("minikube"), Ok(ClusterChoice::Minikube));
        assert_eq!(parse_cluster("context:kind-a"), Ok(ClusterChoice::Context { name: "kind-a".into() }));
        assert!(parse_cluster("context:").is_err());
        assert!(parse_cluster("kind").is_err());
    }
}

//! The cluster's add-ons: what kubeadm and minikube install once the control plane is up
//! (`data/addons.yaml`: CoreDNS, kube-proxy, the storage provisioner and their RBAC), created at
//! every start when missing. They live here, in the composition root, because they are neither
//! the API server's own defaults (the core's bootstrap) nor the node's: they are workloads that the
//! controllers and the node run like a learner's.

use crate::Sandbox;
use gitops_sandbox_core::cluster::SandboxError;
use serde_json::Value;

/// The add-ons, parsed (a unit test parses them, so a broken file never ships).
pub fn objects() -> Result<Vec<Value>, SandboxError> {
    serde_norway::from_str(include_str!("data/addons.yaml"))
        .map_err(|e| SandboxError::Bootstrap { name: "data/addons.yaml".into(), message: e.to_string() })
}

/// Creates the add-ons the sandbox lacks.
pub fn install(sandbox: &Sandbox) -> Result<(), SandboxError> {
    sandbox.create_missing(objects()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_sandbox_core::registry::builtin_type;

    #[test]
    fn the_addons_are_created_once_and_a_deleted_one_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let sb = Sandbox::open(dir.path()).unwrap();
        install(&sb).unwrap();
        let deployments = builtin_type("apps", "deployments");
        let coredns = sb.get(deployments, Some("kube-system"), "coredns").expect("CoreDNS's Deployment");
        assert_eq!(
            coredns["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.k8s.io/coredns/coredns:v1.11.3"
        );
        assert!(sb.get(builtin_type("apps", "daemonsets"), Some("kube-system"), "kube-proxy").is_some());
        let provisioner = sb.get(builtin_type("", "pods"), Some("kube-system"), "storage-provisioner").unwrap();
        assert_eq!(provisioner["spec"]["hostNetwork"], true);
        install(&sb).unwrap();
        let same = sb.get(deployments, Some("kube-system"), "coredns").unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], coredns["metadata"]["resourceVersion"], "left alone");
        let options = gitops_sandbox_core::cluster::DeleteOptions::default();
        sb.delete(deployments, Some("kube-system"), "coredns", &options).unwrap();
        install(&sb).unwrap();
        assert!(sb.get(deployments, Some("kube-system"), "coredns").is_some());
    }
}

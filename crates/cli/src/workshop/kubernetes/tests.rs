//! The provider against a real sandbox served in this process: what a learner's first use makes,
//! what idle stop and removal delete, and the learner-facing messages. (tests/workshop_kubernetes.rs
//! drives the same through the real workshop server and checks every field of the objects.)

use super::*;
use gitops_sandbox::server::InProcess;

fn record(id: &str) -> LearnerRecord {
    LearnerRecord { id: id.into(), name: id.into(), token: String::new(), joined: 0, progress: Vec::new() }
}

async fn provider(sandbox: &InProcess, data_dir: &Path) -> KubernetesSandboxes {
    let file = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.unwrap();
    let args = KubernetesArgs {
        sandboxes: SandboxKind::Kubernetes,
        namespace: Some("default".into()),
        sandbox_image: "example/workshop:1".into(),
        sandbox_ready_timeout: 2,
    };
    KubernetesSandboxes::with_config(config, &args, 100, data_dir, Path::new("/exercises")).await.unwrap()
}

async fn exists<K>(provider: &KubernetesSandboxes, name: &str) -> bool
where
    K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let found = provider.inner.api::<K>().get_opt(name).await.unwrap();
    found.is_some_and(|object| object.meta().deletion_timestamp.is_none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_makes_four_objects_idle_stop_deletes_the_pod_and_removal_all() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = InProcess::start(&dir.path().join("sandbox"), &dir.path().join("kubeconfig")).await.unwrap();
    let provider = provider(&sandbox, &dir.path().join("workshop")).await;
    let learner = record("learner-1");
    let name = "sandbox-learner-1";
    // The sandbox cannot run the workshop image, so the Pod never becomes ready: the learner is
    // told so, with the container's state.
    let message = provider.prepare(&learner).await.unwrap_err();
    assert!(message.en.contains("Your cluster (the Pod sandbox-learner-1) is not ready after 2 s"), "{}", message.en);
    assert!(message.zh.contains("仍未就绪"), "{}", message.zh);
    assert!(exists::<Secret>(&provider, name).await && exists::<PersistentVolumeClaim>(&provider, name).await);
    assert!(exists::<Service>(&provider, name).await && exists::<Pod>(&provider, name).await);
    let config = provider.engine_config(&learner);
    let kubeconfig = std::fs::read_to_string(config.kubeconfig.as_ref().unwrap()).unwrap();
    assert!(kubeconfig.contains("server: https://sandbox-learner-1.default.svc:6443"), "{kubeconfig}");
    // A second start reuses the Secret's credentials.
    let _ = provider.prepare(&learner).await;
    assert_eq!(std::fs::read_to_string(config.kubeconfig.as_ref().unwrap()).unwrap(), kubeconfig);

    provider.stopped(&learner).await;
    assert!(!exists::<Pod>(&provider, name).await, "idle stop deletes the Pod");
    assert!(exists::<Secret>(&provider, name).await && exists::<PersistentVolumeClaim>(&provider, name).await);
    assert!(exists::<Service>(&provider, name).await);

    provider.remove(&learner).await.unwrap();
    for gone in [
        exists::<Pod>(&provider, name).await,
        exists::<Service>(&provider, name).await,
        exists::<PersistentVolumeClaim>(&provider, name).await,
        exists::<Secret>(&provider, name).await,
    ] {
        assert!(!gone, "removal deletes all four");
    }
    assert!(!config.kubeconfig.unwrap().exists());
    // Removing again finds nothing to delete and is not an error.
    provider.remove(&learner).await.unwrap();
    sandbox.stop().await.unwrap();
}

#[test]
fn an_unreachable_sandbox_is_explained_in_both_languages() {
    let waiting = Waiting::Unreachable("dns error: failed to lookup address".into());
    let text = waiting.message("sandbox-learner-2", "https://sandbox-learner-2.ns.svc:6443", Duration::from_secs(120));
    assert!(text.en.starts_with("Your cluster's Pod sandbox-learner-2 is running, but the workshop cannot reach its API at https://sandbox-learner-2.ns.svc:6443: dns error"), "{}", text.en);
    assert!(text.zh.contains("无法通过 https://sandbox-learner-2.ns.svc:6443 访问"), "{}", text.zh);
}

//! `workshop --sandboxes kubernetes`: each learner's sandbox runs in its own Pod of the cluster the
//! workshop server runs in (or the current kubeconfig's), reached through kube-rs.
//!
//! On a learner's first use the workshop makes their credentials (a CA, a serving certificate for
//! the Service's DNS names, an admin token; the sandbox's own PKI code) and keeps them in a Secret,
//! then makes a PersistentVolumeClaim, a Service and a Pod running `gitops-lab sandbox serve` with
//! those credentials ([`objects`]). The learner's engine, in this server, connects with a
//! kubeconfig written from the same credentials. An idle learner's Pod is deleted (claim and Secret
//! kept) and made again on their return; removing a learner deletes all four.

mod objects;

use super::learners::LearnerRecord;
use super::provider::{Pending, SandboxProvider};
use anyhow::Context;
use gitops_lab::EngineConfig;
use gitops_lab::protocol::{ClusterChoice, Text};
use gitops_sandbox_core::pki::{Certificates, SERVER_NAMES};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret, Service};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use objects::Spec;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The flags of `workshop` that choose and set up where sandboxes run.
#[derive(clap::Args, Debug, Clone)]
pub struct KubernetesArgs {
    /// Where learners' sandboxes run: `local` (child processes of this server) or `kubernetes`
    /// (a Pod, claim, Service and Secret per learner, in the cluster the server runs in or the
    /// current kubeconfig context's).
    #[arg(long, value_enum, default_value = "local")]
    pub sandboxes: SandboxKind,
    /// With --sandboxes kubernetes: the namespace of the learners' objects (default: the server's
    /// own namespace in a cluster, else the kubeconfig context's).
    #[arg(long)]
    pub namespace: Option<String>,
    /// With --sandboxes kubernetes: the image the sandboxes' Pods run; its entrypoint must be
    /// `gitops-lab` (the workshop's own image).
    #[arg(long, default_value = concat!("gitops-lab/gitops-lab:", env!("CARGO_PKG_VERSION")))]
    pub sandbox_image: String,
    /// With --sandboxes kubernetes: how long a learner's first command waits for their sandbox's
    /// Pod to be ready and answer before they are told to try again, in seconds.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub sandbox_ready_timeout: u64,
}

/// Where learners' sandboxes run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxKind {
    /// Child processes of the workshop server.
    Local,
    /// One Pod (with a claim, a Service and a Secret) per learner.
    Kubernetes,
}

/// Each learner's sandbox as a Pod; cheap to clone (the futures it hands out own a clone).
#[derive(Clone)]
pub struct KubernetesSandboxes {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    namespace: String,
    image: String,
    /// Each sandbox's object limit (0: none), passed in its Pod's arguments.
    max_objects: usize,
    data_dir: PathBuf,
    exercises_dir: PathBuf,
    ready_timeout: Duration,
}

/// The learner's engine only: their sandbox's memory is their Pod's, not this server's (an idle
/// engine measured about 20 MiB; the margin covers one in the middle of an exercise).
const ENGINE_BYTES: u64 = 40 << 20;

/// How long the workshop waits for a sandbox's API to answer once its Pod is ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

impl KubernetesSandboxes {
    /// Connects to the cluster (in-cluster configuration, else the current kubeconfig context)
    /// and checks that the namespace's Pods can be listed, so that a missing permission or an
    /// unreachable cluster stops the start, not a learner's first command.
    pub async fn connect(
        args: &KubernetesArgs,
        max_objects: usize,
        data_dir: &Path,
        exercises_dir: &Path,
    ) -> anyhow::Result<Self> {
        let config = kube::Config::infer().await.context(
            "--sandboxes kubernetes: no cluster to use (run in a Pod with a ServiceAccount, or set KUBECONFIG) / --sandboxes kubernetes：找不到可用的集群（请在带 ServiceAccount 的 Pod 中运行，或设置 KUBECONFIG）",
        )?;
        Self::with_config(config, args, max_objects, data_dir, exercises_dir).await
    }

    /// [`KubernetesSandboxes::connect`] with a given client configuration.
    pub async fn with_config(
        config: kube::Config,
        args: &KubernetesArgs,
        max_objects: usize,
        data_dir: &Path,
        exercises_dir: &Path,
    ) -> anyhow::Result<Self> {
        let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).context("--sandboxes kubernetes: cannot make a client")?;
        let selector = format!("{}={}", objects::MANAGED_BY.0, objects::MANAGED_BY.1);
        Api::<Pod>::namespaced(client.clone(), &namespace)
            .list(&ListParams::default().labels(&selector))
            .await
            .with_context(|| {
                format!(
                    "--sandboxes kubernetes: cannot list Pods in the namespace {namespace} (is the cluster reachable, and may the workshop's identity list Pods there? see deploy/workshop/rbac.yaml) / 无法列出命名空间 {namespace} 中的 Pod（集群是否可达？工作坊的身份是否有权列出其中的 Pod？见 deploy/workshop/rbac.yaml）"
                )
            })?;
        let inner = Inner {
            client,
            namespace,
            image: args.sandbox_image.clone(),
            max_objects,
            data_dir: data_dir.to_path_buf(),
            exercises_dir: exercises_dir.to_path_buf(),
            ready_timeout: Duration::from_secs(args.sandbox_ready_timeout),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The namespace the learners' objects go in.
    pub fn namespace(&self) -> &str {
        &self.inner.namespace
    }
}

impl SandboxProvider for KubernetesSandboxes {
    fn engine_config(&self, learner: &LearnerRecord) -> EngineConfig {
        let dir = self.inner.learner_dir(&learner.id);
        let mut config = EngineConfig::new(&dir, &self.inner.exercises_dir);
        config.cluster = ClusterChoice::Context { name: gitops_sandbox::kubeconfig::CONTEXT.into() };
        config.kubeconfig = Some(dir.join("cluster-kubeconfig"));
        config.learner = learner.id.clone();
        config
    }

    fn memory_per_learner(&self) -> u64 {
        ENGINE_BYTES
    }

    fn prepare(&self, learner: &LearnerRecord) -> Pending<Result<(), Text>> {
        let (inner, id) = (self.inner.clone(), learner.id.clone());
        Box::pin(async move { inner.prepare(&id).await })
    }

    fn stopped(&self, learner: &LearnerRecord) -> Pending<()> {
        let (inner, id) = (self.inner.clone(), learner.id.clone());
        Box::pin(async move {
            let spec = inner.spec(&id);
            if let Err(error) = delete(inner.api::<Pod>(), &spec.name()).await {
                let name = spec.name();
                eprintln!(
                    "cannot delete the Pod {name} of an idle learner: {error} / 无法删除空闲学员的 Pod {name}：{error}"
                );
            }
        })
    }

    fn remove(&self, learner: &LearnerRecord) -> Pending<Result<(), Text>> {
        let (inner, id) = (self.inner.clone(), learner.id.clone());
        Box::pin(async move { inner.remove(&id).await.map_err(|e| api_failed(&e)) })
    }
}

impl Inner {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// What the learner's four objects are made from.
    fn spec<'a>(&'a self, learner: &'a str) -> Spec<'a> {
        Spec { learner, image: &self.image, max_objects: self.max_objects }
    }

    fn learner_dir(&self, id: &str) -> PathBuf {
        self.data_dir.join("learners").join(id)
    }

    /// Makes whatever of the learner's four objects is missing, writes their engine's
    /// kubeconfig, and waits until their sandbox answers.
    async fn prepare(&self, id: &str) -> Result<(), Text> {
        let spec = self.spec(id);
        let (ca, token) = self.credentials(&spec).await.map_err(|e| api_failed(&e))?;
        let kubeconfig = self.learner_dir(id).join("cluster-kubeconfig");
        gitops_sandbox::kubeconfig::write(&kubeconfig, &spec.server_url(&self.namespace), &ca, &token)
            .map_err(|e| {
                let file = kubeconfig.display();
                Text::new(
                    format!("The workshop cannot write your cluster's kubeconfig {file}: {e}. Show this message to your instructor."),
                    format!("工作坊无法写入你的集群的 kubeconfig {file}：{e}。请把这条消息给讲师看。"),
                )
            })?;
        create_absent(self.api(), spec.claim()).await.map_err(|e| api_failed(&e))?;
        create_absent(self.api(), spec.service()).await.map_err(|e| api_failed(&e))?;
        self.wait_ready(&spec, &kubeconfig).await
    }

    /// The CA and token of the learner's Secret, made (with a new CA, serving certificate and
    /// token) when there is none yet.
    async fn credentials(&self, spec: &Spec<'_>) -> Result<(String, String), kube::Error> {
        let secrets = self.api::<Secret>();
        if let Some(found) = secrets.get_opt(&spec.name()).await?.as_ref().and_then(read_secret) {
            return Ok(found);
        }
        // Loopback too, so that a `curl` inside the Pod trusts it as well.
        let mut names = spec.dns_names(&self.namespace);
        names.extend(SERVER_NAMES.map(String::from));
        let made = Certificates::generate_for(&names).map_err(|e| kube::Error::Service(e.into()))?;
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let secret = spec.secret(&made.ca_pem, &made.server_cert_pem, &made.server_key_pem, &token);
        match secrets.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok((made.ca_pem, token)),
            // Another request of the same learner made it first: use theirs.
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                let found = secrets.get(&spec.name()).await?;
                read_secret(&found).ok_or_else(|| kube::Error::Service("the Secret has no ca.crt or token".into()))
            }
            Err(error) => Err(error),
        }
    }

    /// Waits for the learner's Pod to be ready and their sandbox's API to answer, making the Pod
    /// when it is missing (first use, or back from idle once the old one is gone).
    async fn wait_ready(&self, spec: &Spec<'_>, kubeconfig: &Path) -> Result<(), Text> {
        let pods = self.api::<Pod>();
        let deadline = Instant::now() + self.ready_timeout;
        let mut last;
        loop {
            last = match pods.get_opt(&spec.name()).await {
                Err(error) => return Err(api_failed(&error)),
                Ok(None) => match pods.create(&PostParams::default(), &spec.pod()).await {
                    Ok(_) => Waiting::NotReady("the Pod was just created".into()),
                    Err(kube::Error::Api(status)) if status.is_already_exists() => Waiting::NotReady(status.message),
                    Err(error) => return Err(api_failed(&error)),
                },
                Ok(Some(pod)) if pod.metadata.deletion_timestamp.is_some() => {
                    Waiting::NotReady("the previous Pod is still stopping".into())
                }
                Ok(Some(pod)) if is_ready(&pod) => match probe(kubeconfig).await {
                    Ok(()) => return Ok(()),
                    Err(why) => Waiting::Unreachable(why),
                },
                Ok(Some(pod)) => Waiting::NotReady(describe(&pod)),
            };
            if Instant::now() >= deadline {
                return Err(last.message(&spec.name(), &spec.server_url(&self.namespace), self.ready_timeout));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Deletes the learner's Pod, Service, claim and Secret (those that exist) and their engine's
    /// kubeconfig.
    async fn remove(&self, id: &str) -> Result<(), kube::Error> {
        let name = self.spec(id).name();
        delete(self.api::<Pod>(), &name).await?;
        delete(self.api::<Service>(), &name).await?;
        delete(self.api::<PersistentVolumeClaim>(), &name).await?;
        delete(self.api::<Secret>(), &name).await?;
        let _ = std::fs::remove_file(self.learner_dir(id).join("cluster-kubeconfig"));
        Ok(())
    }
}

/// Why a learner's sandbox is not there yet, as last seen.
enum Waiting {
    /// The Pod is missing, starting, crashing or stopping: the detail says which.
    NotReady(String),
    /// The Pod is ready but its API did not answer through the Service.
    Unreachable(String),
}

impl Waiting {
    /// What the learner reads when the wait is over.
    fn message(&self, pod: &str, url: &str, waited: Duration) -> Text {
        let seconds = waited.as_secs();
        match self {
            Waiting::NotReady(detail) => Text::new(
                format!(
                    "Your cluster (the Pod {pod}) is not ready after {seconds} s: {detail}. It may still be starting (pulling its image, attaching its volume): try again in a minute; if this keeps happening, show this message to your instructor."
                ),
                format!(
                    "你的集群（Pod {pod}）在 {seconds} 秒后仍未就绪：{detail}。它可能仍在启动（拉取镜像、挂载存储卷）：请一分钟后再试；如果一直如此，请把这条消息给讲师看。"
                ),
            ),
            Waiting::Unreachable(detail) => Text::new(
                format!(
                    "Your cluster's Pod {pod} is running, but the workshop cannot reach its API at {url}: {detail}. Try again in a minute; if this keeps happening, show this message to your instructor (the Service, a network policy or the cluster's DNS may be at fault)."
                ),
                format!(
                    "你的集群 Pod {pod} 正在运行，但工作坊无法通过 {url} 访问它的 API：{detail}。请一分钟后再试；如果一直如此，请把这条消息给讲师看（可能是 Service、网络策略或集群 DNS 的问题）。"
                ),
            ),
        }
    }
}

fn api_failed(error: &kube::Error) -> Text {
    Text::new(
        format!(
            "The workshop cannot prepare your cluster: the Kubernetes API answered “{error}”. Show this message to your instructor (the workshop's permissions or the cluster may be at fault)."
        ),
        format!(
            "工作坊无法准备你的集群：Kubernetes API 回答“{error}”。请把这条消息给讲师看（可能是工作坊的权限或集群的问题）。"
        ),
    )
}

/// The CA and token a Secret holds (`data`, or `stringData` from a server that keeps it as sent).
fn read_secret(secret: &Secret) -> Option<(String, String)> {
    let field = |key: &str| {
        let data = secret.data.as_ref().and_then(|d| d.get(key)).map(|b| String::from_utf8_lossy(&b.0).into_owned());
        data.or_else(|| secret.string_data.as_ref().and_then(|d| d.get(key)).cloned())
    };
    Some((field("ca.crt")?, field("token")?))
}

async fn create_absent<K>(api: Api<K>, object: K) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(error) => Err(error),
    }
}

async fn delete<K>(api: Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(error) => Err(error),
    }
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The Pod's state in a few words: its phase and why its container is not running.
fn describe(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into());
    let unscheduled = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False"))
        .map(|c| format!("not scheduled: {}", c.message.clone().unwrap_or_default()));
    let container = status.and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first()).and_then(|c| {
        let state = c.state.as_ref()?;
        if let Some(waiting) = &state.waiting {
            return Some(format!(
                "{} {}",
                waiting.reason.clone().unwrap_or_default(),
                waiting.message.clone().unwrap_or_default()
            ));
        }
        let last = || c.last_state.as_ref().and_then(|l| l.terminated.as_ref());
        let ended = state.terminated.as_ref().or_else(last)?;
        Some(format!("{} (exit code {})", ended.reason.clone().unwrap_or_default(), ended.exit_code))
    });
    match unscheduled.or(container) {
        Some(detail) => format!("Pod phase {phase}, {}", detail.trim()),
        None => format!("Pod phase {phase}"),
    }
}

/// Asks the sandbox's API for its version through the learner's kubeconfig.
async fn probe(kubeconfig: &Path) -> Result<(), String> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let client = Client::try_from(config).map_err(|e| e.to_string())?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(with_causes(&error)),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// An error with its causes (kube-rs says only "client error (Connect)" at the top; the DNS or
/// connection failure is further down).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let line = next.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests;

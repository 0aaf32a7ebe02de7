//! One sync run: apply every manifest of a commit with kubectl's client-side apply, then prune what
//! git no longer holds — only objects this loop created (its inventory) that still carry its label,
//! and never while any manifest failed to read, since a broken file may define what would be pruned.

use super::source::{Desired, no_manifests};
use super::store::{Inventory, same_object};
use crate::kubectl::rest::{self, Target};
use crate::kubectl::{ApplyAction, ApplyOptions, Kubectl, Manifest};
use futures::StreamExt;
use gitops_lab_protocol::{ObjectRef, ResourceSyncState, ResourceSyncView, SyncRunView, Text};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;

/// How many objects of one kind are applied at once.
const WAVE_CONCURRENCY: usize = 16;

/// The order kinds are applied in (pruned in reverse), so that a Namespace exists before what lives
/// in it and a ServiceAccount before the pods that use it. Kinds not listed come last, in file order.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Pod",
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Ingress",
];

/// The choices of one sync configuration.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Whether to delete what was removed from git.
    pub prune: bool,
    /// The label (key, value) put on every object this configuration applies.
    pub label: (String, String),
    /// The repository as the learner named it, for messages.
    pub repo: String,
    /// The directory synced, for messages.
    pub dir: String,
}

/// A resource the run applied, kept so that drift can be checked against git later.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// Its index in the run's resources.
    pub index: usize,
    /// Where it lives.
    pub target: Target,
    /// Git's object, namespace defaulted.
    pub desired: Value,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The run, for the history and the UI.
    pub run: SyncRunView,
    /// The resources applied, for drift checks.
    pub tracked: Vec<Tracked>,
}

/// The rank of a kind in [`KIND_ORDER`].
fn rank(kind: &str) -> usize {
    KIND_ORDER.iter().position(|k| *k == kind).unwrap_or(KIND_ORDER.len())
}

/// Applies `desired` and prunes, updating `inventory` with what was created and deleted.
pub async fn run(kubectl: &Kubectl, desired: &Desired, inventory: &mut Inventory, options: &SyncOptions) -> Outcome {
    let clock = Instant::now();
    let started = jiff::Timestamp::now().to_string();
    let mut errors: Vec<_> = desired.errors.iter().map(|e| e.view()).collect();
    if desired.files == 0 {
        errors.push(no_manifests(&options.repo, &options.dir, &desired.commit));
    }
    let labels = BTreeMap::from([options.label.clone()]);
    let apply_options = &ApplyOptions { extra_labels: labels, dry_run: false };
    let mut order: Vec<usize> = (0..desired.manifests.len()).collect();
    order.sort_by_key(|&i| rank(desired.manifests[i].kind()));
    let mut resources: Vec<Option<ResourceSyncView>> = vec![None; desired.manifests.len()];
    let mut tracked = Vec::new();
    // One kind after another; the objects of one kind are independent, so they go concurrently.
    for wave in order.chunk_by(|a, b| rank(desired.manifests[*a].kind()) == rank(desired.manifests[*b].kind())) {
        let results =
            futures::stream::iter(wave.iter().copied().map(|index| async move {
                (index, apply_one(kubectl, &desired.manifests[index], apply_options).await)
            }))
            .buffered(WAVE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for (index, (view, applied, created)) in results {
            if let Some(object) = created {
                inventory.insert(object);
            }
            if let Some((target, object)) = applied {
                tracked.push(Tracked { index, target, desired: object });
            }
            resources[index] = Some(view);
        }
    }
    let mut resources: Vec<ResourceSyncView> = resources.into_iter().flatten().collect();
    let wanted: Vec<ObjectRef> = resources.iter().map(|r| r.object.clone()).collect();
    let mut removed: Vec<ObjectRef> =
        inventory.objects.iter().filter(|o| !wanted.iter().any(|w| same_object(w, o))).cloned().collect();
    removed.sort_by_key(|o| std::cmp::Reverse(rank(&o.kind)));
    for object in removed {
        resources.push(prune_one(kubectl, object, inventory, options, !errors.is_empty()).await);
    }
    let message = summary(&desired.commit, &resources, errors.len());
    let run = SyncRunView {
        commit: desired.commit.clone(),
        started,
        duration_ms: clock.elapsed().as_millis() as u64,
        resources,
        errors,
        message,
    };
    Outcome { run, tracked }
}

/// The object a manifest names, before the cluster is asked.
fn manifest_ref(manifest: &Manifest) -> ObjectRef {
    ObjectRef {
        api_version: manifest.api_version().to_string(),
        kind: manifest.kind().to_string(),
        namespace: manifest.namespace().map(String::from),
        name: manifest.name().to_string(),
    }
}

/// What applying one manifest gave: its view, its target and object (for drift), and the object if
/// it was created (for the inventory).
type Applied1 = (ResourceSyncView, Option<(Target, Value)>, Option<ObjectRef>);

async fn apply_one(kubectl: &Kubectl, manifest: &Manifest, options: &ApplyOptions) -> Applied1 {
    let source = manifest.location();
    let failed = |object: ObjectRef, error: crate::Error| {
        let view = error.view();
        let message = view.detail.filter(|d| !d.is_empty()).unwrap_or(view.message.en);
        ResourceSyncView { object, source: source.clone(), state: ResourceSyncState::Failed, message }
    };
    let (target, object) = match kubectl.prepare(manifest).await {
        Ok(prepared) => prepared,
        Err(error) => return (failed(manifest_ref(manifest), error), None, None),
    };
    match kubectl.apply(manifest, options).await {
        Ok(applied) => {
            let created = (applied.action == ApplyAction::Created).then(|| applied.object.clone());
            let view = ResourceSyncView {
                object: applied.object.clone(),
                source,
                state: ResourceSyncState::Synced,
                message: applied.line(),
            };
            (view, Some((target, object)), created)
        }
        Err(error) => (failed(target.object_ref(), error), None, None),
    }
}

async fn prune_one(
    kubectl: &Kubectl,
    object: ObjectRef,
    inventory: &mut Inventory,
    options: &SyncOptions,
    blocked: bool,
) -> ResourceSyncView {
    let view =
        |state, message: String| ResourceSyncView { object: object.clone(), source: String::new(), state, message };
    let name = object.kubectl_name();
    if blocked {
        return view(
            ResourceSyncState::Orphaned,
            format!("{name} not pruned: a manifest could not be read, and it may define this object"),
        );
    }
    if !options.prune {
        return view(
            ResourceSyncState::Orphaned,
            format!("{name} removed from git; left in the cluster (prune is off)"),
        );
    }
    let stub = Manifest {
        source: "inventory".into(),
        line: 0,
        object: json!({"apiVersion": object.api_version, "kind": object.kind,
            "metadata": {"name": object.name, "namespace": object.namespace}}),
    };
    let target = match kubectl.prepare(&stub).await {
        Ok((target, _)) => target,
        Err(error) => {
            return view(ResourceSyncState::Orphaned, format!("{name} not pruned: {}", error.view().message.en));
        }
    };
    let live = match rest::get(kubectl.client(), &target).await {
        Ok(live) => live,
        Err(error) => {
            return view(ResourceSyncState::Orphaned, format!("{name} not pruned: {}", error.view().message.en));
        }
    };
    let Some(live) = live else {
        inventory.remove(&object);
        return view(ResourceSyncState::Pruned, format!("{name} already gone"));
    };
    let (key, value) = &options.label;
    if live.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str) != Some(value.as_str()) {
        // Someone else's object now (deleted and made again without the label): not ours to delete.
        inventory.remove(&object);
        return view(
            ResourceSyncState::Orphaned,
            format!("{name} not pruned: it no longer carries the label {key}={value}"),
        );
    }
    match rest::delete(kubectl.client(), &target, "Background").await {
        Ok(_) => {
            inventory.remove(&object);
            view(ResourceSyncState::Pruned, format!("{name} pruned"))
        }
        Err(error) => view(ResourceSyncState::Failed, format!("{name} not pruned: {}", error.view().message.en)),
    }
}

/// The run's sentence: counts per state and the commit.
fn summary(commit: &str, resources: &[ResourceSyncView], unreadable: usize) -> Text {
    let count = |state| resources.iter().filter(|r| r.state == state).count();
    let short: String = commit.chars().take(7).collect();
    let (synced, failed, pruned, orphaned) = (
        count(ResourceSyncState::Synced),
        count(ResourceSyncState::Failed),
        count(ResourceSyncState::Pruned),
        count(ResourceSyncState::Orphaned),
    );
    Text::new(
        format!(
            "Commit {short}: {synced} synced, {failed} failed, {pruned} pruned, {orphaned} left in the cluster, {unreadable} problem(s) reading the repository."
        ),
        format!(
            "提交 {short}：{synced} 个已同步，{failed} 个失败，{pruned} 个已清理，{orphaned} 个留在集群中，读取仓库时有 {unreadable} 个问题。"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_come_first_and_unknown_kinds_last() {
        let mut kinds = vec!["Widget", "Deployment", "Service", "Namespace"];
        kinds.sort_by_key(|k| rank(k));
        assert_eq!(kinds, ["Namespace", "Service", "Deployment", "Widget"]);
    }

    #[test]
    fn the_summary_counts_each_state() {
        let object =
            ObjectRef { api_version: "v1".into(), kind: "ConfigMap".into(), namespace: None, name: "a".into() };
        let resource =
            |state| ResourceSyncView { object: object.clone(), source: String::new(), state, message: String::new() };
        let text =
            summary("0123456789", &[resource(ResourceSyncState::Synced), resource(ResourceSyncState::Pruned)], 1);
        assert_eq!(
            text.en,
            "Commit 0123456: 1 synced, 0 failed, 1 pruned, 0 left in the cluster, 1 problem(s) reading the repository."
        );
    }
}

//! Reset: removes exactly what an exercise created — the objects carrying its label, and the objects
//! its file lists under `cleanup` — puts its files back and forgets its progress.

use super::load::Exercise;
use super::session::{EXERCISE_LABEL, Exercises};
use super::workspace::Workspace;
use crate::error::Result;
use crate::kubectl::rest::{self, Target};
use crate::kubectl::{Kubectl, run::FileSource};
use gitops_lab_protocol::{ResetReport, Text};
use std::collections::BTreeSet;

/// Types whose labelled objects reset looks for, besides those of the exercise's manifests.
const ALWAYS: &[&str] =
    &["deployments.apps", "configmaps", "namespaces", "services", "pods", "jobs.batch", "cronjobs.batch"];

impl Exercises {
    /// Resets exercise `id` on the current cluster.
    pub async fn reset(&self, id: &str) -> Result<ResetReport> {
        let handle = self.connection.require()?;
        let exercise = self.find(id)?.clone();
        self.close(id).await;
        let kubectl = Kubectl::new(&handle).in_namespace(Some(exercise.namespace()));
        let mut removed = Vec::new();
        let mut targets = Vec::new();
        for kind in kinds_of(&exercise) {
            let Ok(probe) = kubectl.target_of(&kind, "", None).await else { continue };
            let all = Target { namespace: None, ..probe.clone() };
            let selector = format!("{EXERCISE_LABEL}={id}");
            let listed = match rest::list(kubectl.client(), &all, Some(&selector)).await {
                Ok(items) => items,
                Err(_) => rest::list(kubectl.client(), &probe, Some(&selector)).await?,
            };
            for item in listed {
                let name = item.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
                let namespace = item.pointer("/metadata/namespace").and_then(|n| n.as_str()).map(String::from);
                targets.push(Target { resource: probe.resource.clone(), namespace, name });
            }
        }
        for spec in &exercise.file.cleanup {
            let target = kubectl.target_of(&spec.kind, &spec.name, spec.namespace.as_deref()).await?;
            if rest::get(kubectl.client(), &target).await?.is_some() {
                targets.push(target);
            }
        }
        // Namespaces last: deleting one takes what is inside with it.
        targets.sort_by_key(|t| t.resource.kind == "Namespace");
        targets.dedup_by(|a, b| a.item_path() == b.item_path());
        for target in &targets {
            match rest::delete(kubectl.client(), target, "Background").await {
                Ok(_) | Err(crate::Error::Kube(kube::Error::Api(_))) => {}
                Err(other) => return Err(other),
            }
            removed.push(target.kubectl_name());
        }
        for target in &targets {
            kubectl.wait_gone(target).await;
        }
        Workspace::open(&self.config.workspace_dir(), &exercise)?.reset()?;
        self.forget(id)?;
        let message = Text::new(
            format!("Removed {} object(s) the exercise created; its files and progress start afresh.", removed.len()),
            format!("已删除该练习创建的 {} 个对象；它的文件和进度已重新开始。", removed.len()),
        );
        Ok(ResetReport { removed, message })
    }
}

/// The type names reset looks through: the exercise's manifests' kinds, its cleanup kinds, and the usual ones.
fn kinds_of(exercise: &Exercise) -> BTreeSet<String> {
    let mut kinds: BTreeSet<String> = ALWAYS.iter().map(|k| k.to_string()).collect();
    let files = crate::kubectl::DirectoryFiles::new(exercise.dir.clone());
    if let Ok(entries) = std::fs::read_dir(&exercise.dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if (name.ends_with(".yaml") || name.ends_with(".yml")) && name != super::load::FILE_NAME {
                for manifest in files.manifests(&name).unwrap_or_default() {
                    let group = manifest.api_version().rsplit_once('/').map(|(g, _)| g.to_string());
                    let kind = manifest.kind().to_ascii_lowercase();
                    kinds.insert(match group {
                        Some(group) => format!("{kind}.{group}"),
                        None => kind,
                    });
                }
            }
        }
    }
    kinds.extend(exercise.file.cleanup.iter().map(|c| c.kind.to_ascii_lowercase()));
    kinds
}

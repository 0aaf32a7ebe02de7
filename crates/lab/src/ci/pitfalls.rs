//! The `latest` pitfalls of section 2.5.2, shown live: what an exercise calls to let the learner see
//! that re-applying an unchanged manifest does nothing, that `kubectl rollout restart` is what forces
//! new pods, and that a rollback is a revert of the config commit.

use crate::error::{Error, Result};
use crate::gitops::Repos;
use crate::gitops::templates::{CONFIG_REPO, DEPLOYMENT_FILE};
use crate::kubectl::{Applied, ApplyOptions, Kubectl, parse};
use gitops_lab_protocol::CommitView;

/// Applies the config repository's Deployment as it is at its head, again. With an unchanged file
/// (the same `:latest` tag after a new push, say) kubectl's verdict is `unchanged` and no pod moves.
pub async fn reapply_unchanged(kubectl: &Kubectl, repos: &Repos) -> Result<Vec<Applied>> {
    let text = repos.read(CONFIG_REPO, DEPLOYMENT_FILE)?;
    let manifests = parse(DEPLOYMENT_FILE, &text).map_err(|e| Error::from(e.view()))?;
    let mut applied = Vec::new();
    for manifest in &manifests {
        applied.push(kubectl.apply(manifest, &ApplyOptions::default()).await?);
    }
    Ok(applied)
}

/// `kubectl rollout restart` of the config repository's Deployment: new pods with the same image.
pub async fn rollout_restart(kubectl: &Kubectl, repos: &Repos) -> Result<String> {
    let text = repos.read(CONFIG_REPO, DEPLOYMENT_FILE)?;
    let manifests = parse(DEPLOYMENT_FILE, &text).map_err(|e| Error::from(e.view()))?;
    let Some(deployment) = manifests.iter().find(|m| m.kind() == "Deployment") else {
        return Err(Error::explained(
            "no-deployment",
            gitops_lab_protocol::Text::same(format!("{DEPLOYMENT_FILE} holds no Deployment")),
            None,
        ));
    };
    let (target, _) = kubectl.prepare(deployment).await?;
    let output = kubectl.rollout_restart(&[target]).await;
    match output.error {
        Some(error) => Err(Error::from(error)),
        None => Ok(output.stdout.trim_end().to_string()),
    }
}

/// Rolls back by reverting a config commit (as `git revert` would); the sync loop then applies the
/// previous image, which still exists because every build had its own tag.
pub fn rollback(repos: &Repos, config_commit: &str) -> Result<CommitView> {
    repos.revert(CONFIG_REPO, config_commit)
}

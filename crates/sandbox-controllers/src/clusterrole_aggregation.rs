//! The clusterrole-aggregation controller: whenever a ClusterRole changes, every aggregated
//! ClusterRole (one with an `aggregationRule`) takes the rules of the roles it selects again
//! (`gitops_sandbox_core::auth::aggregation`), so labelling a new role `aggregate-to-edit`
//! extends `edit` (and through it `admin`) within a moment, as on a real cluster.

use crate::{Action, Controller, ObjectRef};
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::auth::aggregation::{self, cluster_roles};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::registry::ResourceId;

/// Keeps aggregated ClusterRoles' rules current.
pub struct ClusterRoleAggregation;

impl Controller for ClusterRoleAggregation {
    fn name(&self) -> &'static str {
        "clusterrole-aggregation"
    }

    fn primary(&self) -> ResourceId {
        cluster_roles().id()
    }

    /// Any ClusterRole's change (its labels, its rules, its going) may concern every aggregated
    /// one, so whichever role changed, all of them are brought up to date. ClusterRoles are few
    /// and change rarely.
    fn reconcile(&self, sandbox: &Sandbox, _changed: &ObjectRef) -> Result<Action, ApiError> {
        aggregation::reconcile_all(sandbox)?;
        Ok(Action::Done)
    }
}

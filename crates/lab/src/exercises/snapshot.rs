//! A one-off snapshot for `gitops-lab exercises check`: one LIST per source the checks read.

use super::checks::{CompiledCheck, Snapshot};
use super::live_checks::resources;
use crate::error::Result;
use kube::core::DynamicObject;
use std::collections::BTreeMap;

/// Lists every source `checks` read.
pub async fn read(client: &kube::Client, checks: &[CompiledCheck]) -> Result<Snapshot> {
    let sources: BTreeMap<_, _> = checks.iter().flat_map(|c| resources(&c.condition)).collect();
    let mut snapshot = Snapshot::new();
    for (source, resource) in sources {
        let api: kube::Api<DynamicObject> = match &source.namespace {
            Some(ns) => kube::Api::namespaced_with(client.clone(), ns, &resource),
            None => kube::Api::all_with(client.clone(), &resource),
        };
        let list = api.list(&Default::default()).await?;
        snapshot.insert(source, list.items.into_iter().map(|o| serde_json::to_value(o).unwrap_or_default()).collect());
    }
    Ok(snapshot)
}

//! The path a learner writing an operator takes, with kube-rs against an in-process sandbox: a
//! `#[derive(CustomResource)]` type installed through the definition kube generates, then objects
//! of it created, listed, watched and given a status through the status subresource; and a
//! resource with two versions (kube's `merge_crds`), written through one and read through both.

#![forbid(unsafe_code)]

use futures::StreamExt;
use gitops_sandbox::server::InProcess;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// What a learner's first operator might manage: a static site of some replicas.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "lab.example.com", version = "v1", kind = "Site", namespaced, status = "SiteStatus")]
#[kube(shortname = "site", printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".spec.replicas"}"#)]
struct SiteSpec {
    replicas: i32,
    image: String,
}

/// What the operator reports back.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
struct SiteStatus {
    ready: i32,
}

async fn client_for(kubeconfig: &std::path::Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    Client::try_from(config).expect("a client")
}

#[tokio::test]
async fn a_derived_custom_resource_is_installed_created_listed_watched_and_status_patched() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    let server = InProcess::start(&dir.path().join("data"), &kubeconfig).await.expect("the sandbox serves");
    let client = client_for(&kubeconfig).await;

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Site::crd()).await.expect("kube's generated definition is accepted");
    let crd = crds.get("sites.lab.example.com").await.expect("the definition is stored");
    let established = crd.status.and_then(|s| s.conditions).unwrap_or_default();
    assert!(established.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{established:?}");

    let sites: Api<Site> = Api::namespaced(client.clone(), "default");
    let mut events = sites.watch(&WatchParams::default(), "0").await.expect("a watch").boxed();
    let site = Site::new("docs", SiteSpec { replicas: 2, image: "nginx:1.27".into() });
    let created = sites.create(&PostParams::default(), &site).await.expect("a site is created");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.status.is_none(), "status is the status subresource's");

    let added = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event in time");
    match added {
        Some(Ok(WatchEvent::Added(site))) => assert_eq!(site.name_any(), "docs"),
        other => panic!("expected the site added, got {other:?}"),
    }
    let listed = sites.list(&ListParams::default()).await.expect("sites list");
    assert_eq!(listed.items.iter().map(|s| s.spec.replicas).collect::<Vec<_>>(), [2]);

    let status = Patch::Merge(json!({"status": {"ready": 2}}));
    let patched = sites.patch_status("docs", &PatchParams::default(), &status).await.expect("status patched");
    assert_eq!(patched.status.map(|s| s.ready), Some(2));
    assert_eq!(patched.metadata.generation, Some(1), "a status write keeps the generation");
    let modified = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event in time");
    assert!(matches!(modified, Some(Ok(WatchEvent::Modified(_)))), "{modified:?}");

    let bad = Patch::Merge(json!({"spec": {"replicas": "many"}}));
    let refused = sites.patch("docs", &PatchParams::default(), &bad).await.expect_err("a string is no integer");
    assert!(
        refused.to_string().contains(
            "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
        ),
        "{refused}"
    );
    drop(events);
    drop(sites);
    drop(client);
    server.stop().await.expect("the server stops");

    // Served again after a restart: the definitions are read back from the store.
    let server = InProcess::start(&dir.path().join("data"), &kubeconfig).await.expect("the sandbox serves again");
    let sites: Api<Site> = Api::namespaced(client_for(&kubeconfig).await, "default");
    let again = sites.get("docs").await.expect("the site is still served");
    assert_eq!(again.status.map(|s| s.ready), Some(2));
    server.stop().await.expect("the server stops");
}

/// Two versions of one resource, as an operator that grew a v1 keeps its v1alpha1: the same
/// fields (strategy None converts nothing but the apiVersion), v1 stored.
mod drill {
    pub mod v1alpha1 {
        use kube::CustomResource;
        use schemars::JsonSchema;
        use serde::{Deserialize, Serialize};

        /// The first version.
        #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
        #[kube(group = "lab.example.com", version = "v1alpha1", kind = "Drill", namespaced)]
        pub struct DrillSpec {
            pub minutes: i32,
        }
    }
    pub mod v1 {
        use kube::CustomResource;
        use schemars::JsonSchema;
        use serde::{Deserialize, Serialize};

        /// The stored version.
        #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
        #[kube(group = "lab.example.com", version = "v1", kind = "Drill", namespaced)]
        pub struct DrillSpec {
            pub minutes: i32,
        }
    }
}

#[tokio::test]
async fn a_resource_with_two_versions_is_written_through_one_and_read_and_watched_through_each() {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    let server = InProcess::start(&dir.path().join("data"), &kubeconfig).await.expect("the sandbox serves");
    let client = client_for(&kubeconfig).await;

    let crd = kube::core::crd::merge_crds(vec![drill::v1alpha1::Drill::crd(), drill::v1::Drill::crd()], "v1")
        .expect("the versions merge");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd).await.expect("a two-version definition is accepted");

    let in_version = |version: &str| {
        let gvk = GroupVersionKind::gvk("lab.example.com", version, "Drill");
        Api::<DynamicObject>::namespaced_with(client.clone(), "default", &ApiResource::from_gvk(&gvk))
    };
    let (alpha, v1) = (in_version("v1alpha1"), in_version("v1"));
    let mut events = alpha.watch(&WatchParams::default(), "0").await.expect("a watch through v1alpha1").boxed();
    let drills: Api<drill::v1alpha1::Drill> = Api::namespaced(client.clone(), "default");
    let sent = drill::v1alpha1::Drill::new("warmup", drill::v1alpha1::DrillSpec { minutes: 10 });
    drills.create(&PostParams::default(), &sent).await.expect("created through v1alpha1");

    let api_version = |obj: &DynamicObject| obj.types.as_ref().map(|t| t.api_version.clone()).unwrap_or_default();
    let through_v1 = v1.get("warmup").await.expect("read through v1");
    assert_eq!(api_version(&through_v1), "lab.example.com/v1");
    assert_eq!(through_v1.data["spec"], json!({"minutes": 10}));
    let through_alpha = alpha.get("warmup").await.expect("read through v1alpha1");
    assert_eq!(api_version(&through_alpha), "lab.example.com/v1alpha1");
    let listed = alpha.list(&ListParams::default()).await.expect("listed through v1alpha1");
    assert_eq!(listed.items.iter().map(api_version).collect::<Vec<_>>(), ["lab.example.com/v1alpha1"]);
    let added = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event in time");
    match added {
        Some(Ok(WatchEvent::Added(obj))) => assert_eq!(api_version(&obj), "lab.example.com/v1alpha1"),
        other => panic!("expected the drill added in v1alpha1, got {other:?}"),
    }
    let typed: Api<drill::v1::Drill> = Api::namespaced(client.clone(), "default");
    assert_eq!(typed.get("warmup").await.expect("read as the v1 type").spec.minutes, 10);
    let stored =
        crds.get("drills.lab.example.com").await.expect("the definition").status.and_then(|s| s.stored_versions);
    assert_eq!(stored, Some(vec!["v1".to_string()]));
    drop(events);
    server.stop().await.expect("the server stops");
}

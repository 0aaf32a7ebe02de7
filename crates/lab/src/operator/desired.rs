//! What the operator wants for one ConfigMap: the nginx Deployment that serves its page (pure, no I/O).

use super::{CONTENT_HASH_ANNOTATION, MANAGED_BY, SITE_LABEL};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, PodSpec, PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

/// The image the sites run; any nginx serves `/usr/share/nginx/html`.
pub const NGINX_IMAGE: &str = "nginx:1.27";
/// Where nginx looks for the page; the ConfigMap's keys become files there.
const HTML_DIR: &str = "/usr/share/nginx/html";

/// A fingerprint of the ConfigMap's content (`data` and `binaryData`, keys in order).
///
/// It goes into the pod template's annotations: a new page changes the template, so the Deployment
/// rolls out new pods; an unchanged page (a label edit, a resync) leaves the pods alone.
pub fn content_hash(config_map: &ConfigMap) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    // Length-prefixed fields, so that moving bytes between a key and its value changes the hash.
    let mut feed = |tag: &[u8], bytes: &[u8]| {
        digest.update(tag);
        digest.update(&(bytes.len() as u64).to_be_bytes());
        digest.update(bytes);
    };
    for (key, value) in config_map.data.iter().flatten() {
        feed(b"d", key.as_bytes());
        feed(b"v", value.as_bytes());
    }
    for (key, value) in config_map.binary_data.iter().flatten() {
        feed(b"b", key.as_bytes());
        feed(b"v", &value.0);
    }
    let sum = digest.finish();
    sum.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The owner reference that ties a site's Deployment to its ConfigMap, so that deleting the
/// ConfigMap lets the cluster's garbage collector delete the Deployment (and its pods).
pub fn owner_reference(config_map: &ConfigMap) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: config_map.metadata.name.clone()?,
        uid: config_map.metadata.uid.clone()?,
        controller: Some(true),
        // Left unset: blocking the owner's deletion would need the `configmaps/finalizers`
        // permission on clusters that enforce it, and the operator asks for no more than it uses.
        block_owner_deletion: None,
    })
}

/// Whether `deployment` belongs to `config_map` (its controller reference is that ConfigMap).
pub fn is_owned_by(deployment: &Deployment, config_map: &ConfigMap) -> bool {
    let uid = config_map.metadata.uid.as_deref();
    deployment
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.kind == "ConfigMap" && r.controller == Some(true) && Some(r.uid.as_str()) == uid)
}

/// The content hash a Deployment's pods were made from, if it has one.
pub fn deployed_hash(deployment: &Deployment) -> Option<&str> {
    let template = deployment.spec.as_ref()?.template.metadata.as_ref()?;
    template.annotations.as_ref()?.get(CONTENT_HASH_ANNOTATION).map(String::as_str)
}

/// The Deployment for `config_map`: one nginx replica serving the ConfigMap's keys as files.
/// `None` when the ConfigMap has no name or uid yet (it was never stored).
pub fn site_deployment(config_map: &ConfigMap) -> Option<Deployment> {
    let name = config_map.metadata.name.clone()?;
    let owner = owner_reference(config_map)?;
    let selector = BTreeMap::from([(SITE_LABEL.to_string(), name.clone())]);
    let mut labels = selector.clone();
    labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    let annotations = BTreeMap::from([(CONTENT_HASH_ANNOTATION.to_string(), content_hash(config_map))]);
    let container = Container {
        name: "nginx".into(),
        image: Some(NGINX_IMAGE.into()),
        ports: Some(vec![ContainerPort { container_port: 80, ..ContainerPort::default() }]),
        volume_mounts: Some(vec![VolumeMount {
            name: "site".into(),
            mount_path: HTML_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let volume = Volume {
        name: "site".into(),
        config_map: Some(ConfigMapVolumeSource { name: name.clone(), ..ConfigMapVolumeSource::default() }),
        ..Volume::default()
    };
    Some(Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: config_map.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector { match_labels: Some(selector), ..LabelSelector::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec { containers: vec![container], volumes: Some(vec![volume]), ..PodSpec::default() }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn site(name: &str, page: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("web".into()),
                uid: Some(format!("uid-{name}")),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([("index.html".to_string(), page.to_string())])),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn the_hash_follows_the_content_and_nothing_else() {
        let a = site("a", "hello");
        let mut relabelled = a.clone();
        relabelled.metadata.labels = Some(BTreeMap::from([("x".to_string(), "y".to_string())]));
        assert_eq!(content_hash(&a), content_hash(&relabelled));
        assert_ne!(content_hash(&a), content_hash(&site("a", "hello!")));
        assert_eq!(content_hash(&a).len(), 16);
    }

    #[test]
    fn moving_bytes_between_key_and_value_changes_the_hash() {
        let mut one = site("a", "");
        one.data = Some(BTreeMap::from([("ab".to_string(), "c".to_string())]));
        let mut two = one.clone();
        two.data = Some(BTreeMap::from([("a".to_string(), "bc".to_string())]));
        assert_ne!(content_hash(&one), content_hash(&two));
    }

    #[test]
    fn binary_data_counts_too() {
        let mut with_binary = site("a", "x");
        with_binary.binary_data = Some(BTreeMap::from([("logo.png".to_string(), ByteString(vec![1, 2, 3]))]));
        assert_ne!(content_hash(&with_binary), content_hash(&site("a", "x")));
    }

    #[test]
    fn the_deployment_mounts_the_config_map_and_is_owned_by_it() {
        let cm = site("welcome", "hi");
        let deployment = site_deployment(&cm).unwrap();
        assert_eq!(deployment.metadata.name.as_deref(), Some("welcome"));
        assert_eq!(deployment.metadata.namespace.as_deref(), Some("web"));
        assert!(is_owned_by(&deployment, &cm));
        assert!(!is_owned_by(&deployment, &site("other", "hi")));
        let spec = deployment.spec.as_ref().unwrap();
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.volumes.as_ref().unwrap()[0].config_map.as_ref().unwrap().name, "welcome");
        assert_eq!(pod.containers[0].volume_mounts.as_ref().unwrap()[0].mount_path, HTML_DIR);
        assert_eq!(deployed_hash(&deployment), Some(content_hash(&cm).as_str()));
        let selector = spec.selector.match_labels.as_ref().unwrap();
        let template_labels = spec.template.metadata.as_ref().unwrap().labels.as_ref().unwrap();
        assert!(selector.iter().all(|(k, v)| template_labels.get(k) == Some(v)), "the selector matches the pods");
    }

    #[test]
    fn a_config_map_never_stored_gets_no_deployment() {
        let mut cm = site("a", "x");
        cm.metadata.uid = None;
        assert!(site_deployment(&cm).is_none());
    }
}

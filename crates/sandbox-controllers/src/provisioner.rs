//! The storage provisioner of a minikube cluster (`k8s.io/minikube-hostpath`) together with the
//! part of upstream's persistent-volume controller that binds: a claim of a class it provisions
//! gets a new volume `pvc-<claim uid>` of the size it asks for, and both turn `Bound`. A claim
//! without a class gets the default class, as upstream's controller assigns it. Deleting a claim
//! whose volume's reclaim policy is `Delete` deletes the volume.

use super::owners::{is_deleting, update_status};
use super::runtime::{Action, Controller, ObjectRef};
use gitops_sandbox_core::cluster::{DeleteOptions, Sandbox, WriteOptions};
use gitops_sandbox_core::errors::ApiError;
use gitops_sandbox_core::events::{EventType, Source};
use gitops_sandbox_core::lifecycle::UpdateScope;
use gitops_sandbox_core::object;
use gitops_sandbox_core::registry::{ResourceId, ResourceType, builtin_type};
use serde_json::{Value, json};

/// The provisioner minikube's default class names.
pub const PROVISIONER: &str = "k8s.io/minikube-hostpath";
const SOURCE: Source = Source { component: "persistentvolume-controller", host: None };
const DEFAULT_CLASS_KEY: &str = "storageclass.kubernetes.io/is-default-class";

/// Provisions and binds volumes for claims.
pub struct Provisioner;

fn claims() -> &'static ResourceType {
    builtin_type("", "persistentvolumeclaims")
}

fn volumes() -> &'static ResourceType {
    builtin_type("", "persistentvolumes")
}

fn classes() -> &'static ResourceType {
    builtin_type("storage.k8s.io", "storageclasses")
}

impl Controller for Provisioner {
    fn name(&self) -> &'static str {
        "storage-provisioner"
    }

    fn primary(&self) -> ResourceId {
        claims().id()
    }

    fn reconcile(&self, sb: &Sandbox, target: &ObjectRef) -> Result<Action, ApiError> {
        let Some(claim) = sb.get(claims(), Some(&target.namespace), &target.name) else {
            release(sb, &target.namespace, &target.name)?;
            return Ok(Action::Done);
        };
        if is_deleting(&claim) || claim["status"]["phase"] == "Bound" {
            return Ok(Action::Done);
        }
        let Some(class_name) = claim["spec"]["storageClassName"].as_str() else {
            return assign_default_class(sb, &claim).map(|()| Action::Done);
        };
        let Some(class) = sb.get(classes(), None, class_name) else { return Ok(Action::Done) };
        if class["provisioner"] != PROVISIONER {
            return Ok(Action::Done);
        }
        let volume = provision(sb, &claim, &class)?;
        bind(sb, &claim, &volume)?;
        Ok(Action::Done)
    }
}

/// Upstream sets a class-less claim's class to the default class once there is one.
fn assign_default_class(sb: &Sandbox, claim: &Value) -> Result<(), ApiError> {
    let (list, _) =
        sb.store().list(&classes().id(), None, None, 0, |c| c["metadata"]["annotations"][DEFAULT_CLASS_KEY] == "true");
    let Some(default) = list.items.first() else { return Ok(()) };
    let name = object::name(default).to_string();
    let result = super::owners::modify_same(sb, claims(), claim, UpdateScope::Main, |next| {
        next["spec"]["storageClassName"] = json!(name);
    });
    match result {
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        other => other,
    }
}

/// The claim's volume, made if it does not exist yet.
fn provision(sb: &Sandbox, claim: &Value, class: &Value) -> Result<Value, ApiError> {
    let name = format!("pvc-{}", object::uid(claim));
    if let Some(existing) = sb.get(volumes(), None, &name) {
        return Ok((*existing).clone());
    }
    let (namespace, claim_name) = (object::namespace(claim), object::name(claim));
    let volume = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "accessModes": claim["spec"]["accessModes"],
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": claim_name,
                         "namespace": namespace, "uid": object::uid(claim)},
            "hostPath": {"path": format!("/tmp/hostpath-provisioner/{namespace}/{claim_name}"), "type": ""},
            "persistentVolumeReclaimPolicy": class["reclaimPolicy"].as_str().unwrap_or("Delete"),
            "storageClassName": object::name(class),
            "volumeMode": claim["spec"]["volumeMode"].as_str().unwrap_or("Filesystem"),
        },
    });
    let created = sb.create(volumes(), None, volume, WriteOptions::default())?;
    let message = format!("Successfully provisioned volume {name} using {PROVISIONER}");
    sb.record(
        Source { component: PROVISIONER, host: None },
        claim,
        EventType::Normal,
        "ProvisioningSucceeded",
        message,
    );
    Ok((*created.object).clone())
}

fn bind(sb: &Sandbox, claim: &Value, volume: &Value) -> Result<(), ApiError> {
    update_status(sb, volumes(), volume, |next| next["status"] = json!({"phase": "Bound"}))?;
    let volume_name = object::name(volume).to_string();
    let bound = super::owners::modify_same(sb, claims(), claim, UpdateScope::Main, |next| {
        next["spec"]["volumeName"] = json!(volume_name);
        let annotations = &mut next["metadata"]["annotations"];
        for (key, value) in [
            ("pv.kubernetes.io/bind-completed", "yes"),
            ("pv.kubernetes.io/bound-by-controller", "yes"),
            ("volume.beta.kubernetes.io/storage-provisioner", PROVISIONER),
            ("volume.kubernetes.io/storage-provisioner", PROVISIONER),
        ] {
            annotations[key] = json!(value);
        }
    });
    match bound {
        Err(e) if e.is_not_found() || e.is_conflict() => return Ok(()),
        other => other?,
    }
    let Some(fresh) = sb.get(claims(), Some(object::namespace(claim)), object::name(claim)) else { return Ok(()) };
    let status =
        json!({"phase": "Bound", "accessModes": volume["spec"]["accessModes"], "capacity": volume["spec"]["capacity"]});
    update_status(sb, claims(), &fresh, |next| next["status"] = status)?;
    sb.record(SOURCE, claim, EventType::Normal, "ProvisioningSucceeded", format!("Bound to volume {volume_name}"));
    Ok(())
}

/// The claim is gone: its provisioned volumes with the `Delete` policy go too; the others are `Released`.
fn release(sb: &Sandbox, namespace: &str, name: &str) -> Result<(), ApiError> {
    let (list, _) = sb.store().list(&volumes().id(), None, None, 0, |v| {
        v["spec"]["claimRef"]["namespace"] == namespace && v["spec"]["claimRef"]["name"] == name
    });
    for volume in list.items {
        if volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete" {
            match sb.delete(volumes(), None, object::name(&volume), &DeleteOptions::default()) {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        } else if volume["status"]["phase"] != "Released" {
            update_status(sb, volumes(), &volume, |next| next["status"] = json!({"phase": "Released"}))?;
        }
    }
    Ok(())
}

//! The four objects each learner's Kubernetes-backed sandbox is made of, all named
//! `sandbox-LEARNER` and labelled with the learner: a Secret with the credentials the workshop made,
//! a PersistentVolumeClaim for the sandbox's data, a Pod running `gitops-lab sandbox serve` on both,
//! and a Service in front of the Pod that the learner's engine reaches by its cluster DNS name.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret, Service};
use serde_json::{Value, json};

/// The label every object made by the workshop carries (`kubectl delete … -l` finds them all).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "gitops-lab-workshop");
/// The label naming the learner an object belongs to.
pub const LEARNER_LABEL: &str = "gitops-lab.dev/learner";
/// The port the sandbox listens on in its Pod, and the Service's port.
pub const PORT: u16 = 6443;
/// Where the Secret is mounted in the Pod.
const CREDENTIALS: &str = "/var/run/gitops-lab/credentials";
/// Each learner's claim. A sandbox's objects take a few MiB, but many storage classes round a claim
/// up to 1 GiB anyway, so asking for less saves nothing.
const STORAGE: &str = "1Gi";

/// What the objects of one learner are made from.
pub struct Spec<'a> {
    /// The learner's id (`learner-7`).
    pub learner: &'a str,
    /// The image with the `gitops-lab` binary as its entrypoint (the workshop's own image).
    pub image: &'a str,
    /// The sandbox's object limit (0: none): a runaway loop of creates meets "exceeded quota"
    /// there as it does in a local sandbox.
    pub max_objects: usize,
}

impl Spec<'_> {
    /// The name of all four objects.
    pub fn name(&self) -> String {
        format!("sandbox-{}", self.learner)
    }

    /// The DNS names the serving certificate must cover, short to fully qualified.
    pub fn dns_names(&self, namespace: &str) -> Vec<String> {
        let service = self.name();
        vec![
            service.clone(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ]
    }

    /// The address the learner's engine connects to.
    pub fn server_url(&self, namespace: &str) -> String {
        format!("https://{}.{namespace}.svc:{PORT}", self.name())
    }

    /// The labels of every object; the Service selects the Pod by the last two.
    fn labels(&self) -> Value {
        json!({
            MANAGED_BY.0: MANAGED_BY.1,
            "app.kubernetes.io/name": "gitops-lab-sandbox",
            "app.kubernetes.io/instance": self.name(),
            LEARNER_LABEL: self.learner,
        })
    }

    fn metadata(&self) -> Value {
        json!({ "name": self.name(), "labels": self.labels() })
    }

    /// The Secret: the CA clients trust, the serving certificate and key, and the admin token.
    pub fn secret(&self, ca: &str, cert: &str, key: &str, token: &str) -> Secret {
        from(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": self.metadata(), "type": "Opaque",
            "stringData": { "ca.crt": ca, "tls.crt": cert, "tls.key": key, "token": token },
        }))
    }

    /// The claim that keeps the sandbox's objects while its Pod is deleted (an idle learner).
    pub fn claim(&self) -> PersistentVolumeClaim {
        from(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": self.metadata(),
            "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": STORAGE } } },
        }))
    }

    /// The Service in front of the Pod.
    pub fn service(&self) -> Service {
        from(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": self.metadata(),
            "spec": {
                "selector": { "app.kubernetes.io/instance": self.name(), LEARNER_LABEL: self.learner },
                "ports": [{ "name": "https", "port": PORT, "targetPort": "https" }],
            },
        }))
    }

    /// The Pod: the image's `gitops-lab sandbox serve` on the claim, with the Secret's credentials.
    pub fn pod(&self) -> Pod {
        let file = |name: &str| format!("{CREDENTIALS}/{name}");
        from(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": self.metadata(),
            "spec": {
                // The sandbox needs no access to the real cluster's API.
                "automountServiceAccountToken": false,
                "securityContext": { "runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532 },
                "containers": [{
                    "name": "sandbox",
                    "image": self.image,
                    "args": [
                        "sandbox", "serve", format!("--listen=0.0.0.0:{PORT}"), "--data-dir=/data",
                        format!("--ca-cert={}", file("ca.crt")), format!("--tls-cert={}", file("tls.crt")),
                        format!("--tls-key={}", file("tls.key")), format!("--token-file={}", file("token")),
                        // Always given, 0 too: the claim keeps a limit from an earlier start.
                        format!("--max-objects={}", self.max_objects),
                    ],
                    "env": [{ "name": "HOME", "value": "/data/home" }],
                    "ports": [{ "name": "https", "containerPort": PORT }],
                    // Ready once it accepts connections: the server binds before it says so.
                    "readinessProbe": { "tcpSocket": { "port": "https" }, "periodSeconds": 2 },
                    // docs/benchmarks.md: an idle sandbox is about 22 MB resident, a learner's
                    // engine and sandbox together about 43 MiB flat out, and 50 such learners
                    // saturate two cores. The request holds an idle sandbox with room; the limit
                    // leaves several times the busiest figure before the kubelet kills it.
                    "resources": {
                        "requests": { "cpu": "50m", "memory": "48Mi" },
                        "limits": { "cpu": "500m", "memory": "256Mi" },
                    },
                    "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } },
                    "volumeMounts": [
                        { "name": "data", "mountPath": "/data" },
                        { "name": "credentials", "mountPath": CREDENTIALS, "readOnly": true },
                    ],
                }],
                "volumes": [
                    { "name": "data", "persistentVolumeClaim": { "claimName": self.name() } },
                    // Readable by the sandbox's group (fsGroup) only.
                    { "name": "credentials", "secret": { "secretName": self.name(), "defaultMode": 0o440 } },
                ],
            },
        }))
    }
}

/// The typed object from its JSON; the JSON above is fixed, so a failure is a bug in this file.
fn from<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("the object templates in kubernetes/objects.rs are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_objects_parse_and_agree_on_names_and_labels() {
        let spec = Spec { learner: "learner-3", image: "example/image:1", max_objects: 40 };
        let pod = spec.pod();
        let service = spec.service();
        let pod_labels = pod.metadata.labels.clone().unwrap();
        for (key, value) in service.spec.unwrap().selector.unwrap() {
            assert_eq!(pod_labels.get(&key), Some(&value), "the Service selects the Pod by {key}");
        }
        let container = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(container.image.as_deref(), Some("example/image:1"));
        assert!(
            container.args.as_ref().unwrap().contains(&"--token-file=/var/run/gitops-lab/credentials/token".into())
        );
        assert!(container.args.as_ref().unwrap().contains(&"--max-objects=40".into()));
        assert_eq!(spec.claim().metadata.name.as_deref(), Some("sandbox-learner-3"));
        assert_eq!(spec.dns_names("ns")[3], "sandbox-learner-3.ns.svc.cluster.local");
        assert_eq!(spec.server_url("ns"), "https://sandbox-learner-3.ns.svc:6443");
    }
}

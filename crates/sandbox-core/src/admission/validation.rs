//! Semantic validation of objects, with upstream's field paths and wording.
//!
//! Every object gets the metadata checks; kinds with their own rules are listed in `CHECKS`.

use super::{claims, ingress, meta, objects, workloads};
use crate::errors::FieldError;
use crate::registry::ResourceType;
use serde_json::Value;

/// A kind's own checks: the object, the stored one on update, and where to put problems.
type Check = fn(&Value, Option<&Value>, &mut Vec<FieldError>);

/// Kinds with rules beyond metadata. Kinds not listed (ServiceAccount, Event, Node, Namespace) get metadata checks
/// only.
const CHECKS: &[(&str, Check)] = &[
    ("Pod", workloads::check_pod),
    ("Deployment", workloads::check_deployment),
    ("ReplicaSet", workloads::check_replica_set),
    ("Job", workloads::check_job),
    ("CronJob", workloads::check_cron_job),
    ("Service", objects::check_service),
    ("ConfigMap", objects::check_config_map),
    ("Secret", objects::check_secret),
    ("Role", objects::check_role),
    ("ClusterRole", objects::check_cluster_role),
    ("RoleBinding", objects::check_role_binding),
    ("ClusterRoleBinding", objects::check_cluster_role_binding),
    ("Ingress", ingress::check_ingress),
    ("PersistentVolumeClaim", claims::check_claim),
    ("CustomResourceDefinition", crate::custom::check_crd),
];

/// Checks an object (and, on update, the stored one it replaces); returns every problem found.
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    meta::check_object_meta(rt, obj, &mut errs);
    if let Some(old) = old {
        meta::check_object_meta_update(obj, old, &mut errs);
    }
    if let Some(custom) = &rt.custom {
        crate::custom::validate(custom, obj, &mut errs);
    } else if let Some((_, check)) = CHECKS.iter().find(|(kind, _)| *kind == rt.kind) {
        check(obj, old, &mut errs);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::apply_defaults;
    use crate::errors::ApiError;
    use crate::registry::Registry;
    use serde_json::json;

    fn rt(kind: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.kind == kind).expect("kind is served")
    }

    #[test]
    fn every_kind_with_checks_is_served() {
        for (kind, _) in CHECKS {
            assert!(Registry::builtin().types().iter().any(|t| t.kind == *kind), "{kind}");
        }
    }

    #[test]
    fn defaulted_golden_objects_are_valid() {
        let dir = crate::crate_dir().join("src/admission/testdata");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("testdata exists").flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(".output.yaml") {
                continue;
            }
            let obj: Value = serde_norway::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("YAML");
            let kind = obj["kind"].as_str().expect("has a kind");
            let errs = validate(rt(kind), &obj, None);
            assert!(errs.is_empty(), "{}: {errs:?}", path.display());
            checked += 1;
        }
        assert!(checked >= 5);
    }

    #[test]
    fn a_job_without_restart_policy_fails_like_upstream() {
        let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi",
            "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}});
        apply_defaults(rt("Job"), &mut job);
        let errs = validate(rt("Job"), &job, None);
        let err = ApiError::invalid(rt("Job"), "pi", &errs);
        assert_eq!(
            err.message,
            "Job.batch \"pi\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported \
                values: \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn several_problems_are_reported_together() {
        let mut deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
            "namespace": "default"},
            "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}}}});
        apply_defaults(rt("Deployment"), &mut deploy);
        let text: Vec<String> = validate(rt("Deployment"), &deploy, None).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.containers[0].image: Required value",
            ]
        );
    }

    #[test]
    fn newer_kinds_and_probes_are_refused_as_upstream_refuses_them() {
        let text = |kind: &str, obj: Value| -> Vec<String> {
            validate(rt(kind), &obj, None).iter().map(ToString::to_string).collect()
        };
        let meta = json!({"name": "x", "namespace": "default"});
        let ingress = json!({"metadata": meta, "spec": {"rules": [{"http": {"paths": [
            {"path": "/", "pathType": "Bogus", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/x", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
        assert_eq!(
            text("Ingress", ingress),
            [
                "spec.rules[0].http.paths[0].pathType: Unsupported value: \"Bogus\": supported values: \"Exact\", \
                 \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[0].http.paths[1].path: Invalid value: \"api\": must be an absolute path",
                "spec.rules[0].http.paths[2].pathType: Required value: pathType must be specified",
            ]
        );
        let claim = json!({"metadata": meta, "spec": {"accessModes": ["ReadWriteSometimes"]}});
        assert_eq!(
            text("PersistentVolumeClaim", claim),
            [
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \
                 \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Required value",
            ]
        );
        let empty = json!({"metadata": meta, "spec": {"resources": {"requests": {"storage": "1Gi"}}}});
        assert_eq!(
            text("PersistentVolumeClaim", empty),
            ["spec.accessModes: Required value: at least 1 access mode is required"]
        );
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [
            {"name": "web", "image": "nginx", "livenessProbe": {"httpGet": {"path": "/", "port": 99999}},
             "readinessProbe": {"tcpSocket": {"port": "not_a_name"}}}]}});
        apply_defaults(rt("Pod"), &mut pod);
        let problems = text("Pod", pod);
        assert_eq!(
            problems[0],
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 99999: must be between 1 and 65535, inclusive"
        );
        assert!(
            problems[1].starts_with("spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: \"not_a_name\"")
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn updates_check_identity_and_kind_rules() {
        let old = json!({"metadata": {"name": "ro", "namespace": "default", "uid": "1"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}});
        let mut new = old.clone();
        new["metadata"]["name"] = json!("rw");
        new["roleRef"]["name"] = json!("b");
        let text: Vec<String> = validate(rt("RoleBinding"), &new, Some(&old)).iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2);
        assert_eq!(text[0], "metadata.name: Invalid value: \"rw\": field is immutable");
        assert!(text[1].ends_with(": cannot change roleRef"));
    }
}

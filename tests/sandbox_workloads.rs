//! Workload controllers seen through the real kubectl: Deployments delegate to ReplicaSets and
//! pods, scale, roll out new revisions, are undone, and take their dependents with them when
//! deleted; every namespace gets the root CA ConfigMap.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{assert_table, get_json};
use gitops_lab_e2e::{Sandbox, eventually, kubectl_available};
use serde_json::Value;

/// Items of a `kubectl get -o json` list that are not being deleted.
fn live(sb: &Sandbox, args: &[&str]) -> Vec<Value> {
    let list = get_json(sb, args);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items.into_iter().filter(|i| i["metadata"]["deletionTimestamp"].is_null()).collect()
}

fn name(obj: &Value) -> String {
    obj["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

fn revision(rs: &Value) -> String {
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap_or_default().to_string()
}

/// Waits until the app has exactly `count` live pods, all controlled by one ReplicaSet; returns it.
fn wait_for_pods(sb: &Sandbox, count: usize) -> String {
    eventually(&format!("{count} pods of app=web"), || {
        let pods = live(sb, &["get", "pods", "-l", "app=web"]);
        let owners: Vec<String> = pods
            .iter()
            .filter_map(|p| {
                p["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true).cloned()
            })
            .filter(|r| r["kind"] == "ReplicaSet")
            .map(|r| r["name"].as_str().unwrap_or_default().to_string())
            .collect();
        let one_owner = owners.len() == count && owners.windows(2).all(|w| w[0] == w[1]);
        (pods.len() == count && one_owner && count > 0).then(|| owners[0].clone())
    })
}

#[test]
fn a_deployment_scales_through_its_replica_set() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    let rs = wait_for_pods(&sb, 1);
    assert!(rs.starts_with("web-"), "{rs}");
    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=3"]);
    assert_eq!(wait_for_pods(&sb, 3), rs, "scaling keeps the same ReplicaSet");
    let sets = get_json(&sb, &["get", "rs", "-l", "app=web"]);
    assert_eq!(sets["items"].as_array().map(Vec::len), Some(1));
    let set = &sets["items"][0];
    assert_eq!(set["spec"]["replicas"], 3);
    assert_eq!(set["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    assert_eq!(set["metadata"]["ownerReferences"][0]["name"], "web");
    let hash = set["metadata"]["labels"]["pod-template-hash"].as_str().expect("a pod-template-hash label");
    assert_eq!(rs, format!("web-{hash}"));
    let table = sb.kubectl_ok(&["get", "rs"]);
    assert!(
        table.lines().next().is_some_and(|h| h.split_whitespace().eq(["NAME", "DESIRED", "CURRENT", "READY", "AGE"])),
        "{table}"
    );
    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=1"]);
    assert_eq!(wait_for_pods(&sb, 1), rs);
    let events = sb.kubectl_ok(&["get", "events", "--field-selector", "involvedObject.kind=Deployment"]);
    assert!(events.contains(&format!("Scaled up replica set {rs} from 1 to 3")), "{events}");
    assert!(events.contains(&format!("Scaled down replica set {rs} from 3 to 1")), "{events}");
}

#[test]
fn rollout_restart_makes_a_second_replica_set_with_revision_two() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    let first = wait_for_pods(&sb, 1);
    let out = sb.kubectl_ok(&["rollout", "restart", "deployment/web"]);
    assert_eq!(out, "deployment.apps/web restarted\n");
    let sets = eventually("a second ReplicaSet", || {
        let sets = live(&sb, &["get", "rs", "-l", "app=web"]);
        (sets.len() == 2).then_some(sets)
    });
    let second = sets.iter().find(|rs| name(rs) != first).expect("a new ReplicaSet");
    assert_eq!(revision(second), "2");
    let restarted = &second["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(restarted.is_string(), "{second:#}");
    let d = get_json(&sb, &["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
}

/// `kubectl rollout history deployment/web` without its title line.
fn history(sb: &Sandbox) -> String {
    let out = sb.kubectl_ok(&["rollout", "history", "deployment/web"]);
    let (title, table) = out.split_once('\n').unwrap_or_default();
    assert_eq!(title.trim_end(), "deployment.apps/web");
    table.to_string()
}

#[test]
fn rollout_history_and_undo_follow_the_replica_set_revisions() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // No pods are needed: history lives in the ReplicaSets' annotations.
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx:1.7.9", "--replicas=0"]);
    eventually("revision 1", || (live(&sb, &["get", "rs", "-l", "app=web"]).len() == 1).then_some(()));
    sb.kubectl_ok(&["set", "image", "deployment/web", "nginx=nginx:1.11"]);
    eventually("revision 2", || (live(&sb, &["get", "rs", "-l", "app=web"]).len() == 2).then_some(()));
    assert_table(&history(&sb), "REVISION CHANGE-CAUSE", &["1 <none>", "2 <none>"]);
    let undone = sb.kubectl_ok(&["rollout", "undo", "deployment/web"]);
    assert_eq!(undone, "deployment.apps/web rolled back\n");
    let sets = eventually("the old ReplicaSet at revision 3", || {
        let sets = live(&sb, &["get", "rs", "-l", "app=web"]);
        sets.iter().any(|rs| revision(rs) == "3").then_some(sets)
    });
    assert_eq!(sets.len(), 2, "undo reuses the first ReplicaSet");
    let reused = sets.iter().find(|rs| revision(rs) == "3").expect("revision 3");
    assert_eq!(reused["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.7.9");
    assert_table(&history(&sb), "REVISION CHANGE-CAUSE", &["2 <none>", "3 <none>"]);
}

#[test]
fn deleting_a_deployment_removes_its_replica_sets_and_pods() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    wait_for_pods(&sb, 2);
    assert_eq!(sb.kubectl_ok(&["delete", "deployment", "web"]), "deployment.apps \"web\" deleted\n");
    eventually("the ReplicaSets and pods to go", || {
        let rest = get_json(&sb, &["get", "rs,pods", "-l", "app=web"]);
        rest["items"].as_array().is_some_and(Vec::is_empty).then_some(())
    });
}

#[test]
fn orphaned_replica_sets_outlive_their_deployment() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    let rs = wait_for_pods(&sb, 1);
    sb.kubectl_ok(&["delete", "deployment", "web", "--cascade=orphan"]);
    let kept = get_json(&sb, &["get", "rs", &rs]);
    assert!(kept["metadata"]["ownerReferences"].is_null(), "{kept:#}");
    assert_eq!(wait_for_pods(&sb, 1), rs, "the pod stays with its ReplicaSet");
}

#[test]
fn foreground_deletion_returns_once_the_dependents_are_gone() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    wait_for_pods(&sb, 2);
    sb.kubectl_ok(&["delete", "deployment", "web", "--cascade=foreground", "--timeout=60s"]);
    let rest = get_json(&sb, &["get", "rs,pods", "-l", "app=web"]);
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(0), "{rest:#}");
}

#[test]
fn a_recreated_deployment_adopts_its_orphaned_replica_set() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    let rs = wait_for_pods(&sb, 1);
    sb.kubectl_ok(&["delete", "deployment", "web", "--cascade=orphan"]);
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    let owner = eventually("the ReplicaSet to be adopted", || {
        let kept = get_json(&sb, &["get", "rs", &rs]);
        kept["metadata"]["ownerReferences"][0]["uid"].as_str().map(str::to_string)
    });
    let d = get_json(&sb, &["get", "deployment", "web"]);
    assert_eq!(d["metadata"]["uid"].as_str(), Some(owner.as_str()));
    assert_eq!(live(&sb, &["get", "rs", "-l", "app=web"]).len(), 1, "no second ReplicaSet for the same template");
}

#[test]
fn every_new_namespace_gets_the_root_ca_and_a_default_service_account() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "namespace", "team"]);
    let cm = eventually("kube-root-ca.crt in team", || {
        let out = sb.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "team", "-o", "json"]);
        out.status.success().then(|| serde_json::from_slice::<Value>(&out.stdout).expect("JSON"))
    });
    assert!(cm["data"]["ca.crt"].as_str().is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")));
    eventually("the default ServiceAccount in team", || {
        sb.kubectl(&["get", "sa", "default", "-n", "team"]).status.success().then_some(())
    });
    sb.kubectl_ok(&["delete", "cm", "kube-root-ca.crt", "-n", "team"]);
    eventually("kube-root-ca.crt to come back", || {
        sb.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", "team"]).status.success().then_some(())
    });
}

#[test]
fn rollout_status_finishes_once_the_pods_are_ready() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=3"]);
    let out = sb.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    assert_table(
        &sb.kubectl_ok(&["get", "deployment", "web"]),
        "NAME READY UP-TO-DATE AVAILABLE AGE",
        &["web 3/3 3 3 <age>"],
    );
    sb.kubectl_ok(&["rollout", "restart", "deployment/web"]);
    let out = sb.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert!(out.ends_with("deployment \"web\" successfully rolled out\n"), "{out}");
    let sets = live(&sb, &["get", "rs", "-l", "app=web"]);
    let sizes: Vec<(String, i64)> =
        sets.iter().map(|rs| (revision(rs), rs["spec"]["replicas"].as_i64().unwrap_or(-1))).collect();
    assert!(sizes.contains(&("1".into(), 0)) && sizes.contains(&("2".into(), 3)), "{sizes:?}");
}

//! The controllers of the kinds after chapter 2 seen through the real kubectl: a StatefulSet's
//! ordered pods and claims and its rolling update, a DaemonSet's pod on the node, a
//! ReplicationController, and a HorizontalPodAutoscaler scaling a Deployment from simulated CPU
//! (and taking the size back after a `kubectl scale`, the chapter's pitfall).

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::{Sandbox, eventually, eventually_within, kubectl_available};
use serde_json::Value;
use std::time::Duration;

/// `kubectl apply -f -` with `manifest` on stdin; requires success.
fn apply(sb: &Sandbox, manifest: &str) {
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], manifest);
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn images(sb: &Sandbox, selector: &str) -> Vec<String> {
    let pods = get_json(sb, &["get", "pods", "-l", selector]);
    pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str().map(str::to_string))
        .collect()
}

const STATEFULSET: &str = "
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: nginx}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
";

#[test]
fn a_statefulset_rolls_out_ordered_pods_with_claims_and_scales_down_from_the_top() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    apply(&sb, STATEFULSET);
    // The defaulted `partition: 0` makes kubectl 1.32 report a partitioned rollout, as on a real cluster.
    let done = sb.kubectl_ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(done.contains("partitioned roll out complete: 3 new pods have been updated..."), "{done}");
    let table = sb.kubectl_ok(&["get", "sts", "db"]);
    assert!(table.lines().nth(1).is_some_and(|l| l.split_whitespace().take(2).eq(["db", "3/3"])), "{table}");
    assert_eq!(names(&get_json(&sb, &["get", "pods", "-l", "app=db"])), ["db-0", "db-1", "db-2"]);
    let claims = get_json(&sb, &["get", "pvc"]);
    assert_eq!(names(&claims), ["data-db-0", "data-db-1", "data-db-2"]);
    eventually("the claims bound", || {
        let claims = get_json(&sb, &["get", "pvc"]);
        claims["items"].as_array()?.iter().all(|c| c["status"]["phase"] == "Bound").then_some(())
    });
    // db-1 was created only after db-0 was ready: its creation event comes later.
    let events = sb.kubectl_ok(&[
        "get",
        "events",
        "--sort-by=.metadata.resourceVersion",
        "--field-selector",
        "involvedObject.kind=StatefulSet",
        "-o",
        "custom-columns=MSG:.message",
    ]);
    let position = |what: &str| events.find(what).unwrap_or_else(|| panic!("{what} in {events}"));
    assert!(
        position("create Pod db-0 in StatefulSet db successful")
            < position("create Pod db-1 in StatefulSet db successful")
    );

    sb.kubectl_ok(&["set", "image", "sts/db", "db=nginx:1.27"]);
    let done = sb.kubectl_ok(&["rollout", "status", "sts/db", "--timeout=60s"]);
    assert!(done.contains("partitioned roll out complete: 3 new pods have been updated..."), "{done}");
    eventually("every pod updated", || (images(&sb, "app=db") == ["nginx:1.27"; 3]).then_some(()));
    let status = get_json(&sb, &["get", "sts", "db"])["status"].clone();
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    assert_eq!(status["updatedReplicas"], 3);

    sb.kubectl_ok(&["scale", "sts/db", "--replicas=1"]);
    eventually("db scaled to one pod", || {
        (names(&get_json(&sb, &["get", "pods", "-l", "app=db"])) == ["db-0"]).then_some(())
    });
    assert_eq!(names(&get_json(&sb, &["get", "pvc"])).len(), 3, "claims are kept on scale-down");
}

#[test]
fn a_daemonset_runs_one_pod_on_the_node_and_rolls_it() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    apply(
        &sb,
        "
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: nginx}]}
",
    );
    let done = sb.kubectl_ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(done.contains("daemon set \"agent\" successfully rolled out"), "{done}");
    let table = sb.kubectl_ok(&["get", "ds", "agent"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap_or_default().split_whitespace().collect();
    assert_eq!(row[..6], ["agent", "1", "1", "1", "1", "1"], "{table}");
    let pods = get_json(&sb, &["get", "pods", "-l", "app=agent"]);
    let nodes = get_json(&sb, &["get", "nodes"]);
    assert_eq!(pods["items"][0]["spec"]["nodeName"], nodes["items"][0]["metadata"]["name"], "on the one node");
    sb.kubectl_ok(&["set", "image", "ds/agent", "agent=nginx:1.27"]);
    let done = sb.kubectl_ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    assert!(done.contains("successfully rolled out"), "{done}");
    eventually("one updated daemon pod", || (images(&sb, "app=agent") == ["nginx:1.27"]).then_some(()));
}

#[test]
fn a_replication_controller_keeps_its_pods() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    apply(
        &sb,
        "
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
",
    );
    eventually("2 ready pods of the rc", || {
        let table = sb.kubectl_ok(&["get", "rc", "web", "--no-headers"]);
        table.split_whitespace().take(4).eq(["web", "2", "2", "2"]).then_some(())
    });
    sb.kubectl_ok(&["scale", "rc/web", "--replicas=1"]);
    eventually("one pod left", || (names(&get_json(&sb, &["get", "pods", "-l", "app=web"])).len() == 1).then_some(()));
}

#[test]
fn an_autoscaler_scales_a_deployment_from_its_cpu_and_takes_back_a_manual_scale() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    sb.kubectl_ok(&["set", "resources", "deployment", "web", "--requests=cpu=100m"]);
    // The two pods share 160m: 80% of their requests.
    sb.kubectl_ok(&["annotate", "deployment", "web", "gitops-lab.dev/cpu-load=160m"]);
    sb.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    sb.kubectl_ok(&["autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5"]);
    let table = eventually("the autoscaler's first measure", || {
        let table = sb.kubectl_ok(&["get", "hpa", "web"]);
        table.contains("cpu: 80%/50%").then_some(table)
    });
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"], "{table}");
    let replicas = |sb: &Sandbox| get_json(sb, &["get", "deployment", "web"])["spec"]["replicas"].as_i64();
    eventually("4 replicas", || (replicas(&sb) == Some(4)).then_some(()));
    let events = sb.kubectl_ok(&["get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler"]);
    assert!(
        events.contains("New size: 4; reason: cpu resource utilization (percentage of request) above target"),
        "{events}"
    );
    // A manual scale (as `kubectl apply` of a manifest with `replicas: 2` would do) is undone at the
    // autoscaler's next sync.
    sb.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    sb.kubectl_ok(&["scale", "deployment", "web", "--replicas=2"]);
    eventually_within("the autoscaler to take the size back", Duration::from_secs(45), || {
        (replicas(&sb) == Some(4)).then_some(())
    });
    let hpa = get_json(&sb, &["get", "hpa", "web"]);
    let conditions: Vec<&str> =
        hpa["status"]["conditions"].as_array().into_iter().flatten().filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(conditions, ["AbleToScale", "ScalingActive", "ScalingLimited"]);
}

/// The REVISION column of `kubectl rollout history`, as numbers.
fn history(sb: &Sandbox, what: &str) -> Vec<u32> {
    let out = sb.kubectl_ok(&["rollout", "history", what]);
    out.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect()
}

#[test]
fn statefulsets_and_daemonsets_keep_controller_revisions_for_rollout_history_and_undo() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    for (kind, extra) in [("StatefulSet", "  serviceName: web\n  replicas: 2\n"), ("DaemonSet", "")] {
        let name = kind.to_lowercase();
        let manifest = format!(
            "apiVersion: apps/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n{extra}  revisionHistoryLimit: 2\n  \
             selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    \
             spec: {{containers: [{{name: web, image: \"nginx:1.25\"}}]}}\n"
        );
        apply(&sb, &manifest);
        let set = format!("{name}/{name}");
        let selector = format!("app={name}");
        eventually(&format!("{kind} running nginx:1.25"), || {
            let now = images(&sb, &selector);
            (!now.is_empty() && now.iter().all(|i| i == "nginx:1.25")).then_some(())
        });
        sb.kubectl_ok(&["set", "image", &set, "web=nginx:1.26"]);
        eventually(&format!("{kind} history of two"), || (history(&sb, &set) == [1, 2]).then_some(()));
        let table = sb.kubectl_ok(&["get", "controllerrevisions", "-l", &selector, "--no-headers"]);
        assert!(table.contains(&format!("{name}.apps/{name}")), "the Controller column: {table}");
        let first = sb.kubectl_ok(&["rollout", "history", &set, "--revision=1"]);
        assert!(first.contains("nginx:1.25"), "{first}");

        // Undo goes back to revision 1's template, which becomes revision 3.
        sb.kubectl_ok(&["rollout", "undo", &set]);
        eventually(&format!("{kind} renumbered"), || (history(&sb, &set) == [2, 3]).then_some(()));
        let image = sb.kubectl_ok(&["get", &set, "-o", "jsonpath={.spec.template.spec.containers[0].image}"]);
        assert_eq!(image, "nginx:1.25");
        eventually(&format!("{kind} pods back on nginx:1.25"), || {
            let now = images(&sb, &selector);
            (!now.is_empty() && now.iter().all(|i| i == "nginx:1.25")).then_some(())
        });

        // Beyond revisionHistoryLimit the oldest go (the current one always stays).
        for tag in ["1.27", "1.28"] {
            sb.kubectl_ok(&["set", "image", &set, &format!("web=nginx:{tag}")]);
        }
        eventually(&format!("{kind} history trimmed"), || (history(&sb, &set) == [3, 4, 5]).then_some(()));
    }
}

//! The engine's live graph against a real sandbox: a 3-replica Deployment through a rollout (deltas
//! in order rebuild the snapshot, replaced pods leave, health goes Progressing → Healthy), a
//! Service's SelectedBy links, a change of namespaces (GraphReset), the events feed and YAML.

#[path = "engine_live_common.rs"]
mod common;

use common::{Lab, Model, object};
use gitops_lab::protocol::{Command, EdgeKind, Event, Health, Reply};
use std::collections::BTreeSet;

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          ports: [{containerPort: 80}]
"#;

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"#;

/// The model once it shows the Deployment with `ready` pods all Running and none of `old`.
fn settled(model: &Model, old: &BTreeSet<String>) -> bool {
    let deployment_ok =
        model.find("Deployment", "web").is_some_and(|d| d.health == Health::Healthy && d.status == "3/3 ready");
    let pods = model.of_kind("Pod");
    deployment_ok && pods.len() == 3 && pods.iter().all(|p| p.status == "Running" && !old.contains(&p.id))
}

// One scenario told in order (longer than ~60 lines): each step builds on the state the last one left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_arrives_as_consecutive_deltas_that_rebuild_the_snapshot() {
    let lab = Lab::start().await;
    let start = lab.snapshot().await;
    lab.apply(WEB);
    let before = lab
        .recorder
        .wait_for("the Deployment with 3 running pods", |events| {
            let mut model = Model::from_snapshot(&start);
            model.apply_all(events);
            settled(&model, &BTreeSet::new()).then_some(model)
        })
        .await;
    let old_pods: BTreeSet<String> = before.of_kind("Pod").iter().map(|p| p.id.clone()).collect();
    let deployment = before.find("Deployment", "web").unwrap().id.clone();
    for pod in before.of_kind("Pod") {
        let owner = pod.links.iter().find(|l| l.kind == EdgeKind::Owner).expect("a pod links to its ReplicaSet");
        let replica_set = &before.nodes[&owner.to];
        assert_eq!(replica_set.object.kind, "ReplicaSet");
        assert!(replica_set.links.iter().any(|l| l.to == deployment && l.kind == EdgeKind::Owner));
    }

    let mark = lab.recorder.mark();
    lab.sandbox.kubectl_ok(&["rollout", "restart", "deployment/web"]);
    let after = lab
        .recorder
        .wait_for("the rollout to finish with 3 new pods", |events| {
            let mut model = Model::from_snapshot(&start);
            model.apply_all(events);
            // The old ReplicaSet's status reaches 0 ready a moment after its last pod has gone.
            let statuses_settled = model.of_kind("ReplicaSet").iter().all(|r| {
                let (ready, desired) = r.status.trim_end_matches(" ready").split_once('/').unwrap_or(("", "?"));
                ready == desired
            });
            (settled(&model, &old_pods) && model.of_kind("ReplicaSet").len() == 2 && statuses_settled).then_some(model)
        })
        .await;

    for id in &old_pods {
        assert!(!after.nodes.contains_key(id), "replaced pod {id} left the graph");
    }
    let replica_sets = after.of_kind("ReplicaSet");
    let statuses: BTreeSet<&str> = replica_sets.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, BTreeSet::from(["0/0 ready", "3/3 ready"]), "the old revision is kept at zero");

    // The Deployment's colour through the rollout: Progressing, then Healthy at the end.
    let healths: Vec<Health> = lab.recorder.all()[mark..]
        .iter()
        .filter_map(|e| match e {
            Event::Graph(delta) => delta.upserts.iter().find(|n| n.id == deployment).map(|n| n.health),
            _ => None,
        })
        .collect();
    let progressing = healths.iter().position(|h| *h == Health::Progressing).expect("Progressing during the rollout");
    assert_eq!(healths.last(), Some(&Health::Healthy));
    assert!(healths[progressing..].contains(&Health::Healthy), "{healths:?}");

    // Every delta, applied in order to the first snapshot, gives exactly the engine's snapshot.
    let snapshot = lab.snapshot().await;
    let rebuilt = lab
        .recorder
        .wait_for("the deltas up to the snapshot's revision", |events| {
            let mut model = Model::from_snapshot(&start);
            model.apply_all(events);
            (model.revision >= snapshot.revision).then_some(model)
        })
        .await;
    assert_eq!(rebuilt.revision, snapshot.revision);
    assert_eq!(rebuilt.nodes.len(), snapshot.nodes.len());
    for node in &snapshot.nodes {
        assert_eq!(rebuilt.nodes.get(&node.id), Some(node), "node {} differs", node.object.name);
    }
    assert!(rebuilt.deltas >= 10, "the rollout came as many small deltas, not snapshots ({})", rebuilt.deltas);
    let notices: Vec<String> = lab
        .recorder
        .all()
        .iter()
        .filter_map(|e| match e {
            Event::Notice { message, .. } => Some(message.en.clone()),
            Event::GraphReset(s) => Some(format!("reset at {}", s.revision)),
            _ => None,
        })
        .collect();
    assert_eq!(rebuilt.resets, 0, "no reset while the connection held: {notices:?} (start {})", start.revision);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_links_the_pods_it_selects_and_counts_them() {
    let lab = Lab::start().await;
    let start = lab.snapshot().await;
    lab.apply(WEB);
    lab.apply(SERVICE);
    lab.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: loner, labels: {app: other}}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, '3600']}]\n");
    let found = lab
        .recorder
        .wait_for("the Service selecting 3 pods", |events| {
            let mut model = Model::from_snapshot(&start);
            model.apply_all(events);
            let service = model.find("Service", "web")?;
            (service.status == "ClusterIP, 3 pod(s)" && model.of_kind("Pod").len() == 4).then(|| service.id.clone())
        })
        .await;
    let snapshot = lab.snapshot().await;
    let model = Model::from_snapshot(&snapshot);
    for pod in model.of_kind("Pod") {
        let selected = pod.links.iter().any(|l| l.to == found && l.kind == EdgeKind::SelectedBy);
        assert_eq!(selected, pod.object.name != "loner", "{}: {:?}", pod.object.name, pod.links);
    }
    let service = model.find("Service", "web").unwrap();
    assert_eq!(service.health, Health::Unknown);
    assert!(service.summary.zh.contains("3 个 Pod"), "{}", service.summary.zh);

    // A selector that matches nothing is flagged.
    lab.sandbox.kubectl_ok(&["patch", "service", "web", "-p", r#"{"spec":{"selector":{"app":"wbe"}}}"#]);
    lab.recorder
        .wait_for("the Service flagged as selecting nothing", |events| {
            let mut m = Model::from_snapshot(&snapshot);
            m.apply_all(events);
            let service = m.find("Service", "web")?;
            let unlinked = m.of_kind("Pod").iter().all(|p| p.links.iter().all(|l| l.kind != EdgeKind::SelectedBy));
            (service.health == Health::Degraded && unlinked).then_some(())
        })
        .await;
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_another_namespace_resets_the_graph_with_its_objects() {
    let lab = Lab::start().await;
    lab.sandbox.kubectl_ok(&["create", "namespace", "team"]);
    lab.sandbox.kubectl_ok(&["create", "configmap", "settings", "-n", "team", "--from-literal=a=1"]);
    let mark = lab.recorder.mark();
    assert_eq!(lab.ok(Command::WatchNamespaces { namespaces: vec!["team".into()] }).await, Reply::Done);
    let reset = lab
        .recorder
        .wait_for("a reset with both namespaces", |events| {
            events[mark..].iter().find_map(|e| match e {
                Event::GraphReset(s) if s.namespaces == ["default", "team"] => Some(s.clone()),
                _ => None,
            })
        })
        .await;
    let settings = reset.nodes.iter().find(|n| n.object.name == "settings").expect("the ConfigMap of team");
    assert_eq!(settings.object.namespace.as_deref(), Some("team"));
    assert_eq!(settings.status, "1 key(s)");

    let error = lab.send(Command::WatchNamespaces { namespaces: vec!["Team_1".into()] }).await.unwrap_err();
    assert_eq!(error.code, "bad-namespace");
    assert!(error.message.en.contains("Team_1") && !error.message.zh.is_empty());
    assert_eq!(lab.snapshot().await.namespaces, ["default", "team"], "a bad name changes nothing");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_feed_and_yaml_show_what_the_cluster_did() {
    let lab = Lab::start().await;
    lab.apply(WEB);
    let event = lab
        .recorder
        .wait_for("a Kubernetes Event about a pod", |events| {
            events.iter().find_map(|e| match e {
                Event::KubeEvent(view) if view.object.kind == "Pod" && view.reason == "Scheduled" => Some(view.clone()),
                _ => None,
            })
        })
        .await;
    assert!(event.message.contains("sandbox"), "{}", event.message);
    let Reply::Events(recent) = lab.ok(Command::Events).await else { panic!("events") };
    assert!(recent.iter().any(|e| e.reason == "ScalingReplicaSet"), "{recent:?}");
    assert!(recent.windows(2).all(|w| w[0].time <= w[1].time), "oldest first");

    let Reply::Yaml(yaml) = lab.ok(Command::GetYaml { object: object("apps/v1", "Deployment", "web") }).await else {
        panic!("yaml")
    };
    assert!(yaml.contains("kind: Deployment") && yaml.contains("replicas: 3"), "{yaml}");
    assert!(!yaml.contains("managedFields"), "{yaml}");
    let missing = lab.send(Command::GetYaml { object: object("apps/v1", "Deployment", "nope") }).await.unwrap_err();
    assert_eq!(missing.code, "not-found");
    let unknown = lab.send(Command::GetYaml { object: object("example.com/v1", "Widget", "w") }).await.unwrap_err();
    assert_eq!(unknown.code, "unknown-kind");
    lab.stop().await;
}

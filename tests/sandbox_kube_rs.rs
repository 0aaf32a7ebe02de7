//! kube-rs against an in-process sandbox over real HTTPS: typed CRUD, subresources, paging, dry runs,
//! watches, conflicts and refused input. Each test serves its own sandbox on a free port.

#![forbid(unsafe_code)]

use futures::{Stream, StreamExt};
use gitops_sandbox::server::InProcess;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, ListParams, ObjectList, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A sandbox served in this process, and a kube client built from the kubeconfig it wrote.
struct Cluster {
    client: Client,
    server: InProcess,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Self {
        Self::open(tempfile::tempdir().expect("a temporary directory")).await
    }

    /// Serves `dir/data` on a free loopback port, the way the CLI does.
    async fn open(dir: tempfile::TempDir) -> Self {
        let kubeconfig = dir.path().join("kubeconfig");
        let server = InProcess::start(&dir.path().join("data"), &kubeconfig).await.expect("the sandbox serves");
        let client = client_for(&kubeconfig).await;
        Self { client, server, dir }
    }

    /// Stops serving, waits until the store is released, and serves the same data directory again.
    async fn restart(self) -> Self {
        let Self { client, server, dir } = self;
        drop(client);
        server.stop().await.expect("the server stops cleanly and releases its store");
        Self::open(dir).await
    }

    fn config_maps(&self, namespace: &str) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn namespace(&self, name: &str) {
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace");
        Api::<Namespace>::all(self.client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .expect("namespace created");
    }
}

async fn client_for(kubeconfig: &Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    Client::try_from(config).expect("a client")
}

/// Every config map a test makes carries `suite=kube-rs`, which tells it from the ones the sandbox
/// makes itself (the CA bundle `kube-root-ca.crt` in each namespace).
fn config_map(name: &str, mut labels: Value, data: Value) -> ConfigMap {
    labels["suite"] = json!("kube-rs");
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": data})).expect("a config map")
}

const OURS: &str = "suite=kube-rs";

/// Names and resourceVersions of this suite's config maps in a namespace: equal snapshots mean nothing
/// of ours was written in between (the store's own resourceVersion also moves for controllers' writes).
async fn snapshot(api: &Api<ConfigMap>) -> Vec<(String, u64)> {
    let list = api.list(&ListParams::default().labels(OURS)).await.expect("list");
    list.items.iter().map(|cm| (cm.name_any(), rv(cm))).collect()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }))
    .expect("a deployment")
}

fn data(cm: &ConfigMap, key: &str) -> Option<String> {
    cm.data.as_ref()?.get(key).cloned()
}

fn names<K: ResourceExt + Clone>(list: &ObjectList<K>) -> Vec<String> {
    list.items.iter().map(ResourceExt::name_any).collect()
}

fn number(rv: Option<&str>) -> u64 {
    rv.and_then(|rv| rv.parse().ok()).unwrap_or_else(|| panic!("a numeric resourceVersion, not {rv:?}"))
}

fn rv<K: ResourceExt>(obj: &K) -> u64 {
    number(obj.resource_version().as_deref())
}

/// The Status of a refused request; any other failure fails the test.
fn status(err: kube::Error) -> Box<kube::core::Status> {
    match err {
        kube::Error::Api(status) => status,
        other => panic!("expected a Status from the server, got {other}"),
    }
}

async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is still open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_maps_are_created_read_listed_replaced_patched_and_deleted() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    let pp = PostParams::default();
    for (name, tier) in [("alpha", "web"), ("beta", "web"), ("gamma", "db")] {
        let created = api
            .create(&pp, &config_map(name, json!({"app": "shop", "tier": tier}), json!({"k": name})))
            .await
            .expect("create");
        assert_eq!(created.name_any(), name);
        assert!(created.uid().is_some() && created.creation_timestamp().is_some(), "server-owned metadata is set");
    }
    let beta = api.get("beta").await.expect("get");
    assert_eq!(data(&beta, "k").as_deref(), Some("beta"));
    assert_eq!(names(&api.list(&ListParams::default().labels("tier=web")).await.expect("list")), ["alpha", "beta"]);
    assert_eq!(
        names(&api.list(&ListParams::default().labels("app=shop,tier notin (web)")).await.expect("list")),
        ["gamma"]
    );
    assert_eq!(names(&api.list(&ListParams::default().fields("metadata.name=gamma")).await.expect("list")), ["gamma"]);
    let both = ListParams::default().labels("tier=web").fields("metadata.name=gamma");
    assert!(api.list(&both).await.expect("list").items.is_empty(), "label and field selectors both apply");

    let mut changed = beta.clone();
    changed.data = Some([("k".to_string(), "replaced".to_string())].into());
    let replaced = api.replace("beta", &pp, &changed).await.expect("replace");
    assert_eq!(data(&replaced, "k").as_deref(), Some("replaced"));
    assert!(rv(&replaced) > rv(&beta), "a replace moves the resourceVersion forward");

    let patch = PatchParams::default();
    let merged =
        api.patch("beta", &patch, &Patch::Merge(json!({"data": {"merge": "yes"}}))).await.expect("merge patch");
    assert_eq!((data(&merged, "k").as_deref(), data(&merged, "merge").as_deref()), (Some("replaced"), Some("yes")));
    let strategic =
        Patch::Strategic(json!({"metadata": {"labels": {"patched": "strategic"}}, "data": {"merge": null}}));
    let strategic = api.patch("beta", &patch, &strategic).await.expect("strategic patch");
    assert_eq!(strategic.labels().get("patched").map(String::as_str), Some("strategic"));
    assert_eq!(strategic.labels().get("tier").map(String::as_str), Some("web"), "other labels are kept");
    assert_eq!(data(&strategic, "merge"), None, "null removes a key");
    let ops = json!([{"op": "test", "path": "/data/k", "value": "replaced"}, {"op": "add", "path": "/data/json",
        "value": "added"}]);
    let json_patched = api
        .patch("beta", &patch, &Patch::<()>::Json(serde_json::from_value(ops).expect("JSON patch operations")))
        .await
        .expect("JSON patch");
    assert_eq!(data(&json_patched, "json").as_deref(), Some("added"));
    assert_eq!(api.get("beta").await.expect("get"), json_patched, "the stored object is the one answered");

    api.delete("alpha", &DeleteParams::default()).await.expect("delete");
    assert_eq!(status(api.get("alpha").await.expect_err("alpha is gone")).code, 404);
    api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=shop"))
        .await
        .expect("delete collection");
    assert!(api.list(&ListParams::default().labels("app=shop")).await.expect("list").items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_scales_through_its_scale_subresource_and_merges_containers_by_name() {
    let cluster = Cluster::start().await;
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let created = api.create(&PostParams::default(), &deployment("web", 2)).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    let scale = api.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(scale.status.map(|s| s.selector), Some(Some("app=web".to_string())));
    // The deployment controller writes too (revision annotation, status), so compare with a fresh read.
    let before = api.get("web").await.expect("get");
    let scaled = api
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 5}})))
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(5));
    let after = api.get("web").await.expect("get");
    assert_eq!(after.spec.as_ref().and_then(|s| s.replicas), Some(5));
    assert!(after.metadata.generation > before.metadata.generation, "a spec change bumps the generation");

    let sidecar =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.36"}]}}}});
    let merged = api.patch("web", &PatchParams::default(), &Patch::Strategic(sidecar)).await.expect("strategic patch");
    let containers: Vec<String> = merged
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    // Upstream puts the patch's new items before the server's (see the kubectl patch task docs).
    assert_eq!(containers, ["sidecar", "web"]);
}

/// A Service: it has a status subresource and no controller writing it, so status writes are ours alone.
fn service(name: &str) -> Service {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}),
    )
    .expect("a service")
}

fn ingress_ips(svc: &Service) -> Vec<String> {
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default();
    ingress.into_iter().filter_map(|i| i.ip).collect()
}

fn ports(svc: &Service) -> Vec<i32> {
    svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default().into_iter().map(|p| p.port).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_written_only_through_the_status_subresource() {
    let cluster = Cluster::start().await;
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let pp = PostParams::default();
    let created = api.create(&pp, &service("web")).await.expect("create");

    // A status write changes status only, even when its body carries another spec.
    let mut body = created.clone();
    body.status =
        serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}})).expect("a status");
    body.spec.as_mut().expect("a spec").ports = serde_json::from_value(json!([{"port": 8080}])).expect("ports");
    let with_status = api.replace_status("web", &pp, &body).await.expect("replace status");
    assert_eq!(ingress_ips(&with_status), ["192.0.2.10"]);
    assert_eq!(ports(&with_status), [80], "a status write leaves the spec alone");
    let patch = Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.20"}]}}}));
    let patched = api.patch_status("web", &PatchParams::default(), &patch).await.expect("patch status");
    assert_eq!(ingress_ips(&patched), ["192.0.2.20"]);

    // Writes to the main resource keep the stored status, whatever their body says.
    let main = Patch::Strategic(json!({"metadata": {"labels": {"tier": "edge"}},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}}));
    let relabelled = api.patch("web", &PatchParams::default(), &main).await.expect("patch");
    assert_eq!(relabelled.labels().get("tier").map(String::as_str), Some("edge"));
    assert_eq!(ingress_ips(&relabelled), ["192.0.2.20"]);
    let mut replaced = relabelled.clone();
    replaced.status = None;
    let replaced = api.replace("web", &pp, &replaced).await.expect("replace");
    assert_eq!(ingress_ips(&replaced), ["192.0.2.20"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_listed_by_selectors_and_take_their_objects_when_deleted() {
    let cluster = Cluster::start().await;
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    let pp = PostParams::default();
    for (name, env) in [("team-a", "dev"), ("team-b", "prod")] {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"env": env}}})).expect("a namespace");
        namespaces.create(&pp, &ns).await.expect("create namespace");
    }
    assert_eq!(names(&namespaces.list(&ListParams::default().labels("env=dev")).await.expect("list")), ["team-a"]);
    assert_eq!(
        names(&namespaces.list(&ListParams::default().fields("metadata.name=team-b")).await.expect("list")),
        ["team-b"]
    );
    let all = names(&namespaces.list(&ListParams::default()).await.expect("list"));
    assert!(
        all.iter().any(|n| n == "default") && all.iter().any(|n| n == "kube-system"),
        "built-in namespaces: {all:?}"
    );

    let in_a = cluster.config_maps("team-a");
    in_a.create(&pp, &config_map("settings", json!({}), json!({"a": "1"}))).await.expect("create in team-a");
    let missing = cluster.config_maps("nowhere").create(&pp, &config_map("x", json!({}), json!({}))).await;
    assert_eq!(status(missing.expect_err("no such namespace")).code, 404);

    namespaces.delete("team-a", &DeleteParams::default()).await.expect("delete namespace");
    let deadline = Instant::now() + Duration::from_secs(5);
    while namespaces.get_opt("team-a").await.expect("get").is_some() {
        assert!(Instant::now() < deadline, "team-a is still there 5 s after its deletion");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(in_a.list(&ListParams::default()).await.expect("list").items.is_empty(), "its objects went with it");
    assert_eq!(status(namespaces.delete("default", &DeleteParams::default()).await.expect_err("protected")).code, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_through_every_object_with_limit_and_continue() {
    let cluster = Cluster::start().await;
    cluster.namespace("paged").await;
    let api = cluster.config_maps("paged");
    for i in 0..7 {
        api.create(&PostParams::default(), &config_map(&format!("item-{i}"), json!({}), json!({})))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = ListParams::default().labels(OURS).limit(2);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api.list(&params).await.expect("a page");
        assert!(page.items.len() <= 2, "a page holds at most the limit");
        seen.extend(names(&page));
        pages += 1;
        assert!(pages <= 7, "paging ends");
        match page.metadata.continue_ {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => break,
        }
    }
    let everything = names(&api.list(&ListParams::default().labels(OURS)).await.expect("list"));
    assert_eq!(seen, everything);
    assert_eq!((seen.len(), pages), (7, 4));
    let bad = api.list(&ListParams::default().limit(2).continue_token("not-a-token")).await;
    assert_eq!(status(bad.expect_err("a made-up token is refused")).code, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_answer_like_real_ones_but_store_nothing() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    let dry = PostParams { dry_run: true, ..Default::default() };
    let ghost = api.create(&dry, &config_map("ghost", json!({}), json!({"a": "1"}))).await.expect("dry-run create");
    assert_eq!((ghost.name_any(), data(&ghost, "a").as_deref()), ("ghost".to_string(), Some("1")));
    assert!(api.get_opt("ghost").await.expect("get").is_none(), "a dry-run create stores nothing");

    let real =
        api.create(&PostParams::default(), &config_map("real", json!({}), json!({"a": "1"}))).await.expect("create");
    let before = snapshot(&api).await;
    let mut changed = real.clone();
    changed.data = Some([("a".to_string(), "2".to_string())].into());
    let answered = api.replace("real", &dry, &changed).await.expect("dry-run replace");
    assert_eq!(data(&answered, "a").as_deref(), Some("2"));
    let patch = Patch::Merge(json!({"data": {"a": "3"}}));
    let answered = api.patch("real", &PatchParams::default().dry_run(), &patch).await.expect("dry-run patch");
    assert_eq!(data(&answered, "a").as_deref(), Some("3"));
    api.delete("real", &DeleteParams::default().dry_run()).await.expect("dry-run delete");
    assert_eq!(api.get("real").await.expect("still there"), real, "dry runs left the object alone");
    assert_eq!(snapshot(&api).await, before, "dry runs commit nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_change_in_order() {
    let cluster = Cluster::start().await;
    cluster.namespace("watched").await;
    let api = cluster.config_maps("watched");
    let pp = PostParams::default();
    api.create(&pp, &config_map("before", json!({}), json!({}))).await.expect("create");
    let mut stream = watcher(api.clone(), watcher::Config::default().labels(OURS)).boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut stream).await.expect("a watcher event") {
            watcher::Event::Init => {}
            watcher::Event::InitApply(cm) => initial.push(cm.name_any()),
            watcher::Event::InitDone => break,
            other => panic!("unexpected event before the initial list ended: {other:?}"),
        }
    }
    assert_eq!(initial, ["before"]);

    // (applied?, name, resourceVersion acknowledged for applied changes)
    let mut expected: Vec<(bool, String, Option<u64>)> = Vec::new();
    for i in 0..10 {
        let created = api
            .create(&pp, &config_map(&format!("cm-{i}"), json!({}), json!({"i": i.to_string()})))
            .await
            .expect("create");
        expected.push((true, created.name_any(), Some(rv(&created))));
    }
    for i in [2, 5, 7] {
        let patched = api
            .patch(&format!("cm-{i}"), &PatchParams::default(), &Patch::Merge(json!({"data": {"touched": "yes"}})))
            .await
            .expect("patch");
        expected.push((true, patched.name_any(), Some(rv(&patched))));
    }
    for i in [3, 8] {
        api.delete(&format!("cm-{i}"), &DeleteParams::default()).await.expect("delete");
        expected.push((false, format!("cm-{i}"), None));
    }
    let mut observed = Vec::new();
    while observed.len() < expected.len() {
        match next(&mut stream).await.expect("a watcher event") {
            watcher::Event::Apply(cm) => observed.push((true, cm.name_any(), rv(&cm))),
            watcher::Event::Delete(cm) => observed.push((false, cm.name_any(), rv(&cm))),
            other => panic!("the watch restarted or repeated itself: {other:?}"),
        }
    }
    let kinds_and_names: Vec<(bool, String)> = observed.iter().map(|(a, n, _)| (*a, n.clone())).collect();
    let wanted: Vec<(bool, String)> = expected.iter().map(|(a, n, _)| (*a, n.clone())).collect();
    assert_eq!(kinds_and_names, wanted);
    assert!(observed.windows(2).all(|w| w[0].2 < w[1].2), "resourceVersions rise: {observed:?}");
    for ((_, name, seen), (_, _, acked)) in observed.iter().zip(&expected) {
        assert!(acked.is_none_or(|acked| acked == *seen), "{name}: watched at {seen}, acknowledged at {acked:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_an_old_resource_version_replays_exactly_the_later_changes() {
    let cluster = Cluster::start().await;
    cluster.namespace("replay").await;
    let api = cluster.config_maps("replay");
    let pp = PostParams::default();
    let a = api.create(&pp, &config_map("a", json!({}), json!({}))).await.expect("create a");
    api.create(&pp, &config_map("b", json!({}), json!({}))).await.expect("create b");
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"x": "1"}}))).await.expect("patch a");
    api.delete("b", &DeleteParams::default()).await.expect("delete b");
    api.create(&pp, &config_map("c", json!({}), json!({}))).await.expect("create c");

    let mut stream = api.watch(&WatchParams::default().labels(OURS), &rv(&a).to_string()).await.expect("watch").boxed();
    let mut replayed = Vec::new();
    let mut last = rv(&a);
    while replayed.len() < 4 {
        let (kind, cm) = match next(&mut stream).await.expect("an event") {
            WatchEvent::Added(cm) => ("ADDED", cm),
            WatchEvent::Modified(cm) => ("MODIFIED", cm),
            WatchEvent::Deleted(cm) => ("DELETED", cm),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("the watch failed: {e:?}"),
        };
        assert!(rv(&cm) > last, "events come in resourceVersion order");
        last = rv(&cm);
        replayed.push(format!("{kind} {}", cm.name_any()));
    }
    assert_eq!(replayed, ["ADDED b", "MODIFIED a", "DELETED b", "ADDED c"]);
    let quiet = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(quiet.is_err(), "nothing else is replayed: {quiet:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_before_a_restart_is_gone_and_one_from_the_future_is_refused() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    let pp = PostParams::default();
    let old = api.create(&pp, &config_map("old", json!({}), json!({"kept": "yes"}))).await.expect("create");
    let newer = api.create(&pp, &config_map("newer", json!({}), json!({}))).await.expect("create");
    let future = (rv(&newer) + 1000).to_string();
    let refused = api.watch(&WatchParams::default(), &future).await.map(|_| ());
    let code = status(refused.expect_err("a future resourceVersion is refused")).code;
    assert!((400..500).contains(&code), "a client error, not {code}");

    let cluster = cluster.restart().await;
    let api = cluster.config_maps("default");
    assert_eq!(data(&api.get("old").await.expect("old survives the restart"), "kept").as_deref(), Some("yes"));
    let mut stream = api.watch(&WatchParams::default(), &rv(&old).to_string()).await.expect("the watch starts").boxed();
    match next(&mut stream).await.expect("an event") {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"), "{status:?}");
        }
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    let after = api.create(&pp, &config_map("after", json!({}), json!({}))).await.expect("create after restart");
    assert!(rv(&after) > rv(&newer), "resourceVersions keep rising across a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_with_a_stale_resource_version_is_a_conflict() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    let pp = PostParams::default();
    let original = api.create(&pp, &config_map("shared", json!({}), json!({"v": "0"}))).await.expect("create");
    let mut first = original.clone();
    first.data = Some([("v".to_string(), "first".to_string())].into());
    api.replace("shared", &pp, &first).await.expect("the first writer wins");
    let mut second = original.clone();
    second.data = Some([("v".to_string(), "second".to_string())].into());
    let conflict = status(api.replace("shared", &pp, &second).await.expect_err("the stale writer loses"));
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(conflict.message.contains("has been modified"), "{}", conflict.message);
    assert_eq!(data(&api.get("shared").await.expect("get"), "v").as_deref(), Some("first"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_read_modify_write_increments_lose_nothing() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    api.create(&PostParams::default(), &config_map("counter", json!({}), json!({"n": "0"}))).await.expect("create");
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let api = api.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..25 {
                    loop {
                        let mut cm = api.get("counter").await.expect("get");
                        let n: u64 = data(&cm, "n").and_then(|n| n.parse().ok()).expect("a count");
                        cm.data = Some([("n".to_string(), (n + 1).to_string())].into());
                        match api.replace("counter", &PostParams::default(), &cm).await {
                            Ok(_) => break,
                            Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
                            Err(other) => panic!("an increment failed: {other}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for writer in writers {
        conflicts += writer.await.expect("a writer finishes");
    }
    let count = data(&api.get("counter").await.expect("get"), "n");
    assert_eq!(count.as_deref(), Some("200"), "no increment was lost ({conflicts} conflicts retried)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_status_and_stores_nothing() {
    let cluster = Cluster::start().await;
    let client = &cluster.client;
    let api = cluster.config_maps("default");
    let kept =
        api.create(&PostParams::default(), &config_map("kept", json!({}), json!({"a": "1"}))).await.expect("create");
    let before = snapshot(&api).await;
    let collection = kube::core::Request::new("/api/v1/namespaces/default/configmaps");
    let pp = PostParams::default();
    let refuse =
        |request| async move { status(client.request_text(request).await.expect_err("the request is refused")) };

    let malformed =
        refuse(collection.create(&pp, br#"{"metadata": {"name": "broken"}"#.to_vec()).expect("a request")).await;
    assert_eq!((malformed.code, malformed.reason.as_str()), (400, "BadRequest"));
    // Upstream's decoder words: the type wanted, Go's JSON error, and the start of the body.
    let wanted = "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; \
                  json parse error: unexpected end of JSON input ({\"metadata\"";
    assert!(malformed.message.starts_with(wanted), "{}", malformed.message);

    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrong"}});
    let wrong_kind = refuse(collection.create(&pp, secret.to_string().into_bytes()).expect("a request")).await;
    assert_eq!(wrong_kind.code, 400);
    assert!(
        wrong_kind.message.contains("Secret") && wrong_kind.message.contains("ConfigMap"),
        "{}",
        wrong_kind.message
    );

    let widgets = kube::core::Request::new("/api/v1/namespaces/default/widgets");
    assert_eq!(refuse(widgets.list(&ListParams::default()).expect("a request")).await.code, 404);
    let widget = json!({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}});
    assert_eq!(refuse(widgets.create(&pp, widget.to_string().into_bytes()).expect("a request")).await.code, 404);

    let ops = json!([{"op": "test", "path": "/data/a", "value": "not-1"}, {"op": "replace", "path": "/data/a",
        "value": "2"}]);
    let failed = api
        .patch("kept", &PatchParams::default(), &Patch::<()>::Json(serde_json::from_value(ops).expect("operations")))
        .await;
    assert_eq!(status(failed.expect_err("the test op fails")).code, 422);

    assert_eq!(snapshot(&api).await, before, "no refused request committed anything");
    assert_eq!(api.get("kept").await.expect("get"), kept);
    for name in ["broken", "wrong"] {
        assert!(api.get_opt(name).await.expect("get").is_none(), "{name} was not stored");
    }
}

// An oversized body gets the 413 Status, not a broken pipe: the server reads (a bounded amount of)
// the body before answering, so hyper, still sending, does not lose the answer (hyperium/hyper#2384).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_answered_with_413_and_stores_nothing() {
    let cluster = Cluster::start().await;
    let api = cluster.config_maps("default");
    let before = snapshot(&api).await;
    let huge = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "huge"},
        "data": {"blob": "x".repeat(4 << 20)}});
    let request = kube::core::Request::new("/api/v1/namespaces/default/configmaps")
        .create(&PostParams::default(), huge.to_string().into_bytes())
        .expect("a request");
    let too_large = status(cluster.client.request_text(request).await.expect_err("an oversized body is refused"));
    assert_eq!((too_large.code, too_large.reason.as_str()), (413, "RequestEntityTooLarge"), "{too_large:?}");
    assert_eq!(snapshot(&api).await, before);
    assert!(api.get_opt("huge").await.expect("get").is_none());
}

//! Durability of the real `gitops-lab sandbox serve`: SIGKILL it in the middle of a burst of creates
//! from kube-rs, restart it on the same data directory, and find every acknowledged write intact.

#![forbid(unsafe_code)]

use gitops_lab_e2e::Sandbox;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many kill-and-restart cycles to run (bounded: each takes about a second).
const ROUNDS: usize = 6;
/// Concurrent writers in each burst.
const WRITERS: usize = 4;

/// The data a config map named `name` must hold: derived from the name, so any stored object,
/// acknowledged or not, can be checked for completeness.
fn payload(name: &str) -> BTreeMap<String, String> {
    let blob: String = name.chars().cycle().take(2048).collect();
    [("name".to_string(), name.to_string()), ("blob".to_string(), blob)].into()
}

async fn client_for(kubeconfig: &Path) -> Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("a client configuration");
    Client::try_from(config).expect("a client")
}

fn config_map(name: &str) -> ConfigMap {
    let mut cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"burst": "yes"}}})).expect("a config map");
    cm.data = Some(payload(name));
    cm
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.resource_version().and_then(|rv| rv.parse().ok()).expect("a numeric resourceVersion")
}

/// Checks that every acknowledged write is stored as acknowledged, and that every burst object
/// present (acknowledged or caught in flight) is complete. Returns the list's resourceVersion.
async fn verify(api: &Api<ConfigMap>, acknowledged: &BTreeMap<String, u64>) -> u64 {
    let list = api.list(&ListParams::default().labels("burst=yes")).await.expect("every stored object parses");
    let stored: BTreeMap<String, &ConfigMap> = list.items.iter().map(|cm| (cm.name_any(), cm)).collect();
    for cm in &list.items {
        assert_eq!(cm.data.as_ref(), Some(&payload(&cm.name_any())), "{} is stored complete", cm.name_any());
    }
    for (name, acked_rv) in acknowledged {
        let cm = stored.get(name).unwrap_or_else(|| panic!("{name} was acknowledged at {acked_rv} but is missing"));
        assert_eq!(rv(cm), *acked_rv, "{name} keeps the resourceVersion it was acknowledged with");
    }
    let in_flight = stored.keys().filter(|name| !acknowledged.contains_key(*name)).count();
    eprintln!("{} stored, {} acknowledged, {in_flight} committed but unacknowledged", stored.len(), acknowledged.len());
    list.metadata.resource_version.and_then(|rv| rv.parse().ok()).expect("the list has a resourceVersion")
}

/// Creates config maps from several writers until the server goes away; returns what was acknowledged.
fn burst(
    api: &Api<ConfigMap>,
    round: usize,
    acks: &Arc<Mutex<Vec<(String, u64)>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..WRITERS)
        .map(|writer| {
            let (api, acks) = (api.clone(), acks.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("r{round}-w{writer}-{i}");
                    match api.create(&PostParams::default(), &config_map(&name)).await {
                        Ok(created) => acks.lock().expect("the ack list").push((name, rv(&created))),
                        // The server was killed: this write may or may not have been committed.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_sigkill_in_the_middle_of_a_burst() {
    let temp = tempfile::tempdir().expect("a temporary directory");
    let dir = temp.path().join("data");
    let mut acknowledged: BTreeMap<String, u64> = BTreeMap::new();
    let mut highest = 0;
    for round in 0..ROUNDS {
        let sandbox = Sandbox::start_in(&dir);
        let api: Api<ConfigMap> = Api::namespaced(client_for(&sandbox.kubeconfig).await, "default");
        let listed = verify(&api, &acknowledged).await;
        assert!(listed >= highest, "round {round}: the store's resourceVersion {listed} went back below {highest}");
        let probe = api
            .create(&PostParams::default(), &config_map(&format!("r{round}-probe")))
            .await
            .expect("a write after restart");
        assert!(rv(&probe) > highest, "round {round}: a new write got {} after {highest}", rv(&probe));
        highest = rv(&probe);
        acknowledged.insert(probe.name_any(), highest);

        let acks = Arc::new(Mutex::new(Vec::new()));
        let writers = burst(&api, round, &acks);
        // Vary the moment of the kill from round to round.
        let wanted = 30 + 17 * round;
        let deadline = Instant::now() + Duration::from_secs(60);
        while acks.lock().expect("the ack list").len() < wanted {
            assert!(Instant::now() < deadline, "round {round}: fewer than {wanted} writes in 60 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sandbox.kill_hard();
        for writer in writers {
            tokio::time::timeout(Duration::from_secs(30), writer)
                .await
                .expect("writers notice the kill")
                .expect("a writer ends");
        }
        let acks = std::mem::take(&mut *acks.lock().expect("the ack list"));
        assert!(acks.len() >= wanted);
        for (name, rv) in acks {
            highest = highest.max(rv);
            acknowledged.insert(name, rv);
        }
    }
    let sandbox = Sandbox::start_in(&dir);
    let api: Api<ConfigMap> = Api::namespaced(client_for(&sandbox.kubeconfig).await, "default");
    let listed = verify(&api, &acknowledged).await;
    assert!(listed >= highest);
    let last = api.create(&PostParams::default(), &config_map("final")).await.expect("a write after the last restart");
    assert!(rv(&last) > highest, "resourceVersions keep rising: {} after {highest}", rv(&last));
    assert!(sandbox.stop().success(), "the sandbox stops cleanly on SIGTERM");
}

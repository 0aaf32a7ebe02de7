//! Address allocation for Services, as the API server does on create: a cluster IP from the
//! service range (10.96.0.0/16 here, as on minikube) and node ports from 30000–32767.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

/// Fills `spec.clusterIP(s)` and missing `nodePort`s of a new Service, avoiding those in use.
pub fn allocate(service: &mut Value, existing: &[Arc<Value>]) {
    let spec = &mut service["spec"];
    if !spec.is_object() {
        return;
    }
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if kind != "ExternalName" && spec["clusterIP"].as_str().is_none_or(str::is_empty) {
        let used: HashSet<&str> = existing.iter().filter_map(|s| s["spec"]["clusterIP"].as_str()).collect();
        // .0.1 is the `kubernetes` service and .0.10 is where cluster DNS lives on real clusters.
        let free = (0u32..65536)
            .map(|n| format!("10.96.{}.{}", n / 256, n % 256))
            .skip(11)
            .find(|ip| !used.contains(ip.as_str()) && !ip.ends_with(".0") && !ip.ends_with(".255"));
        if let Some(ip) = free {
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
        }
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        let used: HashSet<i64> = existing
            .iter()
            .flat_map(|s| s["spec"]["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["nodePort"].as_i64())
            .collect();
        let mut candidates = (30000i64..=32767).filter(|p| !used.contains(p));
        if let Some(ports) = spec["ports"].as_array_mut() {
            for port in ports.iter_mut().filter(|p| p["nodePort"].as_i64().is_none()) {
                if let Some(free) = candidates.next() {
                    port["nodePort"] = json!(free);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_service_gets_the_first_free_cluster_ip() {
        let taken = Arc::new(json!({"spec": {"clusterIP": "10.96.0.11"}}));
        let mut service = json!({"spec": {"ports": [{"port": 80}]}});
        allocate(&mut service, &[taken]);
        assert_eq!(service["spec"]["clusterIP"], "10.96.0.12");
        assert_eq!(service["spec"]["clusterIPs"], json!(["10.96.0.12"]));
    }

    #[test]
    fn node_ports_are_allocated_only_for_node_port_services() {
        let mut service =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81, "nodePort": 30000}]}});
        allocate(&mut service, &[]);
        assert_eq!(service["spec"]["ports"][0]["nodePort"], 30000);
        let mut plain = json!({"spec": {"ports": [{"port": 80}]}});
        allocate(&mut plain, &[]);
        assert!(plain["spec"]["ports"][0].get("nodePort").is_none());
    }

    #[test]
    fn a_headless_service_keeps_none() {
        let mut service = json!({"spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
        allocate(&mut service, &[]);
        assert_eq!(service["spec"]["clusterIP"], "None");
    }
}

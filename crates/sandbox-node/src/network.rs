//! The cluster network as a pod sees it: cluster DNS for Services (the pod's search domains,
//! `ndots:5`, as its `/etc/resolv.conf` says), cluster IPs that kube-proxy spreads over the
//! Service's ready endpoints, and pod IPs reached directly. The shell's `wget`, `curl` and
//! `nslookup` use it through [`Network`].
//!
//! As on a real cluster: a Service with no ready endpoint rejects connections (`Connection
//! refused`), a port the Service does not expose and an address nothing owns drop the packets
//! (a time-out), and a headless Service's name resolves to a ready pod's address.

use crate::runtime::PodRuntime;
use gitops_sandbox_core::Sandbox;
use gitops_sandbox_core::registry::{ResourceType, builtin_type};
use gitops_sandbox_shell::net::{ConnectError, Network, Resolved};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::DuplexStream;

/// The cluster's domain, as kubelets' `clusterDomain` default.
pub const CLUSTER_DOMAIN: &str = "cluster.local";
/// The cluster DNS Service's address (kube-dns on minikube and kubeadm clusters).
pub const DNS_SERVER: &str = "10.96.0.10";

/// The node's running pods, shared with the network views.
pub(crate) type PodMap = Arc<Mutex<HashMap<(String, String), Arc<PodRuntime>>>>;

/// The `/etc/resolv.conf` of a pod in `namespace` (dnsPolicy ClusterFirst).
pub fn resolv_conf(namespace: &str) -> String {
    format!(
        "search {namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\nnameserver {DNS_SERVER}\noptions ndots:5\n"
    )
}

fn services() -> &'static ResourceType {
    builtin_type("", "services")
}

fn endpoints() -> &'static ResourceType {
    builtin_type("", "endpoints")
}

/// One pod's view of the network.
pub struct PodNetwork {
    sandbox: Arc<Sandbox>,
    pods: PodMap,
    namespace: String,
    own_ip: String,
    /// Turns of kube-proxy's spreading over endpoints.
    turn: AtomicUsize,
}

impl PodNetwork {
    pub(crate) fn new(sandbox: Arc<Sandbox>, pods: PodMap, namespace: &str, own_ip: &str) -> Self {
        Self { sandbox, pods, namespace: namespace.into(), own_ip: own_ip.into(), turn: AtomicUsize::new(0) }
    }

    /// The address of `<service>.<namespace>.svc.cluster.local`, if that Service exists.
    fn lookup(&self, fqdn: &str) -> Option<String> {
        let rest = fqdn.strip_suffix(&format!(".svc.{CLUSTER_DOMAIN}"))?;
        let (name, namespace) = rest.split_once('.')?;
        if namespace.contains('.') {
            return None;
        }
        let svc = self.sandbox.get(services(), Some(namespace), name)?;
        match svc["spec"]["clusterIP"].as_str() {
            Some("None") => self.ready_backends(&svc, None).first().map(|(ip, _)| ip.clone()),
            Some(ip) if !ip.is_empty() => Some(ip.to_string()),
            _ => None,
        }
    }

    /// The ready (address, port) pairs behind a Service, for its port named `port_name` (any port
    /// when `None`).
    fn ready_backends(&self, svc: &Value, port_name: Option<&str>) -> Vec<(String, u16)> {
        let namespace = svc["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = svc["metadata"]["name"].as_str().unwrap_or_default();
        let Some(ep) = self.sandbox.get(endpoints(), Some(namespace), name) else { return Vec::new() };
        let mut out = Vec::new();
        for subset in ep["subsets"].as_array().into_iter().flatten() {
            let port = subset["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| port_name.is_none_or(|want| p["name"].as_str().unwrap_or("") == want));
            let number = port.and_then(|p| p["port"].as_u64()).and_then(|p| u16::try_from(p).ok()).unwrap_or(0);
            for address in subset["addresses"].as_array().into_iter().flatten() {
                if let Some(ip) = address["ip"].as_str() {
                    out.push((ip.to_string(), number));
                }
            }
        }
        out
    }

    /// The pods at `ip`: one, or every host-network pod at the node's address.
    fn pods_at(&self, ip: &str) -> Vec<Arc<PodRuntime>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|p| p.ip == ip).cloned().collect()
    }

    fn dial_pod(&self, ip: &str, port: u16) -> Result<DuplexStream, ConnectError> {
        let pods = self.pods_at(ip);
        if pods.is_empty() {
            return Err(ConnectError::TimedOut);
        }
        // Host-network pods share one network namespace: whichever listens on the port answers.
        let listening = pods.iter().find(|p| p.listens_on(port)).unwrap_or(&pods[0]);
        listening.connect(port).map_err(|_| ConnectError::Refused)
    }

    /// kube-proxy's part: a cluster IP and port to one of the Service's ready endpoints.
    fn dial_service(&self, svc: &Value, port: u16) -> Result<DuplexStream, ConnectError> {
        let ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let Some(service_port) = ports.iter().find(|p| p["port"].as_u64() == Some(u64::from(port))) else {
            return Err(ConnectError::TimedOut);
        };
        let backends = self.ready_backends(svc, Some(service_port["name"].as_str().unwrap_or("")));
        if backends.is_empty() {
            return Err(ConnectError::Refused);
        }
        let (ip, target) = &backends[self.turn.fetch_add(1, Ordering::Relaxed) % backends.len()];
        self.dial_pod(ip, *target)
    }
}

fn is_address(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>().is_ok()
}

impl Network for PodNetwork {
    fn resolve(&self, host: &str) -> Option<Resolved> {
        if host == "localhost" {
            return Some(Resolved { name: host.into(), address: "127.0.0.1".into() });
        }
        if is_address(host) {
            return Some(Resolved { name: host.into(), address: host.into() });
        }
        self.search_names(host)
            .into_iter()
            .find_map(|name| self.lookup(&name).map(|address| Resolved { name, address }))
    }

    fn search_names(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_string()];
        }
        let mut names: Vec<String> = [
            format!("{}.svc.{CLUSTER_DOMAIN}", self.namespace),
            format!("svc.{CLUSTER_DOMAIN}"),
            CLUSTER_DOMAIN.to_string(),
        ]
        .iter()
        .map(|domain| format!("{host}.{domain}"))
        .collect();
        // With ndots:5 a name of fewer dots tries the search list first, then itself.
        if host.matches('.').count() >= 5 {
            names.insert(0, host.to_string());
        } else {
            names.push(host.to_string());
        }
        names
    }

    fn dns_server(&self) -> String {
        DNS_SERVER.to_string()
    }

    fn connect(&self, address: &str, port: u16) -> Result<DuplexStream, ConnectError> {
        if address == "127.0.0.1" {
            return self.dial_pod(&self.own_ip, port);
        }
        let (list, _) =
            self.sandbox.store().list(&services().id(), None, None, 0, |svc| svc["spec"]["clusterIP"] == address);
        match list.items.first() {
            Some(svc) => self.dial_service(svc, port),
            None => self.dial_pod(address, port),
        }
    }
}

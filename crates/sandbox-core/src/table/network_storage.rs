//! Cells of the networking and storage kinds (Endpoints, EndpointSlices, volumes, claims, Ingress),
//! each following the matching rule of upstream's printers; `columns.yaml` names them.

use super::expr::{CellFn, Ctx, first, strings, text};
use serde_json::{Value, json};

/// The named cell functions of this module.
pub const FUNCTIONS: &[(&str, CellFn)] = &[
    ("endpointsList", endpoints_list),
    ("slicePorts", slice_ports),
    ("sliceEndpoints", slice_endpoints),
    ("claimCapacity", claim_capacity),
    ("accessModes", access_modes),
    ("storageClass", storage_class),
    ("claimRef", claim_ref),
    ("ingressHosts", ingress_hosts),
    ("ingressAddress", ingress_address),
    ("ingressPorts", ingress_ports),
];

/// How many entries a list cell shows before `+ N more...`.
const SHOWN: usize = 3;

fn items<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    first(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The first three entries joined by commas, then ` + N more...` as upstream prints long lists.
fn with_more(all: &[String], empty: &str) -> String {
    let shown = all.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(",");
    match all.len() {
        0 => empty.to_string(),
        n if n > SHOWN => format!("{shown} + {} more...", n - SHOWN),
        _ => shown,
    }
}

/// `ip:port` for each ready address of each port of each subset (`<none>` without subsets).
fn endpoints_list(c: &Ctx, _: &[String]) -> Option<Value> {
    let subsets = items(c.obj, ".subsets");
    if subsets.is_empty() {
        return Some(json!("<none>"));
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = strings(subset, ".addresses[*].ip");
        let ports = items(subset, ".ports");
        if ports.is_empty() {
            all.extend(addresses.iter().map(|ip| ip.to_string()));
            continue;
        }
        for port in ports {
            let number = port["port"].as_i64().unwrap_or(0);
            all.extend(addresses.iter().map(|ip| format!("{ip}:{number}")));
        }
    }
    Some(json!(with_more(&all, "")))
}

fn slice_ports(c: &Ctx, _: &[String]) -> Option<Value> {
    let all: Vec<String> = items(c.obj, ".ports")
        .iter()
        .map(|p| match (p["port"].as_i64(), p["name"].as_str()) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    Some(json!(with_more(&all, "<unset>")))
}

fn slice_endpoints(c: &Ctx, _: &[String]) -> Option<Value> {
    let all: Vec<String> = strings(c.obj, ".endpoints[*].addresses[*]").into_iter().map(String::from).collect();
    Some(json!(with_more(&all, "<unset>")))
}

/// A claim shows its capacity only once bound.
fn claim_capacity(c: &Ctx, _: &[String]) -> Option<Value> {
    let bound = !text(c.obj, ".spec.volumeName").is_empty();
    Some(json!(if bound { text(c.obj, ".status.capacity.storage") } else { "" }))
}

/// `RWO,ROX,RWX,RWOP`, in upstream's order, whatever order the object lists them in.
fn access_modes(c: &Ctx, args: &[String]) -> Option<Value> {
    let path = args.first().map(String::as_str).unwrap_or(".spec.accessModes");
    let modes = strings(c.obj, &format!("{path}[*]"));
    let order =
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")];
    let short: Vec<&str> = order.iter().filter(|(long, _)| modes.contains(long)).map(|(_, s)| *s).collect();
    Some(json!(short.join(",")))
}

/// The class from the field, or from the beta annotation older objects carry.
fn storage_class(c: &Ctx, _: &[String]) -> Option<Value> {
    let field = text(c.obj, ".spec.storageClassName");
    let annotation = c.obj["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"].as_str();
    Some(json!(annotation.unwrap_or(field)))
}

fn claim_ref(c: &Ctx, _: &[String]) -> Option<Value> {
    let claim = first(c.obj, ".spec.claimRef")?;
    Some(json!(format!("{}/{}", text(claim, ".namespace"), text(claim, ".name"))))
}

fn ingress_hosts(c: &Ctx, _: &[String]) -> Option<Value> {
    let all: Vec<String> = items(c.obj, ".spec.rules")
        .iter()
        .map(|rule| rule["host"].as_str().filter(|h| !h.is_empty()).unwrap_or("*").to_string())
        .collect();
    Some(json!(with_more(&all, "*")))
}

fn ingress_address(c: &Ctx, _: &[String]) -> Option<Value> {
    let all: Vec<String> = items(c.obj, ".status.loadBalancer.ingress")
        .iter()
        .filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()).map(String::from))
        .collect();
    Some(json!(all.join(",")))
}

fn ingress_ports(c: &Ctx, _: &[String]) -> Option<Value> {
    Some(json!(if items(c.obj, ".spec.tls").is_empty() { "80" } else { "80, 443" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(f: CellFn, obj: Value) -> Value {
        let now = "2024-05-01T12:00:00Z".parse().unwrap();
        f(&Ctx { obj: &obj, now }, &[]).unwrap_or(Value::Null)
    }

    #[test]
    fn endpoints_show_three_ready_addresses_then_a_count() {
        let ips: Vec<Value> = (1..=5).map(|i| json!({"ip": format!("10.0.0.{i}")})).collect();
        let obj = json!({"subsets": [{"addresses": ips, "ports": [{"port": 80}]}]});
        assert_eq!(cell(endpoints_list, obj), json!("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."));
        assert_eq!(cell(endpoints_list, json!({})), json!("<none>"));
        let not_ready = json!({"subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        assert_eq!(cell(endpoints_list, not_ready), json!(""));
    }

    #[test]
    fn slices_print_ports_and_addresses_or_unset() {
        let obj = json!({"ports": [{"port": 80}, {"name": "http"}], "endpoints": [{"addresses": ["10.0.0.1"]}]});
        assert_eq!(cell(slice_ports, obj.clone()), json!("80,http"));
        assert_eq!(cell(slice_endpoints, obj), json!("10.0.0.1"));
        assert_eq!(cell(slice_endpoints, json!({})), json!("<unset>"));
    }

    #[test]
    fn ingress_hosts_default_to_a_star() {
        let obj = json!({"spec": {"rules": [{"host": "a.example"}, {}], "tls": [{}]}});
        assert_eq!(cell(ingress_hosts, obj.clone()), json!("a.example,*"));
        assert_eq!(cell(ingress_ports, obj), json!("80, 443"));
    }
}

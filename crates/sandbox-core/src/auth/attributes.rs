//! What a request asks to do, read from its method, path and query as upstream's request-info
//! parser reads them, before anyone checks whether the resource exists.

/// The attributes an authorization decision looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, …; for non-resource paths the lower-case HTTP method.
    pub verb: String,
    /// The request path.
    pub path: String,
    /// Set for resource requests (`/api/v1/…` and `/apis/{group}/{version}/…`).
    pub resource: Option<ResourceAttributes>,
}

/// The resource part of a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAttributes {
    /// API group, empty for core.
    pub group: String,
    /// API version.
    pub version: String,
    /// The plural resource name, e.g. `pods`.
    pub resource: String,
    /// The subresource, e.g. `exec`, or empty.
    pub subresource: String,
    /// The namespace, or empty at the cluster scope.
    pub namespace: String,
    /// The object name, or empty for collections.
    pub name: String,
}

impl ResourceAttributes {
    /// `pods` or `pods/exec`, as rules and messages name it.
    pub fn combined(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

impl Attributes {
    /// A resource request with these parts.
    pub fn resource(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let resource = ResourceAttributes {
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        };
        Self { verb: verb.into(), path: String::new(), resource: Some(resource) }
    }

    /// A request for a non-resource path such as `/version`.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self { verb: verb.into(), path: path.into(), resource: None }
    }

    /// Reads a request the way upstream does: resource paths give the verb from the method
    /// (collections turn `get` into `list` or `watch`, `delete` into `deletecollection`), every
    /// other path is a non-resource request whose verb is the lower-case method.
    pub fn from_request(method: &str, path: &str, query: &[(String, String)]) -> Self {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match parts.as_slice() {
            ["api", rest @ ..] if rest.len() >= 2 => Some(("", rest)),
            ["apis", group, rest @ ..] if rest.len() >= 2 => Some((*group, rest)),
            _ => None,
        };
        let Some((group, [version, rest @ ..])) = rest else {
            return Self::non_resource(&method.to_ascii_lowercase(), path);
        };
        let (verb, rest) = match rest {
            // The old `/watch/` and `/proxy/` path prefixes name the verb themselves.
            [special @ ("watch" | "proxy"), rest @ ..] if !rest.is_empty() => (special.to_string(), rest),
            _ => (method_verb(method).to_string(), rest),
        };
        let mut info = ResourceAttributes { group: group.into(), version: version.to_string(), ..Default::default() };
        let mut parts = rest;
        if let ["namespaces", namespace, tail @ ..] = rest {
            info.namespace = namespace.to_string();
            // `/namespaces/x/status` is the namespace's own subresource, not a resource named status.
            if !tail.is_empty() && !matches!(tail[0], "status" | "finalize") {
                parts = tail;
            }
        }
        if parts.len() >= 3 && verb != "proxy" {
            info.subresource = parts[2].to_string();
        }
        if parts.len() >= 2 {
            info.name = parts[1].to_string();
        }
        if let Some(resource) = parts.first() {
            info.resource = resource.to_string();
        }
        let verb = collection_verb(verb, &mut info, query);
        Self { verb, path: path.to_string(), resource: Some(info) }
    }
}

fn method_verb(method: &str) -> &'static str {
    match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
}

/// Without a name, `get` is a list or a watch (whose `metadata.name` field selector names the
/// object), and `delete` removes a collection.
fn collection_verb(verb: String, info: &mut ResourceAttributes, query: &[(String, String)]) -> String {
    if !info.name.is_empty() {
        return verb;
    }
    let value = |key: &str| query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    match verb.as_str() {
        "get" => {
            let watch = value("watch").is_some_and(|v| matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True"));
            if let Some(name) = value("fieldSelector").and_then(exact_name) {
                info.name = name;
            }
            if watch { "watch".into() } else { "list".into() }
        }
        "delete" => "deletecollection".into(),
        _ => verb,
    }
}

/// The name a field selector pins with `metadata.name=x` (or `==`), if that is all it says.
fn exact_name(selector: &str) -> Option<String> {
    let mut found = None;
    for term in selector.split(',') {
        let (key, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        if key.trim() == "metadata.name" && !value.starts_with('=') && !key.ends_with('!') {
            found = Some(value.trim().to_string());
        }
    }
    found.filter(|name| !name.is_empty() && !name.contains('/') && name != "." && name != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(method: &str, path: &str, query: &[(&str, &str)]) -> Attributes {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Attributes::from_request(method, path, &query)
    }

    fn summary(a: &Attributes) -> String {
        match &a.resource {
            Some(r) => format!("{} {}|{}|{}|{}|{}", a.verb, r.group, r.combined(), r.namespace, r.name, r.version),
            None => format!("{} path {}", a.verb, a.path),
        }
    }

    /// Method, path, query pairs, and the attributes expected (verb|resource|namespace|name|version).
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

    #[test]
    fn requests_read_like_upstreams_request_info() {
        let cases: &[Case] = &[
            ("GET", "/api/v1/namespaces/default/pods", &[], "list |pods|default||v1"),
            ("GET", "/api/v1/namespaces/default/pods", &[("watch", "true")], "watch |pods|default||v1"),
            (
                "GET",
                "/api/v1/namespaces/default/pods",
                &[("watch", "1"), ("fieldSelector", "metadata.name=web")],
                "watch |pods|default|web|v1",
            ),
            ("GET", "/api/v1/namespaces/default/pods/web", &[], "get |pods|default|web|v1"),
            ("POST", "/api/v1/namespaces/default/pods/web/exec", &[], "create |pods/exec|default|web|v1"),
            ("GET", "/api/v1/namespaces/default/pods/web/log", &[], "get |pods/log|default|web|v1"),
            ("DELETE", "/apis/apps/v1/namespaces/team/deployments", &[], "deletecollection apps|deployments|team||v1"),
            ("DELETE", "/apis/apps/v1/namespaces/team/deployments/web", &[], "delete apps|deployments|team|web|v1"),
            (
                "PATCH",
                "/apis/apps/v1/namespaces/team/deployments/web/scale",
                &[],
                "patch apps|deployments/scale|team|web|v1",
            ),
            (
                "PUT",
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
                &[],
                "update rbac.authorization.k8s.io|clusterroles||view|v1",
            ),
            ("GET", "/api/v1/namespaces", &[], "list |namespaces|||v1"),
            ("GET", "/api/v1/namespaces/team", &[], "get |namespaces|team|team|v1"),
            ("PUT", "/api/v1/namespaces/team/status", &[], "update |namespaces/status|team|team|v1"),
            (
                "POST",
                "/api/v1/namespaces/default/serviceaccounts/default/token",
                &[],
                "create |serviceaccounts/token|default|default|v1",
            ),
            ("GET", "/api/v1/watch/namespaces/default/pods", &[], "watch |pods|default||v1"),
            (
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                &[],
                "create authorization.k8s.io|selfsubjectaccessreviews|||v1",
            ),
            ("GET", "/api", &[], "get path /api"),
            ("GET", "/api/v1", &[], "get path /api/v1"),
            ("GET", "/apis/apps/v1", &[], "get path /apis/apps/v1"),
            ("GET", "/openapi/v3/apis/apps/v1", &[], "get path /openapi/v3/apis/apps/v1"),
            ("POST", "/version", &[], "post path /version"),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(summary(&read(method, path, query)), *expected, "{method} {path} {query:?}");
        }
    }

    #[test]
    fn a_field_selector_names_the_object_only_when_it_pins_one_name() {
        assert_eq!(exact_name("metadata.name=web"), Some("web".into()));
        assert_eq!(exact_name("metadata.name==web"), Some("web".into()));
        assert_eq!(exact_name("metadata.name!=web"), None);
        assert_eq!(exact_name("status.phase=Running"), None);
    }
}

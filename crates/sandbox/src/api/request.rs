//! Reading a request: which resource its path names, its query options, its body, and what it accepts.

use axum::http::HeaderMap;
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::protobuf;
use gitops_sandbox_core::registry::{Registry, ResourceType};
use serde_json::Value;

/// The largest body the server reads, as upstream's limit for a single object.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What a resource path names.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource type.
    pub rt: &'static ResourceType,
    /// The namespace in the path, if any.
    pub namespace: Option<String>,
    /// The object name, for item paths.
    pub name: Option<String>,
    /// The subresource (`status`, `scale`, …), if any.
    pub subresource: Option<String>,
}

impl Target {
    /// Parses the segments after `/api/v1` or `/apis/{group}/{version}`.
    pub fn parse(
        registry: &'static Registry,
        group: &str,
        version: &str,
        rest: &[&str],
        path: &str,
    ) -> ApiResult<Self> {
        let find = |plural: &str| registry.by_plural(group, version, plural);
        let unknown = || ApiError::unknown_path(path);
        let (rt, namespace, item) = match rest {
            ["namespaces", ns, plural, item @ ..] if find(plural).is_some_and(|t| t.namespaced) => {
                (find(plural).ok_or_else(unknown)?, Some(ns.to_string()), item)
            }
            [plural, item @ ..] => (find(plural).ok_or_else(unknown)?, None, item),
            [] => return Err(unknown()),
        };
        let (name, subresource) = match item {
            [] => (None, None),
            [name] => (Some(name.to_string()), None),
            [name, sub] if rt.has_subresource(sub) => (Some(name.to_string()), Some(sub.to_string())),
            _ => return Err(unknown()),
        };
        if name.as_deref().is_some_and(str::is_empty) {
            return Err(unknown());
        }
        Ok(Self { rt, namespace, name, subresource })
    }
}

/// The query options the handlers use.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `labelSelector`.
    pub label_selector: String,
    /// `fieldSelector`.
    pub field_selector: String,
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: String,
    /// `resourceVersion`.
    pub resource_version: String,
    /// `watch=true`.
    pub watch: bool,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`.
    pub send_initial_events: bool,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldValidation`.
    pub field_validation: String,
    /// `propagationPolicy`.
    pub propagation_policy: String,
    /// `gracePeriodSeconds` (deletes).
    pub grace_period_seconds: Option<u64>,
    /// `includeObject` for Tables.
    pub include_object: String,
    /// `force` for server-side apply.
    pub force: bool,
    /// `fieldManager`.
    pub field_manager: String,
    /// The request's User-Agent (names the field manager when `fieldManager` does not).
    pub user_agent: String,
}

impl Options {
    /// Reads the query pairs; malformed numbers and values are a 400 that names the parameter.
    pub fn parse(pairs: &[(String, String)]) -> ApiResult<Self> {
        let mut o = Options::default();
        let flag = |v: &str| v == "true" || v == "1";
        for (key, value) in pairs {
            match key.as_str() {
                "labelSelector" => o.label_selector = value.clone(),
                "fieldSelector" => o.field_selector = value.clone(),
                "limit" => o.limit = number(key, value)? as usize,
                "continue" => o.continue_token = value.clone(),
                "resourceVersion" => o.resource_version = value.clone(),
                "watch" => o.watch = flag(value),
                "allowWatchBookmarks" => o.bookmarks = flag(value),
                "sendInitialEvents" => o.send_initial_events = flag(value),
                "timeoutSeconds" => o.timeout_seconds = Some(number(key, value)?),
                "dryRun" => match value.as_str() {
                    "All" => o.dry_run = true,
                    "" => {}
                    other => return Err(ApiError::bad_request(format!("dryRun must be All, not {other:?}"))),
                },
                "fieldValidation" => o.field_validation = value.clone(),
                "propagationPolicy" => o.propagation_policy = value.clone(),
                "gracePeriodSeconds" => o.grace_period_seconds = Some(number(key, value)?),
                "includeObject" => o.include_object = value.clone(),
                "force" => o.force = flag(value),
                "fieldManager" => o.field_manager = value.clone(),
                _ => {}
            }
        }
        Ok(o)
    }
}

fn number(key: &str, value: &str) -> ApiResult<u64> {
    value
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{key} must be a non-negative whole number, not {value:?}")))
}

/// The body formats the server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json` (also the patch types, which are JSON).
    Json,
    /// `application/yaml`.
    Yaml,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

/// The media type of the body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Decodes a request body as the object it carries.
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let format = match content_type(headers).as_str() {
        "" | "application/json" | "*/*" => BodyFormat::Json,
        "application/yaml" | "application/apply-patch+yaml" => BodyFormat::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyFormat::Protobuf,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    decode_as(format, body)
}

/// Decodes bytes in a known format; errors say where the text is broken.
pub fn decode_as(format: BodyFormat, body: &[u8]) -> ApiResult<Value> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request has no body; send the object as JSON or YAML"));
    }
    match format {
        BodyFormat::Json => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ))
        }),
        BodyFormat::Yaml => {
            // The YAML scanner slows down sharply on deep flow nesting (`{a: {a: …`), and the
            // decoder refuses more than 128 levels anyway: refuse such bodies before scanning them.
            if flow_depth(body) > MAX_YAML_DEPTH {
                return Err(ApiError::bad_request(format!(
                    "the request body is not valid YAML: it nests more than {MAX_YAML_DEPTH} levels deep"
                )));
            }
            serde_norway::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))
        }
        BodyFormat::Protobuf => protobuf::decode(body).map_err(|e| match e {
            protobuf::ProtobufError::UnsupportedKind { .. } => ApiError::unsupported_media_type_because(e.to_string()),
            other => ApiError::bad_request(format!("the protobuf body cannot be read: {other}")),
        }),
    }
}

/// The deepest nesting the YAML decoder accepts (serde_norway's own limit).
const MAX_YAML_DEPTH: usize = 128;

/// How deep `[`/`{` nest in a YAML text, outside quoted strings and comments: an upper bound of
/// the flow nesting, cheap to find.
fn flow_depth(text: &[u8]) -> usize {
    let (mut depth, mut deepest, mut quote, mut comment) = (0usize, 0usize, None, false);
    let mut previous = b'\n';
    for &byte in text {
        match (quote, byte) {
            _ if comment => comment = byte != b'\n',
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'#') if previous.is_ascii_whitespace() => comment = true,
            (None, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = byte;
    }
    deepest
}

/// The shape of the answer a client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io/v1` Table (`kubectl get`).
    Table,
    /// `PartialObjectMetadata` / `PartialObjectMetadataList` (metadata-only clients).
    Metadata,
}

/// Picks the first answer shape in `Accept` that the server can produce.
pub fn output(headers: &HeaderMap) -> ApiResult<Output> {
    let Some(accept) = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Output::Object);
    };
    for choice in accept.split(',') {
        let mut parts = choice.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        let as_kind = params.iter().find_map(|p| p.strip_prefix("as="));
        let json_like = matches!(media, "application/json" | "application/yaml" | "*/*" | "application/*" | "");
        match (json_like, as_kind) {
            (true, Some("Table")) => return Ok(Output::Table),
            (true, Some("PartialObjectMetadata" | "PartialObjectMetadataList")) => return Ok(Output::Metadata),
            (true, None) => return Ok(Output::Object),
            // Protobuf answers are not produced; clients that ask for them also accept JSON.
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(accept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use gitops_sandbox_core::errors::Reason;

    fn parse(path: &str) -> ApiResult<Target> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", version, rest @ ..] => Target::parse(Registry::builtin(), "", version, rest, path),
            ["apis", group, version, rest @ ..] => Target::parse(Registry::builtin(), group, version, rest, path),
            _ => Err(ApiError::unknown_path(path)),
        }
    }

    #[test]
    fn namespaced_item_and_subresource_paths_parse() {
        let t = parse("/apis/apps/v1/namespaces/default/deployments/web/scale").unwrap();
        assert_eq!(
            (t.rt.kind.as_str(), t.namespace.as_deref(), t.name.as_deref(), t.subresource.as_deref()),
            ("Deployment", Some("default"), Some("web"), Some("scale"))
        );
    }

    #[test]
    fn namespaces_themselves_are_items_not_scopes() {
        let t = parse("/api/v1/namespaces/team").unwrap();
        assert_eq!((t.rt.kind.as_str(), t.name.as_deref()), ("Namespace", Some("team")));
        let t = parse("/api/v1/namespaces/team/status").unwrap();
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse("/api/v1/namespaces/team/pods").unwrap();
        assert_eq!((t.rt.kind.as_str(), t.namespace.as_deref(), t.name), ("Pod", Some("team"), None));
    }

    #[test]
    fn unknown_resources_and_subresources_are_not_found() {
        assert_eq!(parse("/api/v1/widgets").unwrap_err().reason, Reason::NotFound);
        assert_eq!(parse("/api/v1/namespaces/default/configmaps/x/scale").unwrap_err().reason, Reason::NotFound);
    }

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let mut headers = HeaderMap::new();
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,\
                       application/json";
        headers.insert("accept", HeaderValue::from_static(kubectl));
        assert_eq!(output(&headers).unwrap(), Output::Table);
        headers.insert("accept", HeaderValue::from_static("application/vnd.kubernetes.protobuf, */*"));
        assert_eq!(output(&headers).unwrap(), Output::Object);
        headers.insert("accept", HeaderValue::from_static("text/html"));
        assert_eq!(output(&headers).unwrap_err().reason, Reason::NotAcceptable);
    }

    #[test]
    fn bad_numbers_in_the_query_name_the_parameter() {
        let err = Options::parse(&[("limit".into(), "ten".into())]).unwrap_err();
        assert!(err.message.contains("limit"));
    }

    #[test]
    fn yaml_flow_nesting_is_counted_outside_quotes_and_comments() {
        assert_eq!(flow_depth(b"a: [1, {b: [2]}]\n"), 3);
        assert_eq!(flow_depth(b"a: '[[[[' # [[[[\nb: \"{{\"\n"), 0);
        let deep = "{a: ".repeat(200);
        let err = decode_as(BodyFormat::Yaml, deep.as_bytes()).unwrap_err();
        assert_eq!(err.reason, Reason::BadRequest);
        assert!(err.message.contains("nests more than 128 levels"), "{}", err.message);
    }
}

//! API errors, rendered in one place as the Kubernetes `Status` body that kubectl prints.

use crate::registry::ResourceType;
use serde_json::{Value, json};

/// What kind of problem a field has, with upstream's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Invalid value`
    Invalid,
    /// `Required value`
    Required,
    /// `Forbidden`
    Forbidden,
    /// `Unsupported value`
    NotSupported,
    /// `Duplicate value`
    Duplicate,
    /// `Too long`
    TooLong,
    /// `Not found`
    NotFound,
}

impl FieldErrorKind {
    /// The `reason` a `StatusCause` carries for this kind.
    pub fn cause_reason(self) -> &'static str {
        match self {
            Self::Invalid => "FieldValueInvalid",
            Self::Required => "FieldValueRequired",
            Self::Forbidden => "FieldValueForbidden",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
            Self::NotFound => "FieldValueNotFound",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Invalid => "Invalid value",
            Self::Required => "Required value",
            Self::Forbidden => "Forbidden",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
            Self::NotFound => "Not found",
        }
    }
}

/// One problem with one field of an object, as upstream's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The problem's kind.
    pub kind: FieldErrorKind,
    /// The field's path, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The offending value, printed for Invalid, Duplicate and NotSupported.
    pub value: Option<Value>,
    /// What is wrong, in plain words.
    pub detail: String,
}

impl FieldError {
    /// A field whose value breaks a rule.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Invalid, field: field.into(), value: Some(value), detail: detail.into() }
    }

    /// A field that must be set.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Required, field: field.into(), value: None, detail: detail.into() }
    }

    /// A field that must not be set or changed.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Forbidden, field: field.into(), value: None, detail: detail.into() }
    }

    /// A value outside an enumerated set.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Self {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: Some(value),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }

    /// A reference to something that does not exist, e.g. a volume a mount names.
    pub fn not_found(field: impl Into<String>, value: Value) -> Self {
        Self { kind: FieldErrorKind::NotFound, field: field.into(), value: Some(value), detail: String::new() }
    }

    /// A value that appears twice where it must be unique.
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self { kind: FieldErrorKind::Duplicate, field: field.into(), value: Some(value), detail: String::new() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.label())?;
        if let Some(value) = &self.value {
            write!(f, ": {}", go_value(&self.field, value))?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Fields whose Go type is `map[string]string`, printed as such in upstream's messages.
const STRING_MAP_FIELDS: [&str; 4] = ["labels", "matchLabels", "annotations", "nodeSelector"];

/// A value as upstream's messages print it (Go's `%#v`): strings quoted, string-map fields as
/// `map[string]string{"app":"web"}`; other structures fall back to JSON.
fn go_value(field: &str, value: &Value) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    match value {
        Value::Object(map) if STRING_MAP_FIELDS.contains(&last) && map.values().all(Value::is_string) => {
            let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{:?}:{}", k, v)).collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
        other => other.to_string(),
    }
}

/// What went wrong, by meaning: upstream's `StatusReason`s. Code deep inside (controllers, the
/// node) decides on these; only the HTTP edge turns one into a status code and a `Status` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The object (or path) does not exist.
    NotFound,
    /// An object with that name exists already.
    AlreadyExists,
    /// The write lost a race: a stale resourceVersion or a failed precondition.
    Conflict,
    /// The object breaks validation rules, or a patch cannot be applied.
    Invalid,
    /// The request itself is malformed.
    BadRequest,
    /// The caller may not do this, or the namespace refuses new content.
    Forbidden,
    /// No valid credentials.
    Unauthorized,
    /// A resourceVersion or continue token older than the kept history.
    Expired,
    /// The verb is not served for the resource.
    MethodNotAllowed,
    /// A body type the server does not read.
    UnsupportedMediaType,
    /// Nothing the client accepts can be produced.
    NotAcceptable,
    /// The body exceeds the size limit.
    RequestEntityTooLarge,
    /// Something failed inside the sandbox.
    InternalError,
}

/// An error the API answers with: its meaning, plus the `Status` fields kubectl reads.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What went wrong.
    pub reason: Reason,
    /// The sentence kubectl prints after `Error from server (Reason): `.
    pub message: String,
    /// `details` of the Status, when the error is about one object.
    pub details: Option<Value>,
}

/// Result type of the API layer.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into(), details: None }
    }

    /// Whether the object was not found.
    pub fn is_not_found(&self) -> bool {
        self.reason == Reason::NotFound
    }

    /// Whether the write lost a race: the object exists already, or changed since it was read.
    pub fn is_conflict(&self) -> bool {
        matches!(self.reason, Reason::Conflict | Reason::AlreadyExists)
    }

    fn about(mut self, rt: &ResourceType, name: &str) -> Self {
        self.details = Some(json!({"name": name, "group": rt.group, "kind": rt.plural}));
        self
    }

    /// `pods "nginx" not found`.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(Reason::NotFound, format!("{} \"{name}\" not found", rt.qualified_plural())).about(rt, name)
    }

    /// A path that names no served resource.
    pub fn unknown_path(path: &str) -> Self {
        Self::new(Reason::NotFound, format!("the server could not find the requested resource ({path})"))
    }

    /// `pods "nginx" already exists`.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(Reason::AlreadyExists, format!("{} \"{name}\" already exists", rt.qualified_plural())).about(rt, name)
    }

    /// The write was based on an old resourceVersion.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            Reason::Conflict,
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", rt.qualified_plural()),
        )
        .about(rt, name)
    }

    /// A conflict with a message of its own (server-side apply's field conflicts).
    pub fn conflict_with(message: impl Into<String>) -> Self {
        Self::new(Reason::Conflict, message)
    }

    /// A conflict with upstream's wording for a stale resourceVersion.
    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// The object breaks validation rules.
    pub fn invalid(rt: &ResourceType, name: &str, errors: &[FieldError]) -> Self {
        let text = match errors {
            [one] => one.to_string(),
            many => format!("[{}]", many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| {
                let message = e.to_string();
                let message = message.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&message).to_string();
                json!({"reason": e.kind.cause_reason(), "message": message, "field": e.field})
            })
            .collect();
        let mut err = Self::new(Reason::Invalid, format!("{} \"{name}\" is invalid: {text}", rt.qualified_kind()));
        err.details = Some(json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": causes}));
        err
    }

    /// A malformed request, with a message for the learner.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }

    /// A request that is well-formed but cannot be carried out (e.g. a patch that does not apply).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, message)
    }

    /// A refusal, with upstream's wording.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, message)
    }

    /// A missing or unknown token.
    pub fn unauthorized() -> Self {
        Self::new(Reason::Unauthorized, "Unauthorized")
    }

    /// A watch or continue token from a compacted resourceVersion.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(Reason::Expired, message)
    }

    /// The verb is not served for this resource.
    pub fn method_not_allowed(method: &str, rt: &ResourceType) -> Self {
        Self::new(
            Reason::MethodNotAllowed,
            format!(
                "the server does not allow this method on the requested resource ({method} {})",
                rt.qualified_plural()
            ),
        )
    }

    /// A verb not served on a path that names no resource type (discovery, `/version`).
    pub fn method_not_allowed_on(message: impl Into<String>) -> Self {
        Self::new(Reason::MethodNotAllowed, message)
    }

    /// A body type the server does not read.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, \
                    application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"
            ),
        )
    }

    /// An unsupported body type, with a specific reason.
    pub fn unsupported_media_type_because(message: impl Into<String>) -> Self {
        Self::new(Reason::UnsupportedMediaType, message)
    }

    /// Nothing the client accepts can be produced.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            Reason::NotAcceptable,
            format!(
                "only the following media types are accepted: application/json, application/yaml (asked for {accept:?})"
            ),
        )
    }

    /// The body exceeds the size limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            Reason::RequestEntityTooLarge,
            format!(
                "the request body is larger than the server accepts ({} MiB); split the manifest into smaller objects",
                limit / (1024 * 1024)
            ),
        )
    }

    /// Something failed inside the sandbox.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Reason::InternalError, format!("Internal error occurred: {}", message.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin_type;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let rt = builtin_type("apps", "deployments");
        let err = ApiError::not_found(rt, "nope");
        assert_eq!(err.message, "deployments.apps \"nope\" not found");
        assert_eq!(err.details.as_ref().unwrap()["kind"], "deployments");
    }

    #[test]
    fn invalid_reads_like_upstream() {
        let rt = builtin_type("apps", "deployments");
        let err = ApiError::invalid(
            rt,
            "x",
            &[FieldError::invalid("spec.replicas", json!(-1), "must be greater than or equal to 0")],
        );
        assert_eq!(
            err.message,
            "Deployment.apps \"x\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let cause = &err.details.as_ref().unwrap()["causes"][0];
        assert_eq!(cause["field"], "spec.replicas");
        assert_eq!(cause["message"], "Invalid value: -1: must be greater than or equal to 0");
    }

    #[test]
    fn string_maps_print_as_go_maps() {
        let e = FieldError::invalid(
            "spec.template.metadata.labels",
            json!({"app": "x", "tier": "web"}),
            "`selector` does not match template `labels`",
        );
        assert_eq!(
            e.to_string(),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\", \"tier\":\"web\"}: \
                `selector` does not match template `labels`"
        );
    }

    #[test]
    fn a_missing_reference_is_not_found() {
        let e = FieldError::not_found("spec.containers[0].volumeMounts[0].name", json!("data"));
        assert_eq!(e.to_string(), "spec.containers[0].volumeMounts[0].name: Not found: \"data\"");
    }

    #[test]
    fn unsupported_values_are_listed() {
        let e = FieldError::not_supported("spec.restartPolicy", json!("Sometimes"), &["Always", "Never"]);
        assert_eq!(
            e.to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"Never\""
        );
    }
}

//! The message descriptors of `data/messages.yaml`, parsed and cross-checked into a lookup table.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// A scalar protobuf type and how it reads from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// UTF-8 text.
    String,
    /// A varint read as a signed 32-bit number.
    Int32,
    /// A varint read as a signed 64-bit number.
    Int64,
    /// A varint, zero or not.
    Bool,
    /// Raw bytes, shown in JSON as standard base64.
    Bytes,
    /// A fixed64 IEEE double.
    Double,
}

/// A Kubernetes type that is a message on the wire but has its own JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `resource.Quantity`: a message holding one string, shown as that string.
    Quantity,
    /// `intstr.IntOrString`: a type tag plus an int or a string, shown as a number or a string.
    IntOrString,
    /// `metav1.Time`: seconds and nanos, shown as RFC 3339 to the second (`null` when zero).
    Time,
    /// `metav1.MicroTime`: like Time, with six fractional digits.
    MicroTime,
    /// `metav1.FieldsV1`: raw JSON bytes, shown as the JSON they hold.
    FieldsV1,
    /// A named `[]string` used as a map value (e.g. `ExtraValue`): repeated field 1, shown as an array.
    StringList,
}

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// A scalar.
    Scalar(Scalar),
    /// A type with its own JSON form.
    Special(Special),
    /// A nested message, by its name in the data file.
    Message(String),
    /// A repeated field (JSON array).
    Repeated(Box<FieldType>),
    /// A map with string keys (repeated key/value entries on the wire; a JSON object).
    Map(Box<FieldType>),
}

/// One field of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The JSON name; `None` when the sub-message's fields are inlined into the parent object.
    pub json: Option<String>,
    /// What the field holds.
    pub ty: FieldType,
    /// Emit the scalar even when it is zero (a Go pointer, or a field without `omitempty`).
    pub keep: bool,
    /// Write `null` when the field is absent (a Go list, map or pointer without `omitempty`).
    pub null_when_absent: bool,
}

/// All descriptors: which message each kind's body holds, and each message's fields by number.
#[derive(Debug)]
pub struct Schema {
    kinds: HashMap<(String, String), String>,
    messages: HashMap<String, HashMap<u32, Field>>,
}

#[derive(serde::Deserialize)]
struct DataFile {
    kinds: BTreeMap<String, String>,
    messages: BTreeMap<String, BTreeMap<u32, String>>,
}

static BUILTIN: LazyLock<Result<Schema, String>> = LazyLock::new(|| Schema::parse(include_str!("data/messages.yaml")));

impl Schema {
    /// The descriptors embedded in the binary (an error string if the data file is broken).
    pub fn builtin() -> Result<&'static Schema, String> {
        BUILTIN.as_ref().map_err(|err| format!("protobuf descriptors are broken: {err}"))
    }

    /// Parses a descriptor file and checks that every referenced message is described.
    pub fn parse(text: &str) -> Result<Schema, String> {
        let data: DataFile = serde_norway::from_str(text).map_err(|err| err.to_string())?;
        let mut kinds = HashMap::new();
        for (key, message) in data.kinds {
            let (api_version, kind) =
                key.split_once(' ').ok_or_else(|| format!("kind key {key:?} is not \"<apiVersion> <Kind>\""))?;
            kinds.insert((api_version.to_string(), kind.to_string()), message);
        }
        let mut messages = HashMap::new();
        for (name, fields) in &data.messages {
            let mut parsed = HashMap::new();
            for (number, spec) in fields {
                let field = parse_field(spec).map_err(|err| format!("{name} field {number}: {err}"))?;
                parsed.insert(*number, field);
            }
            messages.insert(name.clone(), parsed);
        }
        let schema = Schema { kinds, messages };
        schema.check_references()?;
        Ok(schema)
    }

    fn check_references(&self) -> Result<(), String> {
        for (kind, message) in &self.kinds {
            if !self.messages.contains_key(message) {
                return Err(format!("kind {} {} names the undescribed message {message}", kind.0, kind.1));
            }
        }
        for (name, fields) in &self.messages {
            for (number, field) in fields {
                let mut ty = &field.ty;
                while let FieldType::Repeated(inner) | FieldType::Map(inner) = ty {
                    ty = inner;
                }
                if let FieldType::Message(target) = ty
                    && !self.messages.contains_key(target)
                {
                    return Err(format!("{name} field {number} names the undescribed message {target}"));
                }
            }
        }
        Ok(())
    }

    /// The message a body of this apiVersion and kind holds, if described.
    pub fn message_for(&self, api_version: &str, kind: &str) -> Option<&str> {
        self.kinds.get(&(api_version.to_string(), kind.to_string())).map(String::as_str)
    }

    /// The fields of a described message.
    pub fn fields(&self, message: &str) -> Option<&HashMap<u32, Field>> {
        self.messages.get(message)
    }
}

fn parse_field(spec: &str) -> Result<Field, String> {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (json, ty, flag) = match words.as_slice() {
        [json, ty] => (json, ty, None),
        [json, ty, flag @ ("keep" | "null")] => (json, ty, Some(*flag)),
        _ => {
            return Err(format!("{spec:?} is not \"<json name> <type> [keep|null]\""));
        }
    };
    let json = (*json != "(inline)").then(|| json.to_string());
    Ok(Field { json, ty: parse_type(ty)?, keep: flag == Some("keep"), null_when_absent: flag == Some("null") })
}

fn parse_type(ty: &str) -> Result<FieldType, String> {
    if let Some(inner) = ty.strip_prefix("[]").or_else(|| ty.strip_prefix("map[string]")) {
        // The wire cannot nest repeats directly: such values travel wrapped in a message.
        if inner.starts_with("[]") || inner.starts_with("map[") {
            return Err(format!("{ty:?} nests a list or map directly; name the wrapping message instead"));
        }
        let inner = Box::new(parse_type(inner)?);
        return Ok(if ty.starts_with("[]") { FieldType::Repeated(inner) } else { FieldType::Map(inner) });
    }
    Ok(match ty {
        "string" => FieldType::Scalar(Scalar::String),
        "int32" => FieldType::Scalar(Scalar::Int32),
        "int64" => FieldType::Scalar(Scalar::Int64),
        "bool" => FieldType::Scalar(Scalar::Bool),
        "bytes" => FieldType::Scalar(Scalar::Bytes),
        "double" => FieldType::Scalar(Scalar::Double),
        "Quantity" => FieldType::Special(Special::Quantity),
        "IntOrString" => FieldType::Special(Special::IntOrString),
        "Time" => FieldType::Special(Special::Time),
        "MicroTime" => FieldType::Special(Special::MicroTime),
        "FieldsV1" => FieldType::Special(Special::FieldsV1),
        "StringList" => FieldType::Special(Special::StringList),
        name if name.contains('.') => FieldType::Message(name.to_string()),
        other => return Err(format!("unknown type {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_descriptors_load_and_every_reference_resolves() {
        let schema = Schema::builtin().unwrap();
        assert_eq!(schema.message_for("apps/v1", "Deployment"), Some("apps.v1.Deployment"));
        let spec = schema.fields("apps.v1.DeploymentSpec").unwrap();
        assert_eq!(
            spec[&1],
            Field {
                json: Some("replicas".into()),
                ty: FieldType::Scalar(Scalar::Int32),
                keep: true,
                null_when_absent: false
            }
        );
    }

    #[test]
    fn inline_fields_maps_and_repeats_are_parsed() {
        let schema = Schema::builtin().unwrap();
        let volume = schema.fields("core.v1.Volume").unwrap();
        assert_eq!(volume[&2].json, None);
        let secret = schema.fields("core.v1.Secret").unwrap();
        assert_eq!(secret[&2].ty, FieldType::Map(Box::new(FieldType::Scalar(Scalar::Bytes))));
        let meta = schema.fields("meta.v1.ObjectMeta").unwrap();
        assert_eq!(meta[&14].ty, FieldType::Repeated(Box::new(FieldType::Scalar(Scalar::String))));
        let rule = schema.fields("rbac.v1.PolicyRule").unwrap();
        assert!(rule[&1].null_when_absent && !rule[&2].null_when_absent);
    }

    #[test]
    fn a_reference_to_an_undescribed_message_is_refused() {
        let text = "kinds: {}\nmessages:\n  a.B:\n    1: spec a.Missing\n";
        let err = Schema::parse(text).unwrap_err();
        assert!(err.contains("a.B field 1 names the undescribed message a.Missing"), "{err}");
    }

    #[test]
    fn a_directly_nested_list_is_refused() {
        let text = "kinds: {}\nmessages:\n  a.B:\n    4: extra map[string][]string\n";
        let err = Schema::parse(text).unwrap_err();
        assert!(err.contains("a.B field 4: \"map[string][]string\" nests a list or map directly"), "{err}");
    }

    #[test]
    fn a_malformed_field_spec_is_refused_with_its_place() {
        let text = "kinds: {}\nmessages:\n  a.B:\n    3: spec Wobbly\n";
        let err = Schema::parse(text).unwrap_err();
        assert!(err.contains("a.B field 3: unknown type \"Wobbly\""), "{err}");
    }
}

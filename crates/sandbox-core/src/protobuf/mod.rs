//! Decoding of the protobuf bodies kubectl's `create <kind>` generators send (`application/vnd.kubernetes.protobuf`).
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message: field 1 the TypeMeta
//! (apiVersion, kind), field 2 the object's own message, fields 3 and 4 its content encoding and
//! type. The object is read by a generic wire decoder (`wire.rs`) guided by message descriptors kept
//! as data (`data/messages.yaml`, see `schema.rs`) and rendered as the JSON `kubectl create -f`
//! would have sent (`json.rs`): camelCase names, Go `omitempty` rules, quantities and int-or-strings
//! in their JSON forms, bytes as base64, times as RFC 3339 (`null` when zero).
//!
//! Choices: field numbers the descriptors do not know are skipped (protobuf semantics; the JSON
//! lacks them), while a known field with the wrong wire type, a truncated value or invalid UTF-8
//! is an error naming the JSON path, message and field. Kinds without descriptors are refused with
//! [`ProtobufError::UnsupportedKind`] rather than guessed at. Nested messages appear when the wire
//! carries them (Go always writes its non-pointer structs, hence `status: {}`); lists, maps and
//! pointers without `omitempty` that are absent become `null`, as Go's JSON encoder writes them.
//! kubectl accepts a JSON answer to these protobuf requests, so nothing here encodes protobuf.

mod json;
mod schema;
#[cfg(test)]
mod test_encoder;
mod wire;

use serde_json::{Map, Value};

use schema::Schema;
use wire::{Raw, Reader};

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

/// Why a protobuf body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body is not a Kubernetes protobuf envelope this server reads.
    #[error("{0}")]
    Unreadable(String),
    /// The envelope names a kind this server has no protobuf descriptors for.
    #[error("protobuf bodies of kind {kind} ({api_version}) are not supported by this server; send JSON instead")]
    UnsupportedKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The object's message is malformed at `path`.
    #[error("cannot decode the protobuf {kind} at {path}: {detail}")]
    Malformed {
        /// The kind being decoded.
        kind: String,
        /// The JSON path of the failing field (`<root>` for the object itself).
        path: String,
        /// What is wrong there.
        detail: String,
    },
}

/// What the `runtime.Unknown` envelope carries.
#[derive(Debug, Default, PartialEq)]
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

/// Decodes an envelope (`k8s\0` + runtime.Unknown) into the JSON object it carries.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(MAGIC).ok_or_else(|| {
        ProtobufError::Unreadable(
            "the body is not Kubernetes protobuf: it does not start with the bytes \"k8s\\0\"".into(),
        )
    })?;
    let envelope =
        envelope(rest).map_err(|err| ProtobufError::Unreadable(format!("cannot read the protobuf envelope: {err}")))?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::Unreadable(format!(
            "protobuf content encoding {:?} is not supported",
            envelope.content_encoding
        )));
    }
    if !(envelope.content_type.is_empty() || envelope.content_type.contains("protobuf")) {
        return Err(ProtobufError::Unreadable(format!(
            "the protobuf envelope carries {:?}, not a protobuf object",
            envelope.content_type
        )));
    }
    let schema = Schema::builtin().map_err(ProtobufError::Unreadable)?;
    let message = schema.message_for(&envelope.api_version, &envelope.kind).ok_or_else(|| {
        ProtobufError::UnsupportedKind { api_version: envelope.api_version.clone(), kind: envelope.kind.clone() }
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(envelope.api_version.clone()));
    object.insert("kind".into(), Value::String(envelope.kind.clone()));
    json::message_into(schema, message, envelope.raw, &mut object).map_err(|fail| ProtobufError::Malformed {
        kind: envelope.kind.clone(),
        path: if fail.path.is_empty() { "<root>".into() } else { fail.path.join(".") },
        detail: fail.detail,
    })?;
    Ok(Value::Object(object))
}

/// Reads runtime.Unknown: 1 TypeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType.
fn envelope(bytes: &[u8]) -> Result<Envelope<'_>, String> {
    let mut out = Envelope::default();
    let mut reader = Reader::new(bytes);
    while let Some(next) = reader.next_field() {
        match next? {
            (1, Raw::Len(type_meta)) => {
                let mut inner = Reader::new(type_meta);
                while let Some(next) = inner.next_field() {
                    match next? {
                        (1, Raw::Len(text)) => out.api_version = utf8(text, "apiVersion")?,
                        (2, Raw::Len(text)) => out.kind = utf8(text, "kind")?,
                        _ => {}
                    }
                }
            }
            (2, Raw::Len(raw)) => out.raw = raw,
            (3, Raw::Len(text)) => out.content_encoding = utf8(text, "contentEncoding")?,
            (4, Raw::Len(text)) => out.content_type = utf8(text, "contentType")?,
            (number @ 1..=4, raw) => {
                return Err(format!("field {number} should be length-delimited, not a {}", raw.wire_type().name()));
            }
            _ => {}
        }
    }
    if out.api_version.is_empty() || out.kind.is_empty() {
        return Err("it names no apiVersion and kind".into());
    }
    Ok(out)
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::test_encoder::Msg;
    use super::*;
    use serde_json::json;

    fn body(api_version: &str, kind: &str, object: Msg) -> Vec<u8> {
        let unknown = Msg::new()
            .msg(1, Msg::new().string(1, api_version).string(2, kind))
            .msg(2, object)
            .string(3, "")
            .string(4, "");
        [MAGIC, &unknown.encoded()].concat()
    }

    #[test]
    fn every_captured_kubectl_body_decodes_to_the_json_kubectl_prints_for_it() {
        // Each .pb is a body the real kubectl 1.32 POSTed; each .json is what the same command prints
        // with --dry-run=client -o json, i.e. the same Go object rendered as JSON (token.json, for
        // `create token` and `auth`, which have no dry run, were written with UPDATE_GOLDEN=1 and
        // checked by hand against the Go JSON rules).
        let dir = crate::crate_dir().join("src/protobuf/testdata");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "pb") {
                continue;
            }
            let got = decode(&std::fs::read(&path).unwrap()).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
                std::fs::write(path.with_extension("json"), text).unwrap();
            }
            let expected: Value = serde_json::from_slice(&std::fs::read(path.with_extension("json")).unwrap()).unwrap();
            assert_eq!(got, expected, "{}", path.display());
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} fixtures found in {}", dir.display());
    }

    #[test]
    fn a_body_without_the_magic_is_refused() {
        let err = decode(b"{\"kind\":\"Pod\"}").unwrap_err();
        assert!(err.to_string().contains("does not start with the bytes"), "{err}");
    }

    #[test]
    fn a_kind_without_descriptors_is_refused_by_name() {
        let err = decode(&body("example.com/v1", "Widget", Msg::new())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protobuf bodies of kind Widget (example.com/v1) are not supported by this server; send JSON instead"
        );
    }

    #[test]
    fn an_envelope_without_a_kind_is_unreadable() {
        let err = decode(&[MAGIC, &Msg::new().msg(2, Msg::new()).encoded()].concat()).unwrap_err();
        assert!(err.to_string().contains("names no apiVersion and kind"), "{err}");
    }

    #[test]
    fn an_encoded_envelope_is_refused() {
        let unknown = Msg::new().msg(1, Msg::new().string(1, "v1").string(2, "ConfigMap")).string(3, "gzip");
        let err = decode(&[MAGIC, &unknown.encoded()].concat()).unwrap_err();
        assert!(err.to_string().contains("content encoding \"gzip\""), "{err}");
    }

    #[test]
    fn a_namespace_decodes_with_type_meta_and_an_empty_status() {
        let namespace =
            Msg::new().msg(1, Msg::new().string(1, "team-a").msg(8, Msg::new())).msg(2, Msg::new()).msg(3, Msg::new());
        let got = decode(&body("v1", "Namespace", namespace)).unwrap();
        let want = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "creationTimestamp": null}, "spec": {}, "status": {}});
        assert_eq!(got, want);
    }

    #[test]
    fn a_malformed_object_names_the_path_of_the_bad_field() {
        let configmap = Msg::new().msg(1, Msg::new().varint(1, 3));
        let err = decode(&body("v1", "ConfigMap", configmap)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "cannot decode the protobuf ConfigMap at metadata.name: message meta.v1.ObjectMeta field 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn truncations_of_real_bodies_give_errors_or_values_but_never_panic() {
        let dir = crate::crate_dir().join("src/protobuf/testdata");
        let deployment = std::fs::read(dir.join("job-from-cronjob.pb")).unwrap();
        for end in 0..deployment.len() {
            let _ = decode(&deployment[..end]);
        }
        let errors = (0..deployment.len()).filter(|end| decode(&deployment[..*end]).is_err()).count();
        assert!(errors > deployment.len() / 2, "most truncations should be errors, got {errors}");
    }

    #[test]
    fn flipped_bytes_in_real_bodies_never_panic() {
        let dir = crate::crate_dir().join("src/protobuf/testdata");
        let original = std::fs::read(dir.join("deployment.pb")).unwrap();
        for at in 4..original.len() {
            for value in [0x00, 0x07, 0x80, 0xff] {
                let mut body = original.clone();
                body[at] = value;
                let _ = decode(&body);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY,
            0..256)) {
            let _ = decode(&[MAGIC, &tail].concat());
        }

        #[test]
        fn arbitrary_object_bytes_in_a_valid_envelope_never_panic(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..256)
        ) {
            let unknown = Msg::new().msg(1, Msg::new().string(1, "apps/v1").string(2, "Deployment")).bytes(2, &raw);
            let _ = decode(&[MAGIC, &unknown.encoded()].concat());
        }
    }
}

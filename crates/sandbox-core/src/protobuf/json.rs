//! Turns one protobuf message into the JSON object kubectl would have sent, guided by the descriptors.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::schema::{Field, FieldType, Scalar, Schema, Special};
use super::wire::{Raw, Reader};

/// Nesting deeper than this is refused, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Why a message could not be decoded, and where (JSON path from the object's root).
#[derive(Debug, PartialEq)]
pub struct Failure {
    /// JSON field names from the root down to the failing field (innermost last).
    pub path: Vec<String>,
    /// What went wrong there.
    pub detail: String,
}

impl Failure {
    fn new(detail: impl Into<String>) -> Self {
        Self { path: Vec::new(), detail: detail.into() }
    }

    fn under(mut self, name: &str) -> Self {
        self.path.insert(0, name.to_string());
        self
    }
}

/// Decodes the message `name` from `bytes` into `out` (fields already in `out` are merged into).
pub fn message_into(schema: &Schema, name: &str, bytes: &[u8], out: &mut Map<String, Value>) -> Result<(), Failure> {
    Decoder { schema, depth: 0 }.message_into(name, bytes, out)
}

struct Decoder<'s> {
    schema: &'s Schema,
    depth: usize,
}

impl Decoder<'_> {
    fn message_into(&mut self, name: &str, bytes: &[u8], out: &mut Map<String, Value>) -> Result<(), Failure> {
        let fields =
            self.schema.fields(name).ok_or_else(|| Failure::new(format!("no descriptor for message {name}")))?;
        if self.depth >= MAX_DEPTH {
            return Err(Failure::new(format!("messages nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let mut reader = Reader::new(bytes);
        while let Some(next) = reader.next_field() {
            let (number, raw) = next.map_err(|err| Failure::new(format!("in message {name}: {err}")))?;
            // Unknown field numbers are skipped, as protobuf readers do: newer clients may send newer fields.
            let Some(field) = fields.get(&number) else {
                continue;
            };
            self.field(field, raw, out).map_err(|fail| match &field.json {
                Some(json) if fail.path.is_empty() => {
                    Failure::new(format!("message {name} field {number}: {}", fail.detail)).under(json)
                }
                Some(json) => fail.under(json),
                None => fail,
            })?;
        }
        for field in fields.values().filter(|field| field.null_when_absent) {
            if let Some(json) = &field.json {
                out.entry(json.clone()).or_insert(Value::Null);
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn field(&mut self, field: &Field, raw: Raw<'_>, out: &mut Map<String, Value>) -> Result<(), Failure> {
        let Some(json) = &field.json else {
            // An embedded Go struct: its fields live in this same JSON object.
            let FieldType::Message(inner) = &field.ty else {
                return Err(Failure::new("only a message can be inlined"));
            };
            return self.message_into(inner, expect_len(raw)?, out);
        };
        match &field.ty {
            FieldType::Repeated(inner) => {
                let mut items = match out.remove(json) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                let result = self.repeated(inner, raw, &mut items);
                out.insert(json.clone(), Value::Array(items));
                result
            }
            FieldType::Map(inner) => {
                let (key, value) = self.map_entry(inner, expect_len(raw)?)?;
                let mut map = take_object(out, json);
                map.insert(key, value);
                out.insert(json.clone(), Value::Object(map));
                Ok(())
            }
            FieldType::Message(inner) => {
                // A repeated occurrence of a singular message merges into the first, as protobuf does.
                let mut map = take_object(out, json);
                let result = self.message_into(inner, expect_len(raw)?, &mut map);
                out.insert(json.clone(), Value::Object(map));
                result
            }
            FieldType::Scalar(scalar) => {
                let value = scalar_value(*scalar, raw)?;
                // Without `keep`, Go's `omitempty` drops a zero value from the JSON.
                if field.keep || !is_zero(&value) {
                    out.insert(json.clone(), value);
                } else {
                    out.remove(json);
                }
                Ok(())
            }
            FieldType::Special(special) => {
                out.insert(json.clone(), self.special(*special, expect_len(raw)?)?);
                Ok(())
            }
        }
    }

    fn repeated(&mut self, inner: &FieldType, raw: Raw<'_>, items: &mut Vec<Value>) -> Result<(), Failure> {
        match (inner, raw) {
            // Numbers may come packed: one length-delimited run of values.
            (FieldType::Scalar(scalar @ (Scalar::Int32 | Scalar::Int64 | Scalar::Bool)), Raw::Len(bytes)) => {
                let mut reader = Reader::new(bytes);
                while !reader.is_done() {
                    let value = reader.varint().map_err(Failure::new)?;
                    items.push(scalar_value(*scalar, Raw::Varint(value))?);
                }
                Ok(())
            }
            (FieldType::Scalar(Scalar::Double), Raw::Len(bytes)) => {
                if bytes.len() % 8 != 0 {
                    return Err(Failure::new("packed doubles are not a multiple of eight bytes"));
                }
                for chunk in bytes.chunks_exact(8) {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(chunk);
                    items.push(scalar_value(Scalar::Double, Raw::Fixed64(u64::from_le_bytes(word)))?);
                }
                Ok(())
            }
            _ => {
                items.push(self.value(inner, raw)?);
                Ok(())
            }
        }
    }

    /// A standalone value: an element of a repeated field or the value of a map entry.
    fn value(&mut self, ty: &FieldType, raw: Raw<'_>) -> Result<Value, Failure> {
        match ty {
            FieldType::Scalar(scalar) => scalar_value(*scalar, raw),
            FieldType::Special(special) => self.special(*special, expect_len(raw)?),
            FieldType::Message(name) => {
                let mut map = Map::new();
                self.message_into(name, expect_len(raw)?, &mut map)?;
                Ok(Value::Object(map))
            }
            FieldType::Repeated(_) | FieldType::Map(_) => Err(Failure::new("nested repeated fields are not supported")),
        }
    }

    /// A map entry is a small message: field 1 the key, field 2 the value.
    fn map_entry(&mut self, inner: &FieldType, bytes: &[u8]) -> Result<(String, Value), Failure> {
        let mut key = String::new();
        let mut value = None;
        let mut reader = Reader::new(bytes);
        while let Some(next) = reader.next_field() {
            match next.map_err(|err| Failure::new(format!("in a map entry: {err}")))? {
                (1, raw) => key = text(expect_len(raw)?)?,
                (2, raw) => value = Some(self.value(inner, raw).map_err(|fail| fail.under(&key))?),
                _ => {}
            }
        }
        let value = match value {
            Some(value) => value,
            None => self.value(inner, empty_raw(inner)).map_err(|fail| fail.under(&key))?,
        };
        Ok((key, value))
    }

    fn special(&mut self, special: Special, bytes: &[u8]) -> Result<Value, Failure> {
        let mut ints = [0i64; 3];
        let mut strings: [Option<&[u8]>; 3] = [None; 3];
        let mut reader = Reader::new(bytes);
        while let Some(next) = reader.next_field() {
            match next.map_err(|err| Failure::new(format!("in a {special:?}: {err}")))? {
                (n @ 1..=3, Raw::Varint(v)) => ints[n as usize - 1] = v as i64,
                (n @ 1..=3, Raw::Len(b)) => strings[n as usize - 1] = Some(b),
                _ => {}
            }
        }
        match special {
            Special::Quantity => Ok(Value::String(text(strings[0].unwrap_or(b"0"))?)),
            Special::IntOrString if ints[0] == 1 => Ok(Value::String(text(strings[2].unwrap_or_default())?)),
            Special::IntOrString => Ok(Value::from(ints[1] as i32)),
            Special::Time => timestamp(ints[0], ints[1] as i32, false),
            Special::MicroTime => timestamp(ints[0], ints[1] as i32, true),
            Special::StringList => string_list(bytes),
            Special::FieldsV1 => serde_json::from_slice(strings[0].unwrap_or(b"{}"))
                .map_err(|err| Failure::new(format!("fieldsV1 does not hold JSON: {err}"))),
        }
    }
}

/// The object already under `key` (to merge into), or a new one.
fn take_object(out: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match out.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Every occurrence of field 1 as a string, in order.
fn string_list(bytes: &[u8]) -> Result<Value, Failure> {
    let mut items = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(next) = reader.next_field() {
        if let (1, raw) = next.map_err(|err| Failure::new(format!("in a string list: {err}")))? {
            items.push(Value::String(text(expect_len(raw)?)?));
        }
    }
    Ok(Value::Array(items))
}

/// A present-but-empty wire value for a type, for map entries that omit their value.
fn empty_raw(ty: &FieldType) -> Raw<'static> {
    match ty {
        FieldType::Scalar(Scalar::Int32 | Scalar::Int64 | Scalar::Bool) => Raw::Varint(0),
        FieldType::Scalar(Scalar::Double) => Raw::Fixed64(0),
        _ => Raw::Len(&[]),
    }
}

fn expect_len(raw: Raw<'_>) -> Result<&[u8], Failure> {
    match raw {
        Raw::Len(bytes) => Ok(bytes),
        other => Err(Failure::new(format!("expected a length-delimited value, got a {}", other.wire_type().name()))),
    }
}

fn text(bytes: &[u8]) -> Result<String, Failure> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Failure::new("a string is not valid UTF-8"))
}

fn scalar_value(scalar: Scalar, raw: Raw<'_>) -> Result<Value, Failure> {
    match (scalar, raw) {
        (Scalar::String, Raw::Len(bytes)) => Ok(Value::String(text(bytes)?)),
        (Scalar::Bytes, Raw::Len(bytes)) => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
        // Negative int32s travel as ten-byte varints of their 64-bit sign extension; truncation restores them.
        (Scalar::Int32, Raw::Varint(v)) => Ok(Value::from(v as i64 as i32)),
        (Scalar::Int64, Raw::Varint(v)) => Ok(Value::from(v as i64)),
        (Scalar::Bool, Raw::Varint(v)) => Ok(Value::Bool(v != 0)),
        (Scalar::Double, Raw::Fixed64(bits)) => Number::from_f64(f64::from_bits(bits))
            .map(Value::Number)
            .ok_or_else(|| Failure::new("a double is not a finite number")),
        (scalar, raw) => Err(Failure::new(format!("expected {scalar:?}, got a {} value", raw.wire_type().name()))),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Go's zero time is `null` in JSON; otherwise RFC 3339 in UTC, with micros for MicroTime.
fn timestamp(seconds: i64, nanos: i32, micro: bool) -> Result<Value, Failure> {
    if seconds == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let at = jiff::Timestamp::new(seconds, nanos)
        .map_err(|err| Failure::new(format!("time {seconds}s {nanos}ns is out of range: {err}")))?;
    let base = at.strftime("%Y-%m-%dT%H:%M:%S");
    Ok(Value::String(if micro { format!("{base}.{:06}Z", nanos / 1000) } else { format!("{base}Z") }))
}

#[cfg(test)]
mod tests {
    use super::super::test_encoder::Msg;
    use super::*;
    use serde_json::json;

    fn decode(name: &str, bytes: &[u8]) -> Result<Value, Failure> {
        let mut out = Map::new();
        message_into(Schema::builtin().unwrap(), name, bytes, &mut out)?;
        Ok(Value::Object(out))
    }

    #[test]
    fn omitempty_zeros_are_dropped_pointer_zeros_kept_and_a_required_pointer_is_null() {
        let spec = Msg::new().varint(1, 0).varint(5, 0).varint(7, 0);
        assert_eq!(
            decode("apps.v1.DeploymentSpec", &spec.encoded()).unwrap(),
            json!({"replicas": 0, "selector": null})
        );
    }

    #[test]
    fn int_or_string_becomes_a_number_or_a_string() {
        let number = Msg::new().varint(3, 80).msg(4, Msg::new().varint(1, 0).varint(2, 8080).string(3, ""));
        let named = Msg::new().varint(3, 80).msg(4, Msg::new().varint(1, 1).varint(2, 0).string(3, "http"));
        assert_eq!(decode("core.v1.ServicePort", &number.encoded()).unwrap(), json!({"port": 80, "targetPort": 8080}));
        assert_eq!(decode("core.v1.ServicePort", &named.encoded()).unwrap(), json!({"port": 80, "targetPort": "http"}));
    }

    #[test]
    fn times_quantities_bytes_and_negative_numbers_take_their_json_forms() {
        let meta = Msg::new().msg(8, Msg::new().varint(1, 1_763_632_800)).varint(10, -5i64 as u64).msg(9, Msg::new());
        let decoded = decode("meta.v1.ObjectMeta", &meta.encoded()).unwrap();
        assert_eq!(
            decoded,
            json!({"creationTimestamp": "2025-11-20T10:00:00Z", "deletionGracePeriodSeconds": -5,
                "deletionTimestamp": null})
        );
        let limits = Msg::new().msg(1, Msg::new().string(1, "cpu").msg(2, Msg::new().string(1, "250m")));
        assert_eq!(
            decode("core.v1.ResourceRequirements", &limits.encoded()).unwrap(),
            json!({"limits": {"cpu": "250m"}})
        );
        let secret = Msg::new().msg(2, Msg::new().string(1, "k").bytes(2, &[0xff, 0x00]));
        assert_eq!(decode("core.v1.Secret", &secret.encoded()).unwrap(), json!({"data": {"k": "/wA="}}));
    }

    #[test]
    fn a_map_of_string_lists_becomes_an_object_of_arrays() {
        let extra = Msg::new().string(1, "scopes").msg(2, Msg::new().string(1, "a").string(1, "b"));
        let user = Msg::new().string(1, "alice").msg(4, extra);
        let want = json!({"username": "alice", "extra": {"scopes": ["a", "b"]}});
        assert_eq!(decode("authentication.v1.UserInfo", &user.encoded()).unwrap(), want);
    }

    #[test]
    fn an_embedded_struct_is_inlined_into_its_parent() {
        let volume =
            Msg::new().string(1, "cfg").msg(2, Msg::new().msg(19, Msg::new().msg(1, Msg::new().string(1, "app"))));
        assert_eq!(
            decode("core.v1.Volume", &volume.encoded()).unwrap(),
            json!({"name": "cfg", "configMap": {"name": "app"}})
        );
    }

    #[test]
    fn packed_and_unpacked_repeated_numbers_both_read() {
        let packed = Msg::new().bytes(1, &[1, 2, 3]);
        let mut out = Vec::new();
        let mut decoder = Decoder { schema: Schema::builtin().unwrap(), depth: 0 };
        let int32s = FieldType::Scalar(Scalar::Int32);
        let encoded = packed.encoded();
        let Some((_, raw)) = Reader::new(&encoded).next_field().and_then(Result::ok) else { panic!("no field") };
        decoder.repeated(&int32s, raw, &mut out).unwrap();
        decoder.repeated(&int32s, Raw::Varint(4), &mut out).unwrap();
        assert_eq!(out, vec![json!(1), json!(2), json!(3), json!(4)]);
    }

    #[test]
    fn an_eviction_keeps_a_zero_grace_period_because_it_is_a_pointer() {
        let options = Msg::new().varint(1, 0).string(4, "Background");
        let eviction = Msg::new().msg(1, Msg::new().string(1, "web-1").string(3, "shop")).msg(2, options);
        let want = json!({"metadata": {"name": "web-1", "namespace": "shop"},
            "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Background"}});
        assert_eq!(decode("policy.v1.Eviction", &eviction.encoded()).unwrap(), want);
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let container = Msg::new().string(1, "app").string(999, "from the future").varint(998, 7);
        assert_eq!(decode("core.v1.Container", &container.encoded()).unwrap(), json!({"name": "app"}));
    }

    #[test]
    fn a_wrong_wire_type_names_the_path_message_and_field() {
        let deployment =
            Msg::new().msg(2, Msg::new().msg(3, Msg::new().msg(2, Msg::new().msg(2, Msg::new().varint(1, 5)))));
        let fail = decode("apps.v1.Deployment", &deployment.encoded()).unwrap_err();
        assert_eq!(fail.path, ["spec", "template", "spec", "containers", "name"]);
        assert!(
            fail.detail.contains("message core.v1.Container field 1: expected String, got a varint"),
            "{}",
            fail.detail
        );
    }
}

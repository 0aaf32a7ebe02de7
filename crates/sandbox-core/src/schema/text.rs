//! Checks on the text of scalar values that upstream decodes by hand: base64 bytes and quantities.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// What a scalar's text must be, beyond its JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextRule {
    /// Any text.
    #[default]
    Plain,
    /// Standard base64 (`format: byte`).
    Base64,
    /// A resource quantity such as `500m` or `128Mi`.
    Quantity,
}

/// Upstream's message for text outside the quantity grammar (the pattern is part of it).
const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Upstream's message for a well-formed quantity with an unknown suffix, e.g. `500mi`.
const QUANTITY_SUFFIX: &str = "unable to parse quantity's suffix";

/// Suffixes a quantity may end with besides a decimal exponent (`e3`, `E-2`).
const QUANTITY_SUFFIXES: [&str; 16] =
    ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"];

/// Go decodes `format: byte` strings as standard base64 and reports the first bad offset.
pub fn base64_error(data: &str) -> Option<String> {
    use base64::DecodeError;
    let err = base64::engine::general_purpose::STANDARD.decode(data).err()?;
    let offset = match err {
        DecodeError::InvalidByte(offset, _) | DecodeError::InvalidLastSymbol(offset, _) => offset,
        // Go stops at the start of the incomplete group of four.
        DecodeError::InvalidLength(len) => len - len % 4,
        DecodeError::InvalidPadding => data.len() - data.len() % 4,
    };
    Some(format!("illegal base64 data at input byte {offset}"))
}

/// Upstream's error for a quantity field's JSON value, or `None` when it parses. Numbers always
/// parse; strings are parsed after trimming; anything else fails on its JSON text.
pub fn quantity_error(value: &Value) -> Option<String> {
    let error = match value {
        Value::Null | Value::Number(_) => None,
        Value::String(text) => quantity_text_error(text.trim()),
        _ => Some(QUANTITY_FORMAT),
    };
    error.map(String::from)
}

/// Follows upstream's scanner: sign, digits, optional fraction, then suffix letters, an optional
/// sign and digits; the suffix must then be a known one or a decimal exponent.
fn quantity_text_error(text: &str) -> Option<&'static str> {
    if text.is_empty() {
        return Some(QUANTITY_FORMAT);
    }
    let bytes = text.as_bytes();
    let mut pos = usize::from(matches!(bytes[0], b'+' | b'-'));
    pos += digits(&bytes[pos..]);
    if bytes.get(pos) == Some(&b'.') {
        pos += 1 + digits(&bytes[pos + 1..]);
    }
    let suffix_start = pos;
    while pos < bytes.len() && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < bytes.len() && matches!(bytes[pos], b'+' | b'-') {
        pos += 1;
    }
    pos += digits(&bytes[pos..]);
    if pos < bytes.len() {
        return Some(QUANTITY_FORMAT);
    }
    let suffix = &text[suffix_start..];
    let known = QUANTITY_SUFFIXES.contains(&suffix) || decimal_exponent(suffix);
    (!known).then_some(QUANTITY_SUFFIX)
}

fn digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// `e3`, `E-2`, `e+10`: an exponent letter followed by a whole number.
fn decimal_exponent(suffix: &str) -> bool {
    let Some(rest) = suffix.strip_prefix(['e', 'E']) else {
        return false;
    };
    !rest.is_empty() && rest.parse::<i64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn well_formed_quantities_parse() {
        for text in ["500m", "128Mi", "1Gi", "0.5", ".5", "1.", "2", "1e3", "1E", "1E-2", "+1k", "-3", " 64Mi ", "0"] {
            assert_eq!(quantity_error(&json!(text)), None, "{text}");
        }
        assert_eq!(quantity_error(&json!(0.25)), None);
        assert_eq!(quantity_error(&json!(null)), None);
    }

    #[test]
    fn text_outside_the_grammar_is_refused_with_upstreams_pattern() {
        for text in ["128MB", "1Gb", "abc", "", "1.2.3", "10 Mi"] {
            assert_eq!(quantity_error(&json!(text)).as_deref(), Some(QUANTITY_FORMAT), "{text}");
        }
        assert_eq!(quantity_error(&json!(true)).as_deref(), Some(QUANTITY_FORMAT));
    }

    #[test]
    fn an_unknown_suffix_is_refused_as_a_suffix_error() {
        for text in ["500mi", "3Mm", "1e", "2kk", "1MiB3"] {
            let expected = if text == "1MiB3" { QUANTITY_FORMAT } else { QUANTITY_SUFFIX };
            assert_eq!(quantity_error(&json!(text)).as_deref(), Some(expected), "{text}");
        }
    }

    #[test]
    fn bad_base64_names_the_offset_go_reports() {
        assert_eq!(base64_error("cGFzc3dvcmQ="), None);
        assert_eq!(base64_error("hello").as_deref(), Some("illegal base64 data at input byte 4"));
        assert_eq!(base64_error("ab$d").as_deref(), Some("illegal base64 data at input byte 2"));
    }
}

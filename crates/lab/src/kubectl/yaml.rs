//! YAML as kubectl prints it (`-o yaml`, `kubectl diff`): the style of the Go YAML library kubectl
//! uses, so that the lab's output reads the same as the learner's own kubectl. Keys are sorted
//! (digit runs compared as numbers), sequences sit at their key's indentation, strings are plain
//! unless YAML 1.1 would read them as something else (`"True"`, `"40"`, timestamps: double quotes)
//! or they cannot be plain (`'a: b'`: single quotes), and text with line breaks is a literal block.

use serde_json::{Map, Value};

/// `value` as kubectl's YAML.
pub fn to_kubectl_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n(' ', level));
}

fn write_map(out: &mut String, map: &Map<String, Value>, level: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| natural_order(a, b));
    for key in keys {
        indent(out, level);
        out.push_str(&string_text(key, level));
        out.push(':');
        write_value_after_key(out, &map[key], level);
    }
}

/// A value after `key:` — inline for scalars and empty collections, on the next lines otherwise.
fn write_value_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level + 2);
        }
        // Sequences in a mapping are not indented further (the Go library's style).
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, level);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, level + 2));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key follows the dash; the others line up under it.
                let mut nested = String::new();
                write_map(&mut nested, map, level + 2);
                out.push(' ');
                out.push_str(&nested[level + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                write_seq(&mut nested, inner, level + 2);
                out.push(' ');
                out.push_str(&nested[level + 2..]);
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar, level + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, level: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s, level),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string: plain, single-quoted, double-quoted or a literal block, as the Go library chooses.
fn string_text(s: &str, level: usize) -> String {
    if s.contains('\n') {
        if literal_allowed(s) {
            return literal(s, level);
        }
        return double_quoted(s);
    }
    if reads_as_another_type(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    if s.chars().all(|c| c == ' ' || !c.is_control()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

/// Whether YAML 1.1 would read the plain text as a non-string: booleans, null, numbers, timestamps.
fn reads_as_another_type(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no",
        "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", ".inf", ".Inf", ".INF", "-.inf",
        "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits = unsigned.replace('_', "");
    let is_int = !digits.is_empty()
        && (digits.chars().all(|c| c.is_ascii_digit())
            || digits.strip_prefix("0x").is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || digits.strip_prefix("0b").is_some_and(|b| !b.is_empty() && b.chars().all(|c| c == '0' || c == '1')));
    let is_float =
        unsigned.parse::<f64>().is_ok() && unsigned.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.');
    // Base-60 numbers (`1:20`) are YAML 1.1 floats.
    let base60 = unsigned.contains(':')
        && unsigned.split(':').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    is_int || is_float || base60 || is_timestamp(s)
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[8..10].iter().all(u8::is_ascii_digit);
    date && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' '))
}

/// Whether the text may be written without quotes.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    if first == ' ' || last == ' ' {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-`, `?` and `:` may start plain text when followed by a non-space.
        let second = s.chars().nth(1);
        if !("-?:".contains(first) && second.is_some_and(|c| c != ' ')) {
            return false;
        }
    }
    // A tab is a control character too.
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(|c| c.is_control() || c == '\u{feff}'))
}

fn literal_allowed(s: &str) -> bool {
    !s.chars().any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
        && !s.lines().any(|l| l.ends_with(' '))
        && !s.starts_with(' ')
        && !s.starts_with('\n')
}

/// A literal block (`|`, `|-` without a final line break, `|+` with several), indented under its key.
fn literal(s: &str, level: usize) -> String {
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let mut text = format!("|{chomp}");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        text.push('\n');
        if !line.is_empty() {
            text.push_str(&" ".repeat(level));
            text.push_str(line);
        }
    }
    text
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Go library's key order: character by character, but runs of digits compared as numbers.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let run = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut digits = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        digits.push(c);
                        it.next();
                    }
                    digits
                };
                let (m, n) = (run(&mut x), run(&mut y));
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let order = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if order != std::cmp::Ordering::Equal {
                    return order;
                }
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                x.next();
                y.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_only_where_the_go_library_quotes_them() {
        let value = json!({"a": "40", "b": "True", "c": "2026-12-03T14:20:06Z", "d": "plain text", "e": "a: b",
            "f": "", "g": "echo \"<pre>$(cowsay -b 'Hello')</pre>\" > /data/index.html", "h": "-x", "i": "- x"});
        assert_eq!(
            to_kubectl_yaml(&value),
            "a: \"40\"\nb: \"True\"\nc: \"2026-12-03T14:20:06Z\"\nd: plain text\ne: 'a: b'\nf: \"\"\ng: echo \"<pre>$(cowsay -b 'Hello')</pre>\" > /data/index.html\nh: -x\ni: '- x'\n"
        );
    }

    #[test]
    fn sequences_sit_at_their_keys_indentation_and_maps_follow_the_dash() {
        let value =
            json!({"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 80}]}], "volumes": []}});
        assert_eq!(
            to_kubectl_yaml(&value),
            "spec:\n  containers:\n  - name: nginx\n    ports:\n    - containerPort: 80\n  volumes: []\n"
        );
    }

    #[test]
    fn text_with_line_breaks_is_a_literal_block() {
        let value = json!({"data": {"page": "<h1>Hi</h1>\n<p>there</p>\n", "trimmed": "a\nb"}});
        assert_eq!(
            to_kubectl_yaml(&value),
            "data:\n  page: |\n    <h1>Hi</h1>\n    <p>there</p>\n  trimmed: |-\n    a\n    b\n"
        );
    }

    #[test]
    fn digit_runs_sort_as_numbers() {
        let mut keys = vec!["a10", "a9", "b", "a1"];
        keys.sort_by(|a, b| natural_order(a, b));
        assert_eq!(keys, ["a1", "a9", "a10", "b"]);
    }
}

//! Field selectors: `a=b,c!=d` over the fields each kind supports, as listed in `data/fields.yaml`.

use crate::registry::ResourceType;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Where a field's value is read from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Source {
    /// One path.
    Path(String),
    /// Several paths; the first non-empty value wins.
    FirstOf(Vec<String>),
    /// A path with the text an absent field stands for.
    WithDefault { path: String, default: String },
}

/// The fields one kind accepts and how it words a refusal.
#[derive(Debug, Clone, Deserialize)]
struct KindFields {
    error: String,
    fields: BTreeMap<String, Source>,
}

#[derive(Debug, Deserialize)]
struct FieldTable {
    default: KindFields,
    kinds: BTreeMap<String, KindFields>,
}

fn table() -> &'static FieldTable {
    static TABLE: OnceLock<FieldTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_norway::from_str(include_str!("data/fields.yaml"))
            .expect("selectors/data/fields.yaml is valid (checked by a unit test)")
    })
}

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    value: String,
    negated: bool,
    source: Source,
}

/// A parsed `fieldSelector`. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<Term>,
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` for a kind; rejects fields the kind does not support.
    pub fn parse(rt: &ResourceType, text: &str) -> Result<Self, String> {
        let kind = table().kinds.get(&rt.qualified_kind()).unwrap_or(&table().default);
        let mut parts = split_unescaped(text, ',');
        parts.sort();
        let mut raw = Vec::new();
        for part in parts.iter().filter(|p| !p.is_empty()) {
            let (field, negated, value) =
                split_term(part).ok_or_else(|| format!("invalid selector: '{text}'; can't understand '{part}'"))?;
            raw.push((field.to_string(), negated, unescape(value)?));
        }
        // Upstream checks the syntax of every term before it checks any field name.
        let mut terms = Vec::new();
        for (field, negated, value) in raw {
            let Some(source) = kind.fields.get(&field) else {
                return Err(kind.error.replace("{field}", &field));
            };
            terms.push(Term { field, value, negated, source: source.clone() });
        }
        Ok(Self { terms })
    }

    /// A selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Whether this selector places no condition at all.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value a plain `field=value` term requires, if there is one (e.g. `metadata.name`).
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|t| t.field == field && !t.negated).map(|t| t.value.as_str())
    }

    /// Whether the object matches every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|t| (read(obj, &t.source) == t.value) != t.negated)
    }
}

/// Splits on a separator that is not escaped with a backslash; escapes stay in place.
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        let last = parts.last_mut().expect("parts is never empty");
        if escaped {
            last.push(c);
            escaped = false;
        } else if c == '\\' {
            last.push(c);
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    parts
}

/// Finds the first operator (`!=`, `==`, then `=`) from the left: `(field, negated, value)`.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], negated, value));
            }
        }
    }
    None
}

/// Removes the backslash escapes `\\`, `\,` and `\=`; other escapes and bare `,`/`=` are errors.
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(format!("invalid field selector: invalid escape sequence: \\{e}")),
                None => return Err("invalid field selector: invalid escape sequence: \\".to_string()),
            },
            // Upstream prints the rune as a number here.
            ',' | '=' => {
                return Err(format!("invalid field selector: unescaped character in value: {}", c as u32));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The text a field has in an object; absent fields read as the source's default or "".
fn read(obj: &Value, source: &Source) -> String {
    match source {
        Source::Path(path) => text_at(obj, path).unwrap_or_default(),
        Source::FirstOf(paths) => {
            paths.iter().find_map(|p| text_at(obj, p).filter(|s| !s.is_empty())).unwrap_or_default()
        }
        Source::WithDefault { path, default } => text_at(obj, path).unwrap_or_else(|| default.clone()),
    }
}

/// Follows `.a.b[0].c` and renders the leaf as text (strings as-is, numbers and booleans printed).
fn text_at(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for segment in path.trim_start_matches('.').split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    fn rt(kind: &str) -> &'static ResourceType {
        Registry::builtin().types().iter().find(|t| t.kind == kind).expect("kind is served")
    }

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}]}
        })
    }

    #[test]
    fn the_data_file_parses_and_names_served_kinds() {
        let served: Vec<String> = Registry::builtin().types().iter().map(|t| t.qualified_kind()).collect();
        for kind in table().kinds.keys() {
            assert!(served.contains(kind), "{kind} is not a served kind");
        }
    }

    #[test]
    fn equality_and_inequality_terms_match() {
        let p = pod();
        let sel = |t: &str| FieldSelector::parse(rt("Pod"), t).unwrap();
        assert!(sel("status.phase=Running").matches(&p));
        assert!(sel("status.phase==Running,spec.nodeName=node-a").matches(&p));
        assert!(!sel("status.phase!=Running").matches(&p));
        assert!(sel("metadata.name=web-1,metadata.namespace=default").matches(&p));
        assert!(sel("status.podIP=10.0.0.7").matches(&p));
        assert!(!sel("metadata.name=web-2").matches(&p));
    }

    #[test]
    fn absent_fields_read_as_empty_or_their_default() {
        let p = pod();
        let sel = |t: &str| FieldSelector::parse(rt("Pod"), t).unwrap();
        assert!(sel("status.nominatedNodeName=").matches(&p));
        assert!(sel("spec.hostNetwork=false").matches(&p));
        let node = json!({"metadata": {"name": "n"}});
        assert!(FieldSelector::parse(rt("Node"), "spec.unschedulable=false").unwrap().matches(&node));
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 1}});
        assert!(FieldSelector::parse(rt("Job"), "status.successful=1").unwrap().matches(&job));
    }

    #[test]
    fn event_source_falls_back_to_the_reporting_component() {
        let ev = json!({"metadata": {"name": "e"}, "reportingComponent": "kubelet", "involvedObject": {"kind": "Pod"}});
        let sel = FieldSelector::parse(rt("Event"), "source=kubelet,involvedObject.kind=Pod").unwrap();
        assert!(sel.matches(&ev));
    }

    #[test]
    fn empty_text_selects_everything() {
        let sel = FieldSelector::parse(rt("Pod"), "").unwrap();
        assert!(sel.is_empty());
        assert!(sel.matches(&json!({})));
    }

    #[test]
    fn unsupported_fields_use_the_kinds_wording() {
        let err = |k: &str, t: &str| FieldSelector::parse(rt(k), t).unwrap_err();
        assert_eq!(err("Pod", "foo=bar"), "field label not supported: foo");
        assert_eq!(err("Namespace", "metadata.namespace=x"), "field label not supported: metadata.namespace");
        assert_eq!(err("Job", "spec.x=1"), "field label \"spec.x\" not supported for batchv1.Job");
        assert_eq!(
            err("ConfigMap", "data.x=1"),
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
    }

    #[test]
    fn syntax_errors_are_reported_before_field_names() {
        let err = FieldSelector::parse(rt("Pod"), "foo=bar,status.phase").unwrap_err();
        assert_eq!(err, "invalid selector: 'foo=bar,status.phase'; can't understand 'status.phase'");
    }

    #[test]
    fn escapes_are_unescaped_and_bare_specials_refused() {
        let cm = json!({"metadata": {"name": "a,b"}});
        assert!(FieldSelector::parse(rt("ConfigMap"), r"metadata.name=a\,b").unwrap().matches(&cm));
        let err = FieldSelector::parse(rt("ConfigMap"), "metadata.name=a=b").unwrap_err();
        assert_eq!(err, "invalid field selector: unescaped character in value: 61");
        let err = FieldSelector::parse(rt("ConfigMap"), r"metadata.name=a\b").unwrap_err();
        assert_eq!(err, r"invalid field selector: invalid escape sequence: \b");
    }

    #[test]
    fn a_plain_name_term_is_exposed_for_lookups() {
        let sel = FieldSelector::parse(rt("Pod"), "metadata.name=web-1").unwrap();
        assert_eq!(sel.required_value("metadata.name"), Some("web-1"));
        assert_eq!(sel.required_value("status.phase"), None);
    }
}

//! Manifest files: YAML or JSON, several documents, read the way kubectl reads them, with every
//! problem reported by file, line and field.

use gitops_lab_protocol::{ErrorView, Text};
use serde_json::{Map, Value};

/// One object of a manifest file.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The file's name as the learner knows it.
    pub source: String,
    /// The line (1-based) where the object's document starts.
    pub line: usize,
    /// The object as JSON.
    pub object: Value,
}

impl Manifest {
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.object.get("apiVersion").and_then(Value::as_str).unwrap_or_default()
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.object.get("kind").and_then(Value::as_str).unwrap_or_default()
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
    }

    /// `metadata.namespace`, if the file sets one.
    pub fn namespace(&self) -> Option<&str> {
        self.object.pointer("/metadata/namespace").and_then(Value::as_str).filter(|ns| !ns.is_empty())
    }

    /// `file:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.source, self.line)
    }
}

/// A manifest that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {message}")]
pub struct ManifestError {
    /// The file.
    pub source_name: String,
    /// The line (1-based).
    pub line: usize,
    /// The field, when one is to blame.
    pub field: Option<String>,
    /// What is wrong (English).
    pub message: String,
    /// What is wrong (Chinese).
    pub message_zh: String,
}

impl ManifestError {
    /// The learner's view: the file, line and field, and what to do.
    pub fn view(&self) -> ErrorView {
        let place = format!("{}:{}", self.source_name, self.line);
        let field = self.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        ErrorView::new(
            "invalid-manifest",
            Text::new(format!("{place}{field}: {}", self.message), format!("{place}{field}：{}", self.message_zh)),
        )
        .with_hint(Text::new(
            "Fix the file at that line and try again; nothing was applied from this file.",
            "请修改该文件中这一行后重试；此文件中的内容都没有被应用。",
        ))
    }
}

/// Reads every object of a manifest file. Empty documents are skipped; `kind: List` is expanded.
/// Nothing is returned unless every document reads, so a broken file never applies halfway.
pub fn parse(source: &str, text: &str) -> Result<Vec<Manifest>, ManifestError> {
    let mut manifests = Vec::new();
    for (start, document) in split_documents(text) {
        let Some(value) = parse_document(source, start, &document)? else { continue };
        for (line, object) in expand_lists(value, start) {
            check_object(source, line, &object)?;
            manifests.push(Manifest { source: source.to_string(), line, object });
        }
    }
    Ok(manifests)
}

/// Splits on lines that start with `---` followed only by spaces (as kubectl's YAML reader does),
/// giving each document with the line its text starts on.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (index, line) in text.lines().enumerate() {
        let is_separator = line.strip_prefix("---").is_some_and(|rest| rest.trim().is_empty());
        if is_separator {
            documents.push((start, std::mem::take(&mut current)));
            start = index + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push((start, current));
    documents
}

fn parse_document(source: &str, start: usize, document: &str) -> Result<Option<Value>, ManifestError> {
    let meaningful = document.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    if !meaningful {
        return Ok(None);
    }
    let yaml: serde_norway::Value = serde_norway::from_str(document).map_err(|error| {
        let line = error.location().map(|l| l.line()).unwrap_or(1);
        let detail = error.to_string();
        ManifestError {
            source_name: source.into(),
            line: start + line.saturating_sub(1),
            field: None,
            message: format!("this is not valid YAML: {detail}"),
            message_zh: format!("这不是合法的 YAML：{detail}"),
        }
    })?;
    if yaml.is_null() {
        return Ok(None);
    }
    yaml_to_json(yaml).map(Some).map_err(|message| ManifestError {
        source_name: source.into(),
        line: start,
        field: None,
        message_zh: message.clone(),
        message,
    })
}

/// YAML to JSON the way kubectl's converter does it: keys that are numbers or booleans become strings.
fn yaml_to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                serde_json::Number::from_f64(f).map(Value::Number).ok_or(format!("the number {f} cannot be used"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect::<Result<_, _>>()?),
        Y::Mapping(map) => {
            let mut object = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key must be a plain value, not {other:?}")),
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// `kind: List` (or any `…List` with `items`) becomes its items, each at the list's line.
fn expand_lists(value: Value, line: usize) -> Vec<(usize, Value)> {
    let is_list = value.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![(line, value)];
    }
    match value {
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items.into_iter().flat_map(|item| expand_lists(item, line)).collect(),
            _ => Vec::new(),
        },
        other => vec![(line, other)],
    }
}

fn check_object(source: &str, line: usize, object: &Value) -> Result<(), ManifestError> {
    let fail = |field: &str, en: &str, zh: &str| ManifestError {
        source_name: source.into(),
        line,
        field: Some(field.into()),
        message: en.into(),
        message_zh: zh.into(),
    };
    if !object.is_object() {
        return Err(fail(
            "<document>",
            "the document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)",
            "该文档不是 Kubernetes 对象（应为包含 apiVersion、kind 和 metadata 的映射）",
        ));
    }
    let text = |path: &str| object.pointer(path).and_then(Value::as_str).filter(|s| !s.is_empty());
    if text("/apiVersion").is_none() {
        return Err(fail("apiVersion", "apiVersion is not set", "没有设置 apiVersion"));
    }
    if text("/kind").is_none() {
        return Err(fail("kind", "kind is not set", "没有设置 kind"));
    }
    if object.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(fail("metadata", "metadata must be a mapping", "metadata 必须是映射"));
    }
    if text("/metadata/name").is_none() && text("/metadata/generateName").is_none() {
        return Err(fail("metadata.name", "metadata.name is not set", "没有设置 metadata.name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_starting_lines_and_empty_ones_are_skipped() {
        let text = "# a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n";
        let manifests = parse("f.yaml", text).unwrap();
        assert_eq!(manifests.len(), 2);
        assert_eq!((manifests[0].line, manifests[0].kind()), (3, "Namespace"));
        assert_eq!((manifests[1].line, manifests[1].name()), (10, "b"));
    }

    #[test]
    fn a_yaml_error_names_the_file_and_the_line_in_the_whole_file() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n   bad: [\n";
        let error = parse("cm.yaml", text).unwrap_err();
        assert_eq!(error.source_name, "cm.yaml");
        assert!(error.line >= 9, "line {}", error.line);
        assert!(error.view().message.en.starts_with("cm.yaml:"));
    }

    #[test]
    fn a_missing_kind_is_reported_with_its_field() {
        let error = parse("x.yaml", "apiVersion: v1\nmetadata:\n  name: a\n").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("kind"));
        assert_eq!(error.line, 1);
    }

    #[test]
    fn lists_are_expanded_and_json_is_accepted() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}},{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}]}"#;
        let names: Vec<_> = parse("l.json", text).unwrap().iter().map(|m| m.name().to_string()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn numeric_keys_become_strings() {
        let m = parse("c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  80: x\n").unwrap();
        assert_eq!(m[0].object.pointer("/data/80"), Some(&Value::String("x".into())));
    }
}

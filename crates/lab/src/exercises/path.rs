//! Field paths in checks: `status.containerStatuses[0].restartCount`,
//! `spec.template.spec.containers[name=nginx].image`, `metadata.labels['app.kubernetes.io/name']`.

use serde_json::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// A list index.
    Index(usize),
    /// The list item whose field equals a value.
    Item(String, String),
}

/// Parses a path; `Err` says what is wrong.
pub fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = find_close(after).ok_or_else(|| format!("a '[' is not closed in \"{text}\""))?;
            let inside = &after[..end];
            rest = &after[end + 1..];
            segments.push(
                bracket(inside)
                    .ok_or_else(|| format!("\"[{inside}]\" is neither [N], [key=value] nor ['key'] in \"{text}\""))?,
            );
        } else {
            rest = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("an empty step in \"{text}\""));
            }
            segments.push(Segment::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    if segments.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(segments)
}

fn find_close(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn bracket(inside: &str) -> Option<Segment> {
    let inside = inside.trim();
    if let Ok(index) = inside.parse() {
        return Some(Segment::Index(index));
    }
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
    if (inside.starts_with('\'') || inside.starts_with('"')) && inside.len() >= 2 {
        return Some(Segment::Key(unquote(inside)));
    }
    let (key, value) = inside.split_once('=')?;
    Some(Segment::Item(key.trim().to_string(), unquote(value)))
}

/// The value at `path` in `object`, if there.
pub fn lookup<'a>(object: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, segment| match segment {
        Segment::Key(key) => value.get(key),
        Segment::Index(index) => value.get(*index),
        Segment::Item(field, wanted) => value.as_array()?.iter().find(|item| {
            item.get(field).is_some_and(|v| v.as_str().map(String::from).unwrap_or_else(|| v.to_string()) == *wanted)
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_step_through_keys_indexes_items_and_quoted_keys() {
        let pod = json!({"status": {"containerStatuses": [{"name": "nginx", "restartCount": 1}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}}});
        let at = |p: &str| lookup(&pod, &parse_path(p).unwrap()).cloned();
        assert_eq!(at("status.containerStatuses[0].restartCount"), Some(json!(1)));
        assert_eq!(at("status.containerStatuses[name=nginx].restartCount"), Some(json!(1)));
        assert_eq!(at("metadata.labels['app.kubernetes.io/name']"), Some(json!("web")));
        assert_eq!(at("status.containerStatuses[1]"), None);
    }

    #[test]
    fn a_broken_path_says_why() {
        assert!(parse_path("status.containerStatuses[0").unwrap_err().contains("not closed"));
        assert!(parse_path("a..b").unwrap_err().contains("empty step"));
    }
}

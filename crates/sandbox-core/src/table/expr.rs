//! The small language of table cells: a JSON path or a function call, with an optional fallback.
//!
//! `.spec.type` reads a value; `join(.spec.containers[*].image)` calls a function on paths or words;
//! `… or <none>` replaces an absent or empty result. Paths use `.field`, `[N]` and `[*]`.

use super::duration::{age, timestamp};
use super::{computed, network_storage, policy_cells};
use crate::selectors::LabelSelector;
use crate::time;
use jiff::Timestamp;
use serde_json::Value;

/// What a cell function sees: the object and the reference time for ages.
pub struct Ctx<'a> {
    /// The object of the row.
    pub obj: &'a Value,
    /// The moment ages are measured to.
    pub now: Timestamp,
}

/// A cell function: arguments are paths (starting with `.`) or plain words. `None` means "no value".
pub type CellFn = fn(&Ctx, &[String]) -> Option<Value>;

/// A parsed cell expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// The function name; empty for a bare path.
    func: String,
    /// Paths or words.
    args: Vec<String>,
    /// The text used when the result is absent or empty.
    fallback: Option<String>,
}

impl Expr {
    /// Parses `path`, `name(arg, …)` or either followed by ` or <text>`; unknown functions are errors.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (body, fallback) = match text.split_once(" or ") {
            Some((body, fallback)) => (body.trim(), Some(fallback.trim().to_string())),
            None => (text.trim(), None),
        };
        if body.starts_with('.') {
            return Ok(Self { func: String::new(), args: vec![body.to_string()], fallback });
        }
        let (name, rest) = body.split_once('(').ok_or_else(|| format!("cell {text:?}: expected a path or a call"))?;
        let inner = rest.strip_suffix(')').ok_or_else(|| format!("cell {text:?}: missing ')'"))?;
        let args: Vec<String> = inner.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect();
        let func = name.trim().to_string();
        if function(&func).is_none() {
            return Err(format!("cell {text:?}: unknown function {func:?}"));
        }
        Ok(Self { func, args, fallback })
    }

    /// The cell value for one object.
    pub fn eval(&self, ctx: &Ctx) -> Value {
        let result = if self.func.is_empty() {
            self.args.first().and_then(|p| first(ctx.obj, p)).filter(|v| !v.is_null()).cloned()
        } else {
            function(&self.func).and_then(|f| f(ctx, &self.args))
        };
        let absent = |v: &Value| v.is_null() || v.as_str() == Some("");
        match result {
            Some(v) if !absent(&v) => v,
            other => match &self.fallback {
                Some(text) => Value::from(text.as_str()),
                // An age with no timestamp reads `<unknown>`, as upstream.
                None if self.func == "age" => Value::from("<unknown>"),
                None => other.unwrap_or_else(|| Value::from("")),
            },
        }
    }
}

/// Every value a path reaches (`[*]` fans out); missing steps reach nothing.
pub fn select<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![v];
    for segment in path.trim_start_matches('.').split('.').filter(|s| !s.is_empty()) {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
            None => (segment, None),
        };
        let mut next = Vec::new();
        for value in current {
            let Some(field) = (if name.is_empty() { Some(value) } else { value.get(name) }) else {
                continue;
            };
            match index {
                None => next.push(field),
                Some("*") => next.extend(field.as_array().into_iter().flatten()),
                Some(i) => next.extend(i.parse::<usize>().ok().and_then(|i| field.get(i))),
            }
        }
        current = next;
    }
    current
}

/// The first value a path reaches.
pub fn first<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    select(v, path).into_iter().next()
}

/// The text at a path, `""` when absent or not a string.
pub fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    first(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a path, 0 when absent.
pub fn int(v: &Value, path: &str) -> i64 {
    first(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map(String::as_str).unwrap_or("")
}

/// The generic functions, then the per-kind ones from `computed`.
fn function(name: &str) -> Option<CellFn> {
    let generic: &[(&str, CellFn)] = &[
        ("age", |c, a| age(first(c.obj, arg(a, 0)), c.now).map(Value::from)),
        ("created", |c, a| Some(Value::from(rfc3339(timestamp(first(c.obj, arg(a, 0))))))),
        ("int", |c, a| Some(Value::from(int(c.obj, arg(a, 0))))),
        ("count", |c, a| Some(Value::from(a.iter().map(|p| size(first(c.obj, p))).sum::<usize>()))),
        ("join", |c, a| Some(Value::from(strings(c.obj, arg(a, 0)).join(",")))),
        ("labels", |c, a| Some(Value::from(format_labels(first(c.obj, arg(a, 0)))))),
        ("selector", |c, a| Some(Value::from(format_selector(first(c.obj, arg(a, 0)))))),
        ("ratio", |c, a| Some(Value::from(format!("{}/{}", int(c.obj, arg(a, 0)), int(c.obj, arg(a, 1)))))),
        ("bool", |c, a| Some(Value::from(format_bool(first(c.obj, arg(a, 0)))))),
        ("trim", |c, a| Some(Value::from(text(c.obj, arg(a, 0)).trim()))),
    ];
    generic
        .iter()
        .chain(computed::FUNCTIONS)
        .chain(network_storage::FUNCTIONS)
        .chain(policy_cells::FUNCTIONS)
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

/// `2024-05-01T12:00:00Z`; an unset time prints as Go's zero time, as upstream's default table does.
fn rfc3339(t: Option<Timestamp>) -> String {
    t.map(time::rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
}

/// Entries of a map or list; 0 for anything else.
fn size(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// The strings a path reaches, in order.
pub fn strings<'a>(v: &'a Value, path: &str) -> Vec<&'a str> {
    select(v, path).into_iter().filter_map(Value::as_str).collect()
}

/// `a=1,b=2` sorted by key, `<none>` when empty.
pub fn format_labels(v: Option<&Value>) -> String {
    let Some(map) = v.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
    pairs.sort();
    pairs.join(",")
}

/// A `LabelSelector` object in selector syntax; `<none>` when it selects everything or nothing.
fn format_selector(v: Option<&Value>) -> String {
    match LabelSelector::from_object(v.unwrap_or(&Value::Null)) {
        Ok(s) if s.to_string().is_empty() => "<none>".to_string(),
        Ok(s) => s.to_string(),
        Err(_) => "<error>".to_string(),
    }
}

/// `True`, `False`, or `<unset>` when absent.
fn format_bool(v: Option<&Value>) -> &'static str {
    match v.and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, obj: Value) -> Value {
        let now = "2024-05-01T12:00:00Z".parse().unwrap();
        Expr::parse(text).unwrap().eval(&Ctx { obj: &obj, now })
    }

    #[test]
    fn paths_read_values_and_fall_back_when_absent_or_empty() {
        let obj = json!({"spec": {"type": "ClusterIP", "replicas": 3, "ip": ""}});
        assert_eq!(eval(".spec.type", obj.clone()), json!("ClusterIP"));
        assert_eq!(eval(".spec.replicas", obj.clone()), json!(3));
        assert_eq!(eval(".spec.missing", obj.clone()), json!(""));
        assert_eq!(eval(".spec.ip or <none>", obj.clone()), json!("<none>"));
        assert_eq!(eval(".spec.missing or <none>", obj), json!("<none>"));
    }

    #[test]
    fn wildcards_and_indexes_select_list_items() {
        let obj = json!({"c": [{"n": "a", "i": "x"}, {"n": "b", "i": "y"}]});
        assert_eq!(eval("join(.c[*].n)", obj.clone()), json!("a,b"));
        assert_eq!(eval(".c[1].i", obj.clone()), json!("y"));
        assert_eq!(eval(".c[5].i or <none>", obj), json!("<none>"));
    }

    #[test]
    fn counts_ratios_and_booleans_have_defaults() {
        let obj = json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}, "status": {"ready": 2}});
        assert_eq!(eval("count(.data, .binaryData)", obj.clone()), json!(3));
        assert_eq!(eval("count(.nothing)", obj.clone()), json!(0));
        assert_eq!(eval("ratio(.status.ready, .spec.replicas)", obj.clone()), json!("2/0"));
        assert_eq!(eval("int(.status.missing)", obj.clone()), json!(0));
        assert_eq!(eval("bool(.spec.suspend)", obj), json!("<unset>"));
        assert_eq!(eval("bool(.s)", json!({"s": false})), json!("False"));
    }

    #[test]
    fn ages_are_unknown_without_a_timestamp() {
        assert_eq!(eval("age(.t)", json!({"t": "2024-05-01T11:00:00Z"})), json!("60m"));
        assert_eq!(eval("age(.t)", json!({})), json!("<unknown>"));
        assert_eq!(eval("age(.t) or <none>", json!({})), json!("<none>"));
        assert_eq!(eval("created(.t)", json!({"t": "2024-05-01T11:00:00.25Z"})), json!("2024-05-01T11:00:00Z"));
    }

    #[test]
    fn labels_and_selectors_print_like_kubectl() {
        let obj = json!({"sel": {"b": "2", "a": "1"}, "ls": {"matchLabels": {"app": "web"}}});
        assert_eq!(eval("labels(.sel)", obj.clone()), json!("a=1,b=2"));
        assert_eq!(eval("labels(.none)", obj.clone()), json!("<none>"));
        assert_eq!(eval("selector(.ls)", obj.clone()), json!("app=web"));
        assert_eq!(eval("selector(.none)", obj), json!("<none>"));
    }

    #[test]
    fn unknown_functions_and_bad_syntax_are_refused() {
        assert!(Expr::parse("nosuch(.a)").unwrap_err().contains("unknown function"));
        assert!(Expr::parse("age(.a").unwrap_err().contains("missing ')'"));
        assert!(Expr::parse("spec.type").is_err());
    }
}

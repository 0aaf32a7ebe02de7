//! Label selectors: upstream's text syntax, the `LabelSelector` object form, and matching.

use super::names::{label_key_errors, label_value_errors};
use super::parse::{Parser, lex};
use crate::errors::FieldError;
use serde_json::{Value, json};
use std::fmt;

/// How a requirement relates a label key to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`; also true when the key is absent.
    NotIn,
    /// `key=a`
    Equals,
    /// `key==a`
    DoubleEquals,
    /// `key!=a`; also true when the key is absent.
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>3` (integers)
    GreaterThan,
    /// `key<3` (integers)
    LessThan,
}

/// One condition of a selector; all of a selector's requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The relation.
    pub operator: Operator,
    /// The values, sorted and without duplicates (empty for Exists/DoesNotExist).
    pub values: Vec<String>,
}

impl Requirement {
    /// Checks a requirement as upstream does; `key_field` is how a bad key is named in the message.
    pub(super) fn new(key: &str, operator: Operator, mut values: Vec<String>, key_field: &str) -> Result<Self, String> {
        let mut errs: Vec<String> = Vec::new();
        let key_problems = label_key_errors(key);
        if !key_problems.is_empty() {
            errs.push(FieldError::invalid(key_field, json!(key), key_problems.join("; ")).to_string());
        }
        let count_problem = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(why) = count_problem {
            // Upstream prints the list in Go syntax here.
            let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
            errs.push(format!("values: Invalid value: []string{{{}}}: {why}", quoted.join(", ")));
        }
        for (i, v) in values.iter().enumerate() {
            if matches!(operator, Operator::GreaterThan | Operator::LessThan) && v.parse::<i64>().is_err() {
                let why = "for 'Gt', 'Lt' operators, the value must be an integer";
                errs.push(FieldError::invalid(format!("values[{i}]"), json!(v), why).to_string());
            }
            let problems = label_value_errors(v);
            if !problems.is_empty() {
                let field = format!("values[{i}][{key}]");
                errs.push(FieldError::invalid(field, json!(v), problems.join("; ")).to_string());
            }
        }
        if !errs.is_empty() {
            return Err(aggregate(&errs));
        }
        values.sort();
        values.dedup();
        Ok(Self { key: key.to_string(), operator, values })
    }

    /// Whether a set of labels satisfies this requirement.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        let found = labels.and_then(|l| l.get(&self.key)).and_then(Value::as_str);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => found.is_some_and(has),
            Operator::NotIn | Operator::NotEquals => !found.is_some_and(has),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), Some(want)) = (
                    found.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan { have > want } else { have < want }
            }
        }
    }
}

/// Several errors read as upstream's aggregate: one alone, or a bracketed list.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

impl fmt::Display for Requirement {
    /// Upstream's canonical text: `!key`, `key`, `key=v`, `key in (a,b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Exists => return write!(f, "{}", self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
        };
        let values = self.values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{op}({values})", self.key),
            _ => write!(f, "{}{op}{values}", self.key),
        }
    }
}

/// A parsed label selector. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Set for an absent selector object, which upstream treats as selecting nothing.
    nothing: bool,
}

impl LabelSelector {
    /// Parses `app=nginx,tier in (web),!legacy`; the error says what is wrong, in upstream's words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser { items: lex(text), pos: 0 };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements, nothing: false })
    }

    /// Builds a selector from a `LabelSelector` object (`matchLabels` plus `matchExpressions`).
    /// `null` selects nothing and `{}` selects everything, as upstream.
    pub fn from_object(obj: &Value) -> Result<Self, String> {
        if obj.is_null() {
            return Ok(Self { requirements: Vec::new(), nothing: true });
        }
        let Some(map) = obj.as_object() else {
            return Err(format!("a label selector must be an object, not {obj}"));
        };
        let mut requirements = Vec::new();
        if let Some(labels) = map.get("matchLabels").filter(|v| !v.is_null()) {
            let labels = labels.as_object().ok_or("matchLabels must be a map of strings")?;
            for (key, value) in labels {
                let value = value.as_str().ok_or_else(|| format!("matchLabels[{key}] must be a string"))?;
                requirements.push(Requirement::new(key, Operator::Equals, vec![value.to_string()], "key")?);
            }
        }
        if let Some(exprs) = map.get("matchExpressions").filter(|v| !v.is_null()) {
            let exprs = exprs.as_array().ok_or("matchExpressions must be a list")?;
            for expr in exprs {
                requirements.push(expression(expr)?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self { requirements, nothing: false })
    }

    /// A selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Whether this selector places no condition at all.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object's labels (`metadata.labels`, possibly absent) match.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// One `matchExpressions` entry as a requirement.
fn expression(expr: &Value) -> Result<Requirement, String> {
    let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
    let op_text = expr.get("operator").and_then(Value::as_str).unwrap_or_default();
    let operator = match op_text {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(format!("\"{other}\" is not a valid label selector operator")),
    };
    let values = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or("values must be strings"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("values must be a list of strings".to_string()),
    };
    Requirement::new(key, operator, values, "key")
}

impl fmt::Display for LabelSelector {
    /// Upstream's canonical text, requirements joined by commas; empty for everything or nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> LabelSelector {
        LabelSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn equality_operators_match_and_exclude() {
        let l = json!({"app": "nginx", "tier": "web"});
        assert!(parse("app=nginx").matches(Some(&l)));
        assert!(parse("app==nginx").matches(Some(&l)));
        assert!(!parse("app!=nginx").matches(Some(&l)));
        assert!(parse("app!=redis").matches(Some(&l)));
        assert!(parse("missing!=x").matches(Some(&l)), "!= holds when the key is absent");
        assert!(!parse("app=redis").matches(Some(&l)));
    }

    #[test]
    fn set_operators_and_existence_work() {
        let l = json!({"app": "nginx", "tier": "web"});
        assert!(parse("tier in (web, db)").matches(Some(&l)));
        assert!(!parse("tier notin (web,db)").matches(Some(&l)));
        assert!(parse("env notin (prod)").matches(Some(&l)));
        assert!(parse("app").matches(Some(&l)));
        assert!(!parse("!app").matches(Some(&l)));
        assert!(parse("!legacy").matches(Some(&l)));
        assert!(!parse("legacy").matches(None));
    }

    #[test]
    fn commas_join_requirements_with_and() {
        let l = json!({"app": "nginx", "tier": "web"});
        assert!(parse("app=nginx,tier in (web),!legacy").matches(Some(&l)));
        assert!(!parse("app=nginx,tier=db").matches(Some(&l)));
    }

    #[test]
    fn empty_text_selects_everything() {
        let s = parse("");
        assert!(s.is_empty());
        assert!(s.matches(None));
    }

    #[test]
    fn in_and_notin_can_be_values() {
        let l = json!({"word": "in"});
        assert!(parse("word in (in,notin)").matches(Some(&l)));
        assert!(parse("word=in").matches(Some(&l)));
    }

    #[test]
    fn integer_comparisons_need_integers() {
        let l = json!({"n": "5"});
        assert!(parse("n>3").matches(Some(&l)));
        assert!(!parse("n<3").matches(Some(&l)));
        let err = LabelSelector::parse("n>x").unwrap_err();
        assert!(err.contains("for 'Gt', 'Lt' operators, the value must be an integer"), "{err}");
    }

    #[test]
    fn display_is_upstreams_canonical_form() {
        assert_eq!(parse("b in (z,y), a=1, !c, d").to_string(), "a=1,b in (y,z),!c,d");
    }

    #[test]
    fn syntax_errors_use_upstream_wording() {
        let cases = [
            ("app=nginx,", "found '', expected: identifier after ','"),
            ("app in", "unable to parse requirement: found '' expected: '('"),
            ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
            ("app ~ x", "unable to parse requirement: found '~', expected: in, notin, =, ==, !=, gt, lt"),
            ("app=a=b", "found '=', expected: ',' or 'end of string'"),
            (",app", "found ',', expected: !, identifier, or 'end of string'"),
            ("env IN (a)", "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"),
            ("a in (b) c", "found 'c', expected: ',' or 'end of string'"),
        ];
        for (text, want) in cases {
            assert_eq!(LabelSelector::parse(text).unwrap_err(), want, "for {text:?}");
        }
    }

    #[test]
    fn a_missing_operator_lists_the_binary_operators() {
        let err = LabelSelector::parse("app (x)").unwrap_err();
        assert_eq!(err, "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt");
    }

    #[test]
    fn bad_keys_and_values_are_invalid_values() {
        let err = LabelSelector::parse("a@b=c").unwrap_err();
        assert!(err.starts_with("unable to parse requirement: <nil>: Invalid value: \"a@b\": name part must"), "{err}");
        let err = LabelSelector::parse("app=-x").unwrap_err();
        assert!(
            err.starts_with("unable to parse requirement: values[0][app]: Invalid value: \"-x\": a valid label"),
            "{err}"
        );
    }

    #[test]
    fn object_form_combines_labels_and_expressions() {
        let s = LabelSelector::from_object(&json!({
            "matchLabels": {"app": "nginx"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "legacy", "operator": "DoesNotExist"},
                {"key": "env", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["b"]}
            ]
        }))
        .unwrap();
        assert_eq!(s.to_string(), "app=nginx,env,!legacy,tier in (api,web),zone notin (b)");
        assert!(s.matches(Some(&json!({"app": "nginx", "tier": "web", "env": "x"}))));
        assert!(!s.matches(Some(&json!({"app": "nginx", "tier": "web"}))));
    }

    #[test]
    fn object_form_null_selects_nothing_and_empty_selects_everything() {
        assert!(!LabelSelector::from_object(&Value::Null).unwrap().matches(Some(&json!({}))));
        assert!(LabelSelector::from_object(&json!({})).unwrap().matches(None));
    }

    #[test]
    fn object_form_rejects_bad_operators_and_empty_sets() {
        let err = LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "Has"}]}));
        assert_eq!(err.unwrap_err(), "\"Has\" is not a valid label selector operator");
        let err =
            LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}));
        assert_eq!(
            err.unwrap_err(),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        let err = LabelSelector::from_object(&json!({"matchLabels": {"a b": "x"}})).unwrap_err();
        assert!(err.starts_with("key: Invalid value: \"a b\": name part must"), "{err}");
    }
}

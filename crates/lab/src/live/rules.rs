//! Plays the health rules of `data/health.yaml`: an object's facts in, its health, status and summary out.

#[cfg(test)]
use super::facts::Kind;
use super::facts::{Facts, Value};
use gitops_lab_protocol::{Health, Text};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The rules, compiled into the engine.
const RULES: &str = include_str!("data/health.yaml");

/// One kind's facts and rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindRules {
    /// The facts the engine reads for the kind: documentation that the tests hold to the code.
    #[cfg_attr(not(test), allow(dead_code))]
    facts: Vec<String>,
    rules: Vec<Rule>,
}

/// One rule: when all conditions hold, the rest applies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    when: BTreeMap<String, Condition>,
    health: Health,
    status: String,
    summary: Text,
}

/// What a fact is compared with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Condition {
    /// Equal to one of these.
    OneOf(Vec<Scalar>),
    /// A comparison or a prefix.
    Test(Test),
    /// Equal to this.
    Equals(Scalar),
}

/// A comparison: every operator given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Test {
    lt: Option<Operand>,
    le: Option<Operand>,
    gt: Option<Operand>,
    ge: Option<Operand>,
    ne: Option<Scalar>,
    prefix: Option<String>,
}

/// A literal in a rule.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Text(String),
}

/// The right side of a numeric comparison: a number or another fact's name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Operand {
    Number(i64),
    Fact(String),
}

/// What the rules decide about one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Its health colour.
    pub health: Health,
    /// Its short status.
    pub status: String,
    /// A sentence for the learner.
    pub summary: Text,
}

fn table() -> &'static BTreeMap<String, KindRules> {
    static TABLE: OnceLock<BTreeMap<String, KindRules>> = OnceLock::new();
    // The file is part of the program and a test parses it, so a failure here is a build mistake.
    TABLE.get_or_init(|| serde_norway::from_str(RULES).expect("data/health.yaml parses (see its test)"))
}

/// Judges an object from its facts; `extra` adds facts that depend on other objects.
pub fn judge(facts: &Facts, extra: &[(&'static str, Value)]) -> Verdict {
    let lookup = |name: &str| extra.iter().find(|(n, _)| *n == name).map(|(_, v)| v).or_else(|| facts.value(name));
    let rule = table()
        .get(facts.kind.name())
        .and_then(|kind| kind.rules.iter().find(|rule| rule.when.iter().all(|(n, c)| holds(lookup(n), c, &lookup))));
    match rule {
        Some(rule) => Verdict {
            health: rule.health,
            status: fill(&rule.status, &lookup),
            summary: Text::new(fill(&rule.summary.en, &lookup), fill(&rule.summary.zh, &lookup)),
        },
        None => Verdict { health: Health::Unknown, status: String::new(), summary: Text::default() },
    }
}

fn holds<'a>(value: Option<&'a Value>, condition: &Condition, lookup: &impl Fn(&str) -> Option<&'a Value>) -> bool {
    let Some(value) = value else { return false };
    match condition {
        Condition::Equals(scalar) => equals(value, scalar),
        Condition::OneOf(options) => options.iter().any(|option| equals(value, option)),
        Condition::Test(test) => {
            let number = |operand: &Operand| match operand {
                Operand::Number(n) => Some(*n),
                Operand::Fact(name) => match lookup(name) {
                    Some(Value::Int(n)) => Some(*n),
                    _ => None,
                },
            };
            let compare = |operand: &Option<Operand>, ok: fn(i64, i64) -> bool| match (operand, value) {
                (None, _) => true,
                (Some(operand), Value::Int(left)) => number(operand).is_some_and(|right| ok(*left, right)),
                (Some(_), _) => false,
            };
            compare(&test.lt, |a, b| a < b)
                && compare(&test.le, |a, b| a <= b)
                && compare(&test.gt, |a, b| a > b)
                && compare(&test.ge, |a, b| a >= b)
                && test.ne.as_ref().is_none_or(|other| !equals(value, other))
                && test.prefix.as_ref().is_none_or(|p| matches!(value, Value::Text(t) if t.starts_with(p.as_str())))
        }
    }
}

fn equals(value: &Value, scalar: &Scalar) -> bool {
    match (value, scalar) {
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        (Value::Int(a), Scalar::Int(b)) => a == b,
        (Value::Text(a), Scalar::Text(b)) => a == b,
        // YAML reads `reason: 404` as a number; a word fact still matches its digits.
        (Value::Text(a), Scalar::Int(b)) => *a == b.to_string(),
        _ => false,
    }
}

/// Replaces `{fact}` with the fact's value; unknown names stay as written.
fn fill<'a>(template: &str, lookup: &impl Fn(&str) -> Option<&'a Value>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if lookup(name).is_some() => {
                out.push_str(&lookup(name).map(ToString::to_string).unwrap_or_default());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The names a template refers to.
#[cfg(test)]
fn placeholders(template: &str) -> Vec<String> {
    template.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::facts::from_json;
    use serde_json::json;

    /// One object of each kind, to learn which facts the engine reads for it.
    fn samples() -> Vec<Facts> {
        let meta = json!({"name": "x", "namespace": "default", "uid": "u"});
        let objects = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": []}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                   "spec": {"selector": {}, "template": {}}}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": {"selector": {}}}),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": {}}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
                   "spec": {"schedule": "* * * * *", "jobTemplate": {}}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}),
        ];
        objects.iter().map(|o| from_json(o).unwrap().unwrap()).collect()
    }

    #[test]
    fn the_rules_file_names_exactly_the_facts_the_engine_reads_for_every_kind() {
        let table = table();
        assert_eq!(table.len(), Kind::ALL.len(), "one entry per kind");
        for facts in samples() {
            let rules = &table[facts.kind.name()];
            let mut read: Vec<&str> = facts.values.iter().map(|(n, _)| *n).collect();
            if facts.kind == Kind::Service {
                read.push("pods");
            }
            assert_eq!(read, rules.facts.iter().map(String::as_str).collect::<Vec<_>>(), "{}", facts.kind.name());
        }
    }

    #[test]
    fn every_rule_uses_known_facts_and_every_kind_ends_with_a_rule_that_always_holds() {
        for (kind, rules) in table() {
            let known = |name: &str| rules.facts.iter().any(|f| f == name);
            for rule in &rules.rules {
                for (name, condition) in &rule.when {
                    assert!(known(name), "{kind}: unknown fact {name}");
                    if let Condition::Test(Test { lt, le, gt, ge, .. }) = condition {
                        for operand in [lt, le, gt, ge].into_iter().flatten() {
                            if let Operand::Fact(other) = operand {
                                assert!(known(other), "{kind}: unknown fact {other}");
                            }
                        }
                    }
                }
                for text in [&rule.status, &rule.summary.en, &rule.summary.zh] {
                    assert!(!text.is_empty(), "{kind}: empty text");
                    for name in placeholders(text) {
                        assert!(known(&name), "{kind}: unknown placeholder {{{name}}} in {text:?}");
                    }
                }
            }
            assert!(rules.rules.last().is_some_and(|r| r.when.is_empty()), "{kind}: no final rule");
        }
    }

    #[test]
    fn templates_fill_known_facts_and_keep_other_braces() {
        let ready = Value::Int(2);
        let lookup = |name: &str| (name == "ready").then_some(&ready);
        assert_eq!(fill("{ready}/3 ready {x} {", &lookup), "2/3 ready {x} {");
    }

    #[test]
    fn a_comparison_with_another_fact_reads_that_fact() {
        let mut facts = samples().into_iter().find(|f| f.kind == Kind::Deployment).unwrap();
        for (name, value) in facts.values.iter_mut() {
            match *name {
                "desired" => *value = Value::Int(3),
                "updated" => *value = Value::Int(1),
                "observed" => *value = Value::Bool(true),
                _ => {}
            }
        }
        let verdict = judge(&facts, &[]);
        assert_eq!(verdict.health, Health::Progressing);
        assert_eq!(verdict.status, "0/3 ready");
        assert!(verdict.summary.en.contains("1 of 3 pods run the new template"), "{}", verdict.summary.en);
    }
}

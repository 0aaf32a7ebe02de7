//! `$((…))` arithmetic: integers, variables, `+ - * / %`, comparisons, `&& || !` and parentheses.

use std::collections::BTreeMap;

/// Evaluates an expression whose `$…` are already expanded; bare names read shell variables.
pub fn eval(expr: &str, vars: &BTreeMap<String, String>) -> Result<i64, String> {
    let tokens = tokenize(expr)?;
    let mut parser = Arith { tokens, pos: 0, vars };
    let value = parser.binary(0)?;
    match parser.tokens.get(parser.pos) {
        None => Ok(value),
        Some(tok) => Err(format!("unexpected '{tok}'")),
    }
}

fn tokenize(expr: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["<=", ">=", "==", "!=", "&&", "||"].contains(&two.as_str()) {
                tokens.push(two);
                i += 2;
            } else if "+-*/%()<>!".contains(c) {
                tokens.push(c.to_string());
                i += 1;
            } else {
                return Err(format!("unexpected '{c}'"));
            }
        }
    }
    Ok(tokens)
}

struct Arith<'v> {
    tokens: Vec<String>,
    pos: usize,
    vars: &'v BTreeMap<String, String>,
}

/// Binary operators by precedence level, loosest first.
const LEVELS: &[&[&str]] = &[&["||"], &["&&"], &["==", "!="], &["<", "<=", ">", ">="], &["+", "-"], &["*", "/", "%"]];

impl Arith<'_> {
    fn binary(&mut self, level: usize) -> Result<i64, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = self.tokens.get(self.pos).filter(|t| LEVELS[level].contains(&t.as_str())).cloned() {
            self.pos += 1;
            let right = self.binary(level + 1)?;
            left = apply(&op, left, right)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<i64, String> {
        let tok = self.tokens.get(self.pos).cloned().ok_or("expression expected")?;
        self.pos += 1;
        match tok.as_str() {
            "-" => Ok(self.unary()?.wrapping_neg()),
            "+" => self.unary(),
            "!" => Ok(i64::from(self.unary()? == 0)),
            "(" => {
                let value = self.binary(0)?;
                match self.tokens.get(self.pos).map(String::as_str) {
                    Some(")") => {
                        self.pos += 1;
                        Ok(value)
                    }
                    _ => Err("missing ')'".into()),
                }
            }
            t if t.chars().all(|c| c.is_ascii_digit()) => t.parse().map_err(|_| format!("number too large: {t}")),
            t if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                // A variable holds a number; an expression inside it is not evaluated again.
                let value = self.vars.get(t).map(|v| v.trim().to_string()).unwrap_or_default();
                if value.is_empty() { Ok(0) } else { value.parse().map_err(|_| format!("'{value}' is not a number")) }
            }
            t => Err(format!("unexpected '{t}'")),
        }
    }
}

fn apply(op: &str, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" | "%" if b == 0 => return Err("divide by zero".into()),
        "/" => a.wrapping_div(b),
        "%" => a.wrapping_rem(b),
        "<" => i64::from(a < b),
        "<=" => i64::from(a <= b),
        ">" => i64::from(a > b),
        ">=" => i64::from(a >= b),
        "==" => i64::from(a == b),
        "!=" => i64::from(a != b),
        "&&" => i64::from(a != 0 && b != 0),
        _ => i64::from(a != 0 || b != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_parentheses_and_variables_evaluate_as_in_sh() {
        let vars = BTreeMap::from([("i".to_string(), "4".to_string())]);
        assert_eq!(eval("1 + 2 * 3", &vars), Ok(7));
        assert_eq!(eval("(1 + 2) * 3", &vars), Ok(9));
        assert_eq!(eval("i + 1", &vars), Ok(5));
        assert_eq!(eval("i > 3 && !0", &vars), Ok(1));
        assert_eq!(eval("-i % 3", &vars), Ok(-1));
        assert!(eval("1 / 0", &vars).is_err());
        assert!(eval("1 +", &vars).is_err());
    }
}

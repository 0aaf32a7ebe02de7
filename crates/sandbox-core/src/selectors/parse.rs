//! The text syntax of label selectors: a lexer and a recursive-descent parser with upstream's error texts.

use super::label::{Operator, Requirement};
use super::names::label_key_errors;
use crate::errors::FieldError;
use serde_json::json;

/// The lexer's tokens; `in` and `notin` read as plain words where a value is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    Error,
    End,
    ClosePar,
    Comma,
    Not,
    DoubleEq,
    Eq,
    Gt,
    Ident,
    In,
    Lt,
    NotEq,
    NotIn,
    OpenPar,
}

fn symbol(text: &str) -> Option<Tok> {
    Some(match text {
        ")" => Tok::ClosePar,
        "," => Tok::Comma,
        "!" => Tok::Not,
        "==" => Tok::DoubleEq,
        "=" => Tok::Eq,
        ">" => Tok::Gt,
        "<" => Tok::Lt,
        "!=" => Tok::NotEq,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits the text into tokens, ending with `End`. Symbols are read greedily, like upstream.
pub(super) fn lex(text: &str) -> Vec<(Tok, String)> {
    let b = text.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            items.push((Tok::End, String::new()));
            return items;
        }
        let start = i;
        if is_special(b[i]) {
            let mut best: Option<(Tok, usize)> = None;
            while i < b.len() && is_special(b[i]) {
                i += 1;
                match symbol(&text[start..i]) {
                    Some(tok) => best = Some((tok, i)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            match best {
                Some((tok, end)) => {
                    items.push((tok, text[start..end].to_string()));
                    i = end;
                }
                None => items.push((Tok::Error, format!("error expected: keyword found '{}'", &text[start..i]))),
            }
        } else {
            while i < b.len() && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let word = &text[start..i];
            let tok = match word {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            items.push((tok, word.to_string()));
        }
    }
}

/// A recursive-descent parser over the token list, with upstream's error texts.
pub(super) struct Parser {
    pub(super) items: Vec<(Tok, String)>,
    pub(super) pos: usize,
}

impl Parser {
    /// The next token; where a value is expected, `in`/`notin` are plain words.
    fn peek(&self, values: bool) -> (Tok, String) {
        let (tok, lit) = self.items.get(self.pos).cloned().unwrap_or((Tok::End, String::new()));
        match tok {
            Tok::In | Tok::NotIn if values => (Tok::Ident, lit),
            _ => (tok, lit),
        }
    }

    fn next(&mut self, values: bool) -> (Tok, String) {
        let item = self.peek(values);
        self.pos += 1;
        item
    }

    pub(super) fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.peek(true);
            match tok {
                Tok::Ident | Tok::Not => {
                    let r = self.requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.next(true);
                    match t {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let (t2, l2) = self.peek(true);
                            if t2 != Tok::Ident && t2 != Tok::Not {
                                return Err(format!("found '{l2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(requirements),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (mut tok, mut key) = self.next(true);
        let negated = tok == Tok::Not;
        if negated {
            (tok, key) = self.next(true);
        }
        if tok != Tok::Ident {
            return Err(format!("found '{key}', expected: identifier"));
        }
        let problems = label_key_errors(&key);
        if !problems.is_empty() {
            // Upstream names no field here, which prints as `<nil>`.
            return Err(FieldError::invalid("<nil>", json!(key), problems.join("; ")).to_string());
        }
        let (after, _) = self.peek(true);
        if negated || matches!(after, Tok::End | Tok::Comma) {
            let op = if negated { Operator::DoesNotExist } else { Operator::Exists };
            return Requirement::new(&key, op, Vec::new(), "key");
        }
        let (tok, lit) = self.next(false);
        let operator = match tok {
            Tok::In => Operator::In,
            Tok::Eq => Operator::Equals,
            Tok::DoubleEq => Operator::DoubleEquals,
            Tok::Gt => Operator::GreaterThan,
            Tok::Lt => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEq => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: in, notin, =, ==, !=, gt, lt")),
        };
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, operator, values, "key")
    }

    /// `(a,b,c)`; empty entries count as the empty string, as upstream.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.next(true);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.peek(true);
        match tok {
            Tok::Ident | Tok::Comma => {
                let values = self.identifiers()?;
                if self.next(true).0 != Tok::ClosePar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            Tok::ClosePar => {
                self.next(true);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.next(true);
            match tok {
                Tok::Ident => {
                    values.push(lit);
                    let (t2, l2) = self.peek(true);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosePar => return Ok(values),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.peek(true).0 {
                        Tok::ClosePar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Tok::Comma => values.push(String::new()),
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(self.peek(true).0, Tok::End | Tok::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.next(true) {
            (Tok::Ident, lit) => Ok(vec![lit]),
            (_, lit) => Err(format!("found '{lit}', expected: identifier")),
        }
    }
}

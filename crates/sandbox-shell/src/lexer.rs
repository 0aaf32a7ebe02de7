//! The tokenizer: splits shell source into words (with their quoting and expansions) and operators.

use super::ast::{Part, RedirOp, Script, Word};
use super::parser::Parser;

/// A syntax error, worded as busybox's `sh` words it (the caller adds the `sh: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// A token where it cannot stand.
    #[error("syntax error: unexpected {0}")]
    Unexpected(String),
    /// The source ended inside a construct.
    #[error("syntax error: unexpected end of file{}",
        expecting.as_ref().map(|e| format!(" (expecting \"{e}\")")).unwrap_or_default())]
    Eof {
        /// The keyword that would have closed it.
        expecting: Option<String>,
    },
    /// A quote that is never closed.
    #[error("syntax error: unterminated quoted string")]
    Unterminated,
    /// A `$((…))` or `${…}` that is not closed.
    #[error("syntax error: missing '{0}'")]
    Missing(&'static str),
}

impl SyntaxError {
    /// Whether more input could complete the script (an interactive shell then reads another line).
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Self::Eof { .. } | Self::Unterminated | Self::Missing(_))
    }
}

/// Operators that separate commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `;`
    Semi,
    /// `&`
    Amp,
    /// `&&`
    AndIf,
    /// `||`
    OrIf,
    /// `|`
    Pipe,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `;;`
    DSemi,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Semi => ";",
            Op::Amp => "&",
            Op::AndIf => "&&",
            Op::OrIf => "||",
            Op::Pipe => "|",
            Op::LParen => "(",
            Op::RParen => ")",
            Op::DSemi => ";;",
        }
    }
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A word.
    Word(Word),
    /// An operator.
    Op(Op),
    /// A redirection operator with its descriptor.
    Redir(u32, RedirOp),
    /// A newline.
    Newline,
    /// The end of the source.
    Eof,
}

impl Tok {
    /// How error messages show the token.
    pub fn shown(&self) -> String {
        match self {
            Tok::Word(w) => format!("\"{}\"", w.shown()),
            Tok::Op(op) => format!("\"{}\"", op.text()),
            Tok::Redir(_, op) => format!("\"{}\"", redir_text(*op)),
            Tok::Newline => "newline".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

fn redir_text(op: RedirOp) -> &'static str {
    match op {
        RedirOp::Out => ">",
        RedirOp::Append => ">>",
        RedirOp::In => "<",
        RedirOp::Dup => ">&",
        RedirOp::Both { append: false } => "&>",
        RedirOp::Both { append: true } => "&>>",
        RedirOp::HereDoc => "<<",
    }
}

fn is_meta(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// The tokenizer's state: the source and a position in it.
pub struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    /// A tokenizer at the start of `src`.
    pub fn new(src: &str) -> Self {
        Self { chars: src.chars().collect(), pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// The next token.
    pub fn next_token(&mut self) -> Result<Tok, SyntaxError> {
        self.skip_blanks();
        let Some(c) = self.peek() else { return Ok(Tok::Eof) };
        if let Some(tok) = self.operator(c) {
            return Ok(tok);
        }
        if c.is_ascii_digit()
            && let Some(tok) = self.fd_redirection()
        {
            return Ok(tok);
        }
        Ok(Tok::Word(self.word()?))
    }

    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => self.pos += 1,
                Some('\\') if self.at(1) == Some('\n') => self.pos += 2,
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn operator(&mut self, c: char) -> Option<Tok> {
        let two = self.at(1);
        let (tok, len) = match (c, two) {
            ('\n', _) => (Tok::Newline, 1),
            (';', Some(';')) => (Tok::Op(Op::DSemi), 2),
            (';', _) => (Tok::Op(Op::Semi), 1),
            ('&', Some('&')) => (Tok::Op(Op::AndIf), 2),
            ('&', Some('>')) if self.at(2) == Some('>') => (Tok::Redir(1, RedirOp::Both { append: true }), 3),
            ('&', Some('>')) => (Tok::Redir(1, RedirOp::Both { append: false }), 2),
            ('&', _) => (Tok::Op(Op::Amp), 1),
            ('|', Some('|')) => (Tok::Op(Op::OrIf), 2),
            ('|', _) => (Tok::Op(Op::Pipe), 1),
            ('(', _) => (Tok::Op(Op::LParen), 1),
            (')', _) => (Tok::Op(Op::RParen), 1),
            ('<' | '>', _) => return Some(self.redirection(None)),
            _ => return None,
        };
        self.pos += len;
        Some(tok)
    }

    /// `2>`, `2>>`, `2>&1`, `0<`: digits glued to a redirection operator.
    fn fd_redirection(&mut self) -> Option<Tok> {
        let digits: String = self.chars[self.pos..].iter().take_while(|c| c.is_ascii_digit()).collect();
        if !matches!(self.at(digits.len()), Some('<' | '>')) {
            return None;
        }
        self.pos += digits.len();
        Some(self.redirection(digits.parse().ok()))
    }

    fn redirection(&mut self, fd: Option<u32>) -> Tok {
        let c = self.peek();
        self.pos += 1;
        let op = match c {
            Some('<') if self.eat('<') => {
                self.eat('-');
                RedirOp::HereDoc
            }
            Some('<') if self.eat('&') => RedirOp::Dup,
            Some('<') => RedirOp::In,
            _ if self.eat('>') => RedirOp::Append,
            _ if self.eat('&') => RedirOp::Dup,
            _ => {
                self.eat('|');
                RedirOp::Out
            }
        };
        let default_fd =
            if matches!(op, RedirOp::In | RedirOp::HereDoc) || (op == RedirOp::Dup && c == Some('<')) { 0 } else { 1 };
        Tok::Redir(fd.unwrap_or(default_fd), op)
    }

    fn word(&mut self) -> Result<Word, SyntaxError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        if self.peek() == Some('~') && self.at(1).is_none_or(|c| c == '/' || is_meta(c)) {
            self.pos += 1;
            parts.push(Part::Tilde);
        }
        while let Some(c) = self.peek() {
            if is_meta(c) {
                break;
            }
            match c {
                '\'' => {
                    flush(&mut lit, &mut parts);
                    self.pos += 1;
                    parts.push(Part::Quoted(self.single_quoted()?));
                }
                '"' => {
                    flush(&mut lit, &mut parts);
                    self.pos += 1;
                    parts.push(Part::Quoted(String::new()));
                    parts.extend(self.double_quoted(Some('"'))?);
                }
                '\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some('\n') => self.pos += 1,
                        Some(n) => {
                            flush(&mut lit, &mut parts);
                            self.pos += 1;
                            parts.push(Part::Quoted(n.to_string()));
                        }
                        None => lit.push('\\'),
                    }
                }
                '$' | '`' => {
                    flush(&mut lit, &mut parts);
                    self.expansion(false, &mut parts)?;
                }
                _ => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Word { parts })
    }

    fn single_quoted(&mut self) -> Result<String, SyntaxError> {
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError::Unterminated),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// The inside of double quotes (or of a here-document when `end` is `None`), as quoted parts.
    fn double_quoted(&mut self, end: Option<char>) -> Result<Vec<Part>, SyntaxError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                if end.is_some() {
                    return Err(SyntaxError::Unterminated);
                }
                break;
            };
            if Some(c) == end {
                self.pos += 1;
                break;
            }
            match c {
                '\\' => {
                    let next = self.at(1);
                    let special = matches!(next, Some('$' | '`' | '\\' | '\n')) || (next == Some('"') && end.is_some());
                    if special {
                        if next != Some('\n') {
                            text.extend(next);
                        }
                        self.pos += 2;
                    } else {
                        text.push('\\');
                        self.pos += 1;
                    }
                }
                '$' | '`' => {
                    if !text.is_empty() {
                        parts.push(Part::Quoted(std::mem::take(&mut text)));
                    }
                    self.expansion(true, &mut parts)?;
                }
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Quoted(text));
        }
        Ok(parts)
    }

    /// `$…` or a backtick substitution, at the current position.
    fn expansion(&mut self, quoted: bool, parts: &mut Vec<Part>) -> Result<(), SyntaxError> {
        if self.eat('`') {
            let script = self.backticks()?;
            parts.push(Part::Command { script, quoted });
            return Ok(());
        }
        self.pos += 1; // the `$`
        match self.peek() {
            Some('(') if self.at(1) == Some('(') => {
                self.pos += 2;
                let expr = self.arithmetic()?;
                parts.push(Part::Arith { expr, quoted });
            }
            Some('(') => {
                self.pos += 1;
                let script = Parser::new(self).substitution()?;
                parts.push(Part::Command { script, quoted });
            }
            Some('{') => {
                self.pos += 1;
                parts.push(self.braced_param(quoted)?);
            }
            Some(c) if is_name_start(c) => {
                let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                parts.push(Part::Param { name, modifier: None, quoted });
            }
            Some(c) if "?$#@*!0123456789-".contains(c) => {
                self.pos += 1;
                parts.push(Part::Param { name: c.to_string(), modifier: None, quoted });
            }
            _ => parts.push(if quoted { Part::Quoted("$".into()) } else { Part::Lit("$".into()) }),
        }
        Ok(())
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn backticks(&mut self) -> Result<Script, SyntaxError> {
        let mut inner = String::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError::Unterminated),
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') if matches!(self.at(1), Some('`' | '\\' | '$')) => {
                    inner.extend(self.at(1));
                    self.pos += 2;
                }
                Some(c) => {
                    inner.push(c);
                    self.pos += 1;
                }
            }
        }
        super::parser::parse(&inner)
    }

    fn arithmetic(&mut self) -> Result<String, SyntaxError> {
        let mut depth = 0usize;
        let mut expr = String::new();
        loop {
            match self.peek() {
                None => return Err(SyntaxError::Missing("))")),
                Some(')') if depth == 0 && self.at(1) == Some(')') => {
                    self.pos += 2;
                    return Ok(expr);
                }
                Some(c) => {
                    match c {
                        '(' => depth += 1,
                        ')' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    expr.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `${name}`, `${#name}`, `${name:-word}` and friends; the `{` is already read.
    fn braced_param(&mut self, quoted: bool) -> Result<Part, SyntaxError> {
        let length = self.peek() == Some('#') && self.at(1).is_some_and(|c| c != '}');
        if length {
            self.pos += 1;
        }
        let name = match self.peek() {
            Some(c) if is_name_start(c) => self.take_while(|c| c.is_ascii_alphanumeric() || c == '_'),
            Some(c) if "?$#@*!-".contains(c) => {
                self.pos += 1;
                c.to_string()
            }
            Some(c) if c.is_ascii_digit() => self.take_while(|c| c.is_ascii_digit()),
            _ => return Err(SyntaxError::Missing("}")),
        };
        if length {
            return if self.eat('}') {
                Ok(Part::Param { name, modifier: Some(("#".into(), Word::default())), quoted })
            } else {
                Err(SyntaxError::Missing("}"))
            };
        }
        if self.eat('}') {
            return Ok(Part::Param { name, modifier: None, quoted });
        }
        let colon = if self.eat(':') { ":" } else { "" };
        let op = match self.peek() {
            Some(c @ ('-' | '=' | '+' | '?')) => c,
            _ => return Err(SyntaxError::Missing("}")),
        };
        self.pos += 1;
        let word = Word { parts: self.double_quoted(Some('}'))? };
        Ok(Part::Param { name, modifier: Some((format!("{colon}{op}"), word)), quoted })
    }

    /// Reads the rest of the source as the inside of a here-document (expansions kept, quotes literal).
    pub fn here_body(&mut self) -> Result<Vec<Part>, SyntaxError> {
        self.double_quoted(None)
    }

    /// Cuts the body of a here-document out of the source: the lines after the current one, up to
    /// the delimiter line. With an unquoted delimiter the body's `$…` expansions are kept.
    pub fn take_heredoc(&mut self, delimiter: &str, quoted: bool, strip_tabs: bool) -> Result<Word, SyntaxError> {
        let Some(newline) = self.chars[self.pos..].iter().position(|&c| c == '\n').map(|i| self.pos + i) else {
            return Ok(Word { parts: vec![Part::Quoted(String::new())] });
        };
        let mut body = String::new();
        let mut cursor = newline + 1;
        while cursor < self.chars.len() {
            let end = self.chars[cursor..].iter().position(|&c| c == '\n').map_or(self.chars.len(), |i| cursor + i);
            let line: String = self.chars[cursor..end].iter().collect();
            let line = if strip_tabs { line.trim_start_matches('\t').to_string() } else { line };
            cursor = (end + 1).min(self.chars.len());
            if line == delimiter {
                break;
            }
            body.push_str(&line);
            body.push('\n');
        }
        self.chars.drain(newline + 1..cursor);
        if quoted {
            return Ok(Word { parts: vec![Part::Quoted(body)] });
        }
        let mut inner = Lexer::new(&body);
        let mut parts = vec![Part::Quoted(String::new())];
        parts.extend(inner.double_quoted(None)?);
        Ok(Word { parts })
    }
}

fn flush(lit: &mut String, parts: &mut Vec<Part>) {
    if !lit.is_empty() {
        parts.push(Part::Lit(std::mem::take(lit)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            match lexer.next_token().unwrap() {
                Tok::Eof => return out,
                tok => out.push(tok),
            }
        }
    }

    fn lit(s: &str) -> Tok {
        Tok::Word(Word { parts: vec![Part::Lit(s.into())] })
    }

    #[test]
    fn operators_and_redirections_split_words_without_spaces() {
        let toks = tokens("a&&b||c;d|e 2>&1 >>f");
        assert_eq!(toks[0], lit("a"));
        assert_eq!(toks[1], Tok::Op(Op::AndIf));
        assert_eq!(toks[3], Tok::Op(Op::OrIf));
        assert_eq!(toks[5], Tok::Op(Op::Semi));
        assert_eq!(toks[7], Tok::Op(Op::Pipe));
        assert_eq!(toks[9], Tok::Redir(2, RedirOp::Dup));
        assert_eq!(toks[10], lit("1"));
        assert_eq!(toks[11], Tok::Redir(1, RedirOp::Append));
    }

    #[test]
    fn quotes_keep_text_and_double_quotes_keep_expansions() {
        let toks = tokens(r#"'a $b' "c $d ${e}" \$f # comment"#);
        assert_eq!(toks.len(), 3);
        let Tok::Word(w) = &toks[0] else { panic!() };
        assert_eq!(w.parts, vec![Part::Quoted("a $b".into())]);
        let Tok::Word(w) = &toks[1] else { panic!() };
        assert!(w.parts.contains(&Part::Param { name: "d".into(), modifier: None, quoted: true }));
        assert!(w.parts.contains(&Part::Param { name: "e".into(), modifier: None, quoted: true }));
        let Tok::Word(w) = &toks[2] else { panic!() };
        assert_eq!(w.parts, vec![Part::Quoted("$".into()), Part::Lit("f".into())]);
    }

    #[test]
    fn unterminated_quotes_are_incomplete_errors() {
        let err = Lexer::new("echo 'abc").next_token().and_then(|_| Lexer::new("'abc").next_token()).unwrap_err();
        assert_eq!(err, SyntaxError::Unterminated);
        assert!(err.is_incomplete());
        assert_eq!(err.to_string(), "syntax error: unterminated quoted string");
    }

    #[test]
    fn command_substitution_nests_quotes_and_parentheses() {
        let toks = tokens(r#""<pre>$(cowsay -b 'Hello (Kubernetes)')</pre>""#);
        let Tok::Word(w) = &toks[0] else { panic!() };
        assert!(matches!(&w.parts[2], Part::Command { quoted: true, .. }), "{:?}", w.parts);
        assert_eq!(w.parts.last(), Some(&Part::Quoted("</pre>".into())));
    }
}

//! The parser: turns tokens into the syntax tree (lists, and-or chains, pipelines, compounds).

use super::ast::{AndOr, Command, Compound, Connector, Item, Part, Pipeline, Redir, RedirOp, Script, Simple, Word};
use super::lexer::{Lexer, Op, SyntaxError, Tok};

/// Words that end a list when they stand where a command would.
const CLOSERS: &[&str] = &["then", "else", "elif", "fi", "do", "done", "}", "esac"];

/// Parses a whole script.
pub fn parse(src: &str) -> Result<Script, SyntaxError> {
    let mut lexer = Lexer::new(src);
    let mut parser = Parser::new(&mut lexer);
    let script = parser.list()?;
    match parser.next()? {
        Tok::Eof => Ok(script),
        tok => Err(SyntaxError::Unexpected(tok.shown())),
    }
}

/// A recursive-descent parser pulling tokens from a lexer (shared with `$(…)` inside words).
pub struct Parser<'l> {
    lexer: &'l mut Lexer,
    peeked: Option<Tok>,
}

impl<'l> Parser<'l> {
    /// A parser reading from `lexer` at its current position.
    pub fn new(lexer: &'l mut Lexer) -> Self {
        Self { lexer, peeked: None }
    }

    /// The script of a `$(…)`: the `$(` is already read; reads through the closing `)`.
    pub fn substitution(&mut self) -> Result<Script, SyntaxError> {
        let script = self.list()?;
        match self.next()? {
            Tok::Op(Op::RParen) => Ok(script),
            Tok::Eof => Err(SyntaxError::Missing(")")),
            tok => Err(SyntaxError::Unexpected(tok.shown())),
        }
    }

    fn peek(&mut self) -> Result<&Tok, SyntaxError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        Ok(self.peeked.get_or_insert(Tok::Eof))
    }

    fn next(&mut self) -> Result<Tok, SyntaxError> {
        match self.peeked.take() {
            Some(tok) => Ok(tok),
            None => self.lexer.next_token(),
        }
    }

    fn keyword(&mut self) -> Result<Option<String>, SyntaxError> {
        Ok(match self.peek()? {
            Tok::Word(w) => w.literal().map(String::from),
            _ => None,
        })
    }

    fn skip_newlines(&mut self) -> Result<(), SyntaxError> {
        while *self.peek()? == Tok::Newline {
            self.next()?;
        }
        Ok(())
    }

    fn at_list_end(&mut self) -> Result<bool, SyntaxError> {
        if matches!(self.peek()?, Tok::Eof | Tok::Op(Op::RParen | Op::DSemi)) {
            return Ok(true);
        }
        Ok(self.keyword()?.is_some_and(|k| CLOSERS.contains(&k.as_str())))
    }

    /// A list of and-or chains, up to a closer, `)` or the end.
    fn list(&mut self) -> Result<Script, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.at_list_end()? {
                break;
            }
            let chain = self.and_or()?;
            let (background, more) = match self.peek()? {
                Tok::Op(Op::Semi) => (false, true),
                Tok::Op(Op::Amp) => (true, true),
                Tok::Newline => (false, true),
                _ => (false, false),
            };
            if more {
                self.next()?;
            }
            items.push(Item { chain, background });
            if !more {
                break;
            }
        }
        Ok(Script { items })
    }

    fn and_or(&mut self) -> Result<AndOr, SyntaxError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek()? {
                Tok::Op(Op::AndIf) => Connector::And,
                Tok::Op(Op::OrIf) => Connector::Or,
                _ => break,
            };
            self.next()?;
            self.skip_newlines()?;
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, SyntaxError> {
        let negate = self.keyword()?.as_deref() == Some("!");
        if negate {
            self.next()?;
        }
        let mut commands = vec![self.command()?];
        while *self.peek()? == Tok::Op(Op::Pipe) {
            self.next()?;
            self.skip_newlines()?;
            commands.push(self.command()?);
        }
        Ok(Pipeline { negate, commands })
    }

    fn command(&mut self) -> Result<Command, SyntaxError> {
        let compound = match self.keyword()?.as_deref() {
            Some("if") => Some(self.if_clause()?),
            Some("for") => Some(self.for_clause()?),
            Some("case") => Some(self.case_clause()?),
            Some(k @ ("while" | "until")) => {
                let until = k == "until";
                Some(self.while_clause(until)?)
            }
            Some("{") => {
                self.next()?;
                let body = self.list()?;
                self.expect("}")?;
                Some(Compound::Group(body))
            }
            _ if *self.peek()? == Tok::Op(Op::LParen) => {
                self.next()?;
                let body = self.list()?;
                match self.next()? {
                    Tok::Op(Op::RParen) => Some(Compound::Subshell(body)),
                    Tok::Eof => return Err(SyntaxError::Eof { expecting: Some(")".into()) }),
                    tok => return Err(SyntaxError::Unexpected(tok.shown())),
                }
            }
            _ => None,
        };
        match compound {
            Some(compound) => {
                let mut redirs = Vec::new();
                while let Tok::Redir(..) = self.peek()? {
                    redirs.push(self.redirection()?);
                }
                Ok(Command::Compound(compound, redirs))
            }
            None => self.simple(),
        }
    }

    /// Reads the keyword `word` or fails as busybox does.
    fn expect(&mut self, word: &str) -> Result<(), SyntaxError> {
        match self.next()? {
            Tok::Word(w) if w.literal() == Some(word) => Ok(()),
            Tok::Eof => Err(SyntaxError::Eof { expecting: Some(word.into()) }),
            tok => Err(SyntaxError::Unexpected(tok.shown())),
        }
    }

    fn if_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.list()?;
            self.expect("then")?;
            let body = self.list()?;
            branches.push((cond, body));
            match self.keyword()?.as_deref() {
                Some("elif") => {
                    self.next()?;
                }
                Some("else") => {
                    self.next()?;
                    otherwise = Some(self.list()?);
                    self.expect("fi")?;
                    break;
                }
                _ => {
                    self.expect("fi")?;
                    break;
                }
            }
        }
        Ok(Compound::If { branches, otherwise })
    }

    fn for_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let var = match self.next()? {
            Tok::Word(w) if w.literal().is_some_and(is_name) => w.literal().unwrap_or_default().to_string(),
            Tok::Eof => return Err(SyntaxError::Eof { expecting: Some("do".into()) }),
            tok => return Err(SyntaxError::Unexpected(tok.shown())),
        };
        self.skip_newlines()?;
        let mut items = None;
        if self.keyword()?.as_deref() == Some("in") {
            self.next()?;
            let mut words = Vec::new();
            while let Tok::Word(_) = self.peek()? {
                if let Tok::Word(w) = self.next()? {
                    words.push(w);
                }
            }
            items = Some(words);
        }
        if matches!(self.peek()?, Tok::Op(Op::Semi)) {
            self.next()?;
        }
        self.skip_newlines()?;
        self.expect("do")?;
        let body = self.list()?;
        self.expect("done")?;
        Ok(Compound::For { var, items, body })
    }

    fn case_clause(&mut self) -> Result<Compound, SyntaxError> {
        self.next()?;
        let word = match self.next()? {
            Tok::Word(w) => w,
            Tok::Eof => return Err(SyntaxError::Eof { expecting: Some("in".into()) }),
            tok => return Err(SyntaxError::Unexpected(tok.shown())),
        };
        self.skip_newlines()?;
        self.expect("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_newlines()?;
            if self.keyword()?.as_deref() == Some("esac") {
                self.next()?;
                break;
            }
            if *self.peek()? == Tok::Op(Op::LParen) {
                self.next()?;
            }
            let mut patterns = Vec::new();
            loop {
                match self.next()? {
                    Tok::Word(w) => patterns.push(w),
                    Tok::Eof => return Err(SyntaxError::Eof { expecting: Some("esac".into()) }),
                    tok => return Err(SyntaxError::Unexpected(tok.shown())),
                }
                match self.next()? {
                    Tok::Op(Op::Pipe) => continue,
                    Tok::Op(Op::RParen) => break,
                    Tok::Eof => return Err(SyntaxError::Eof { expecting: Some(")".into()) }),
                    tok => return Err(SyntaxError::Unexpected(tok.shown())),
                }
            }
            let body = self.list()?;
            arms.push((patterns, body));
            if *self.peek()? == Tok::Op(Op::DSemi) {
                self.next()?;
            } else {
                self.skip_newlines()?;
                self.expect("esac")?;
                break;
            }
        }
        Ok(Compound::Case { word, arms })
    }

    fn while_clause(&mut self, until: bool) -> Result<Compound, SyntaxError> {
        self.next()?;
        let cond = self.list()?;
        self.expect("do")?;
        let body = self.list()?;
        self.expect("done")?;
        Ok(Compound::While { cond, body, until })
    }

    fn simple(&mut self) -> Result<Command, SyntaxError> {
        let mut simple = Simple::default();
        loop {
            match self.peek()? {
                Tok::Word(_) => {
                    let Tok::Word(word) = self.next()? else { unreachable!("peeked a word") };
                    match assignment(&word) {
                        Some(assign) if simple.words.is_empty() => simple.assigns.push(assign),
                        _ => simple.words.push(word),
                    }
                }
                Tok::Redir(..) => simple.redirs.push(self.redirection()?),
                _ => break,
            }
        }
        if simple.words.is_empty() && simple.assigns.is_empty() && simple.redirs.is_empty() {
            let tok = self.next()?;
            return Err(match tok {
                Tok::Eof => SyntaxError::Eof { expecting: None },
                tok => SyntaxError::Unexpected(tok.shown()),
            });
        }
        Ok(Command::Simple(simple))
    }

    fn redirection(&mut self) -> Result<Redir, SyntaxError> {
        let Tok::Redir(fd, op) = self.next()? else { return Err(SyntaxError::Unexpected("redirection".into())) };
        let target = match self.next()? {
            Tok::Word(w) => w,
            Tok::Eof => return Err(SyntaxError::Unexpected("end of file".into())),
            tok => return Err(SyntaxError::Unexpected(tok.shown())),
        };
        if op != RedirOp::HereDoc {
            return Ok(Redir { fd, op, target });
        }
        let quoted = target.parts.iter().any(|p| matches!(p, Part::Quoted(_)));
        let delimiter = target.shown();
        let body = self.lexer.take_heredoc(&delimiter, quoted, false)?;
        Ok(Redir { fd, op, target: body })
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value…`: the name and the value's word.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = word.parts.first() else { return None };
    let (name, value) = first.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    if !value.is_empty() {
        parts.push(Part::Lit(value.into()));
    }
    parts.extend(word.parts[1..].iter().cloned());
    Some((name.into(), Word { parts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().to_string()
    }

    #[test]
    fn lists_chains_and_pipelines_nest_as_the_grammar_says() {
        let script = parse("a && b || c; d | e &\nf").unwrap();
        assert_eq!(script.items.len(), 3);
        assert_eq!(script.items[0].chain.rest.len(), 2);
        assert_eq!(script.items[0].chain.rest[1].0, Connector::Or);
        assert_eq!(script.items[1].chain.first.commands.len(), 2);
        assert!(script.items[1].background);
    }

    #[test]
    fn assignments_only_count_before_the_command_name() {
        let script = parse("A=1 B=x echo C=2").unwrap();
        let Command::Simple(s) = &script.items[0].chain.first.commands[0] else { panic!() };
        assert_eq!(s.assigns.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(s.words[1].literal(), Some("C=2"));
    }

    #[test]
    fn compounds_parse_with_their_keywords() {
        let script = parse(
            "if true; then echo a; elif false; then echo b; else echo c; fi\nfor x in 1 2; do echo $x; \
            done\nwhile false; do :; done",
        )
        .unwrap();
        assert!(matches!(&script.items[0].chain.first.commands[0], Command::Compound(Compound::If { branches,
                otherwise: Some(_) }, _) if branches.len() == 2));
        assert!(
            matches!(&script.items[1].chain.first.commands[0], Command::Compound(Compound::For { items: Some(i), .. },
                _) if i.len() == 2)
        );
        assert!(matches!(
            &script.items[2].chain.first.commands[0],
            Command::Compound(Compound::While { until: false, .. }, _)
        ));
    }

    #[test]
    fn syntax_errors_are_worded_like_busybox() {
        assert_eq!(err("fi"), "syntax error: unexpected \"fi\"");
        assert_eq!(err("if true; fi"), "syntax error: unexpected \"fi\"");
        assert_eq!(err("if true; then echo"), "syntax error: unexpected end of file (expecting \"fi\")");
        assert_eq!(err("echo a &&"), "syntax error: unexpected end of file");
        assert_eq!(err("; echo"), "syntax error: unexpected \";\"");
        assert_eq!(err("echo >"), "syntax error: unexpected end of file");
        assert_eq!(err("echo ) a"), "syntax error: unexpected \")\"");
        assert_eq!(err("echo \"a"), "syntax error: unterminated quoted string");
    }

    proptest::proptest! {
        #[test]
        fn any_input_parses_or_fails_without_panicking(src in "[a-z0-9 ;&|()<>'\"$`{}#\\\n=*!-]{0,40}") {
            let _ = parse(&src);
        }
    }

    #[test]
    fn here_documents_take_the_following_lines() {
        let script = parse("cat <<EOF > f\nhello $X\nEOF\necho done").unwrap();
        assert_eq!(script.items.len(), 2);
        let Command::Simple(s) = &script.items[0].chain.first.commands[0] else { panic!() };
        assert_eq!(s.redirs[0].op, RedirOp::HereDoc);
        assert!(s.redirs[0].target.parts.iter().any(|p| matches!(p, Part::Param { name, .. } if name == "X")));
        assert_eq!(s.redirs[1].target.literal(), Some("f"));
    }
}

//! Word expansion: parameters, command substitution, arithmetic, field splitting and globbing.

use crate::bracket::Bracket;

use futures::future::BoxFuture;

use super::ast::{Part, Script, Word};
use super::interp::Shell;
use super::io::{Sink, Streams};

/// Fields being built: the text and a glob pattern in which quoted characters are escaped.
#[derive(Default)]
struct Fields {
    done: Vec<(String, Option<String>)>,
    text: String,
    pattern: String,
    started: bool,
    glob: bool,
}

impl Fields {
    fn quoted(&mut self, s: &str) {
        self.started = true;
        self.text.push_str(s);
        for c in s.chars() {
            if "*?[]\\".contains(c) {
                self.pattern.push('\\');
            }
            self.pattern.push(c);
        }
    }

    fn unquoted(&mut self, s: &str) {
        self.started = true;
        self.text.push_str(s);
        self.pattern.push_str(s);
        self.glob |= s.contains(['*', '?', '[']);
    }

    /// An unquoted expansion's value: split at blanks, then globbed.
    fn split(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.finish();
            } else {
                self.unquoted(&c.to_string());
            }
        }
    }

    fn finish(&mut self) {
        if self.started {
            let pattern = self.glob.then(|| std::mem::take(&mut self.pattern));
            self.done.push((std::mem::take(&mut self.text), pattern));
        }
        self.text.clear();
        self.pattern.clear();
        self.started = false;
        self.glob = false;
    }
}

impl Shell {
    /// Expands command words into fields.
    pub(super) async fn expand_words(&mut self, words: &[Word]) -> Vec<String> {
        let mut out = Vec::new();
        for word in words {
            let mut fields = Fields::default();
            let only_quoted_at = matches!(word.parts.as_slice(), [Part::Quoted(q), Part::Param { name, quoted: true,
                modifier: None }] if q.is_empty() && name == "@");
            if only_quoted_at {
                out.extend(self.args.iter().skip(1).cloned());
                continue;
            }
            for part in &word.parts {
                self.expand_part(part, &mut fields).await;
            }
            fields.finish();
            for (text, pattern) in fields.done {
                match pattern.map(|p| self.glob(&p)) {
                    Some(matches) if !matches.is_empty() => out.extend(matches),
                    _ => out.push(text),
                }
            }
        }
        out
    }

    /// Expands a word to one string: no splitting, no globbing (assignments, redirections).
    pub(super) fn expand_string<'a>(&'a mut self, word: &'a Word) -> BoxFuture<'a, String> {
        Box::pin(async move {
            let mut fields = Fields::default();
            for part in &word.parts {
                match part {
                    Part::Lit(s) | Part::Quoted(s) => fields.quoted(s),
                    Part::Param { .. } | Part::Command { .. } | Part::Arith { .. } | Part::Tilde => {
                        let value = self.part_value(part).await;
                        fields.quoted(&value);
                    }
                }
            }
            fields.text
        })
    }

    /// Expands a `case` pattern: quoted characters are escaped, unquoted ones keep their meaning.
    pub(super) async fn expand_pattern(&mut self, word: &Word) -> String {
        let mut fields = Fields::default();
        for part in &word.parts {
            match part {
                Part::Lit(s) => fields.unquoted(s),
                Part::Quoted(s) => fields.quoted(s),
                _ => {
                    let value = self.part_value(part).await;
                    fields.quoted(&value);
                }
            }
        }
        fields.pattern
    }

    async fn expand_part(&mut self, part: &Part, fields: &mut Fields) {
        match part {
            Part::Lit(s) => fields.unquoted(s),
            Part::Quoted(s) => fields.quoted(s),
            Part::Tilde => {
                let home = self.part_value(part).await;
                fields.quoted(&home);
            }
            Part::Param { name, quoted: true, modifier: None } if name == "@" => {
                let args: Vec<String> = self.args.iter().skip(1).cloned().collect();
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        fields.finish();
                    }
                    fields.quoted(arg);
                }
            }
            Part::Param { quoted, .. } | Part::Command { quoted, .. } | Part::Arith { quoted, .. } => {
                let value = self.part_value(part).await;
                if *quoted {
                    fields.quoted(&value);
                } else {
                    fields.split(&value);
                }
            }
        }
    }

    fn part_value<'a>(&'a mut self, part: &'a Part) -> BoxFuture<'a, String> {
        Box::pin(async move {
            match part {
                Part::Lit(s) | Part::Quoted(s) => s.clone(),
                Part::Tilde => self.vars.get("HOME").cloned().unwrap_or_else(|| "/root".into()),
                Part::Param { name, modifier, .. } => self.param(name, modifier.as_ref()).await,
                Part::Command { script, .. } => self.substitute(script).await,
                Part::Arith { expr, .. } => {
                    let expanded = self.expand_string(&Word { parts: arith_parts(expr) }).await;
                    match super::builtins::arith::eval(&expanded, &self.vars) {
                        Ok(n) => n.to_string(),
                        Err(message) => {
                            self.diagnostics
                                .write(format!("sh: arithmetic syntax error: {message}\n").as_bytes())
                                .await;
                            "0".into()
                        }
                    }
                }
            }
        })
    }

    /// `$(…)`: runs in a subshell; the output without its trailing newlines.
    async fn substitute(&mut self, script: &Script) -> String {
        let mut sub = self.subshell();
        let out = Sink::buffer();
        let io = Streams { stdin: Default::default(), stdout: out.clone(), stderr: self.diagnostics.clone() };
        let status = sub.run_script(script, &io).await;
        self.subst_status = Some(sub.exiting.unwrap_or(status));
        self.status = self.subst_status.unwrap_or(0);
        let text = String::from_utf8_lossy(&out.contents()).into_owned();
        text.trim_end_matches('\n').to_string()
    }

    /// A parameter's value, before any modifier.
    pub(super) fn lookup(&self, name: &str) -> Option<String> {
        let positional = |i: usize| self.args.get(i).cloned();
        match name {
            "?" => Some(self.status.to_string()),
            "$" => Some(self.pid.to_string()),
            "#" => Some(self.args.len().saturating_sub(1).to_string()),
            "@" | "*" => Some(self.args.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")),
            "!" => Some(self.last_job.to_string()),
            "-" => Some(if self.errexit { "e".into() } else { String::new() }),
            n if n.chars().all(|c| c.is_ascii_digit()) => n.parse().ok().and_then(positional),
            n => self.vars.get(n).cloned(),
        }
    }

    async fn param(&mut self, name: &str, modifier: Option<&(String, Word)>) -> String {
        let value = self.lookup(name);
        let Some((op, word)) = modifier else { return value.unwrap_or_default() };
        let unset = match op.as_str() {
            "#" => return value.unwrap_or_default().chars().count().to_string(),
            o if o.starts_with(':') => value.as_deref().is_none_or(str::is_empty),
            _ => value.is_none(),
        };
        match op.trim_start_matches(':') {
            "-" if unset => self.expand_string(word).await,
            "=" if unset => {
                let v = self.expand_string(word).await;
                self.set_var(name, v.clone());
                v
            }
            "+" if unset => String::new(),
            "+" => self.expand_string(word).await,
            "?" if unset => {
                let message = self.expand_string(word).await;
                let message = if message.is_empty() { "parameter not set".to_string() } else { message };
                self.diagnostics.write(format!("sh: {name}: {message}\n").as_bytes()).await;
                if self.exiting.is_none() {
                    self.exiting = Some(1);
                }
                String::new()
            }
            _ => value.unwrap_or_default(),
        }
    }

    /// Matches a glob pattern against the filesystem; sorted paths, empty when nothing matches.
    pub(super) fn glob(&self, pattern: &str) -> Vec<String> {
        let absolute = pattern.starts_with('/');
        let mut paths: Vec<String> = vec![String::new()];
        for component in pattern.split('/').filter(|c| !c.is_empty()) {
            let mut next = Vec::new();
            for prefix in &paths {
                if !has_glob(component) {
                    next.push(join(prefix, &unescape(component)));
                    continue;
                }
                let dir = if absolute {
                    self.abs(&format!("/{prefix}"))
                } else if prefix.is_empty() {
                    self.cwd.clone()
                } else {
                    self.abs(prefix)
                };
                for entry in self.ctx.fs.list(&dir).unwrap_or_default() {
                    if glob_match(component, &entry.name) {
                        next.push(join(prefix, &entry.name));
                    }
                }
            }
            paths = next;
        }
        let mut found: Vec<String> = paths
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| if absolute { format!("/{p}") } else { p })
            .filter(|p| self.ctx.fs.is_dir(&self.abs(p)).is_some())
            .collect();
        found.sort();
        found
    }
}

/// The parts of an arithmetic expression: its `$name` and `$(…)` are expanded before evaluation.
fn arith_parts(expr: &str) -> Vec<Part> {
    let mut lexer = super::lexer::Lexer::new(expr);
    lexer.here_body().unwrap_or_else(|_| vec![Part::Quoted(expr.to_string())])
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") }
}

fn has_glob(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `name` matches the glob `pattern` (`*`, `?`, `[abc]`, `[!a-z]`, `\x`); a leading dot
/// must be matched explicitly.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if n.first() == Some(&'.') && p.first() != Some(&'.') {
        return false;
    }
    match_from(&p, &n)
}

/// Like [`glob_match`], but a leading dot needs no explicit match (`find -name`).
pub fn glob_match_name(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| match_from(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && match_from(&p[1..], &n[1..]),
        Some('[') => match (n.first(), Bracket::parse(&p[1..], &['!', '^'])) {
            (Some(&c), Some((set, len))) => set.matches(c) && match_from(&p[len + 1..], &n[1..]),
            (Some(&c), None) => c == '[' && match_from(&p[1..], &n[1..]),
            (None, _) => false,
        },
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_from(&p[2..], &n[1..]),
        Some(&c) => n.first() == Some(&c) && match_from(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_classes_and_hidden_files() {
        assert!(glob_match("*.yaml", "deploy.yaml"));
        assert!(!glob_match("*.yaml", "deploy.yml"));
        assert!(!glob_match("*", ".git"));
        assert!(glob_match(".*", ".git"));
        assert!(glob_match("file[0-9].txt", "file3.txt"));
        assert!(!glob_match("file[!0-9].txt", "file3.txt"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
    }
}

//! A small regular-expression matcher for grep and sed: literals, `.`, `[…]`, `*`, `^`, `$`, and
//! (extended syntax, or `\+ \? \|` in basic syntax) `+`, `?`, `|`. No groups or back-references.

use crate::bracket::Bracket;

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Char(char),
    Any,
    Class(Bracket),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    One,
    Star,
    Plus,
    Optional,
}

#[derive(Debug, Clone, PartialEq)]
struct Branch {
    start: bool,
    end: bool,
    nodes: Vec<(Atom, Rep)>,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    branches: Vec<Branch>,
    icase: bool,
}

impl Regex {
    /// Compiles `pattern`: `extended` for grep -E; `fixed` takes it literally (grep -F).
    pub fn new(pattern: &str, extended: bool, fixed: bool, icase: bool) -> Regex {
        let fold = |c: char| if icase { c.to_ascii_lowercase() } else { c };
        if fixed {
            let nodes = pattern.chars().map(|c| (Atom::Char(fold(c)), Rep::One)).collect();
            return Regex { branches: vec![Branch { start: false, end: false, nodes }], icase };
        }
        let chars: Vec<char> = pattern.chars().map(fold).collect();
        let mut branches = Vec::new();
        let mut current = Branch { start: false, end: false, nodes: Vec::new() };
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let escaped = c == '\\' && i + 1 < chars.len();
            let next = if escaped { chars[i + 1] } else { c };
            let special = |ch: char| if extended { !escaped && c == ch } else { escaped && next == ch };
            if special('|') {
                branches.push(std::mem::replace(&mut current, Branch { start: false, end: false, nodes: Vec::new() }));
                i += 1 + usize::from(escaped);
                continue;
            }
            let rep = if !escaped && c == '*' {
                Some(Rep::Star)
            } else if special('+') {
                Some(Rep::Plus)
            } else if special('?') {
                Some(Rep::Optional)
            } else {
                None
            };
            if let (Some(rep), Some(last)) = (rep, current.nodes.last_mut()) {
                last.1 = rep;
                i += 1 + usize::from(escaped && rep != Rep::Star);
                continue;
            }
            if !escaped && c == '^' && current.nodes.is_empty() {
                current.start = true;
                i += 1;
                continue;
            }
            if !escaped && c == '$' && (i + 1 == chars.len() || (extended && chars.get(i + 1) == Some(&'|'))) {
                current.end = true;
                i += 1;
                continue;
            }
            let (atom, len) = match (escaped, c) {
                (true, _) => (Atom::Char(unescape(next)), 2),
                (false, '.') => (Atom::Any, 1),
                (false, '[') => Bracket::parse(&chars[i + 1..], &['^'])
                    .map(|(set, l)| (Atom::Class(set), l + 1))
                    .unwrap_or((Atom::Char('['), 1)),
                (false, other) => (Atom::Char(other), 1),
            };
            current.nodes.push((atom, Rep::One));
            i += len;
        }
        branches.push(current);
        Regex { branches, icase }
    }

    /// The first match in `text`: start and end, in characters.
    pub fn find_at(&self, text: &[char], from: usize) -> Option<(usize, usize)> {
        let folded: Vec<char> =
            if self.icase { text.iter().map(|c| c.to_ascii_lowercase()).collect() } else { text.to_vec() };
        (from..=folded.len()).find_map(|s| {
            self.branches
                .iter()
                .find_map(|b| if b.start && s != 0 { None } else { here(&b.nodes, &folded, s, b.end).map(|e| (s, e)) })
        })
    }

    /// Whether `line` contains a match.
    pub fn is_match(&self, line: &str) -> bool {
        let chars: Vec<char> = line.chars().collect();
        self.find_at(&chars, 0).is_some()
    }
}

fn unescape(c: char) -> char {
    match c {
        'n' => '\n',
        't' => '\t',
        other => other,
    }
}

fn matches(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Char(x) => *x == c,
        Atom::Any => c != '\n',
        Atom::Class(set) => set.matches(c),
    }
}

/// Matches `nodes` at `i`, greedily with backtracking; the end of the match.
fn here(nodes: &[(Atom, Rep)], text: &[char], i: usize, end: bool) -> Option<usize> {
    let Some(((atom, rep), rest)) = nodes.split_first() else {
        return if end && i != text.len() { None } else { Some(i) };
    };
    let (min, max) = match rep {
        Rep::One => (1, 1),
        Rep::Star => (0, usize::MAX),
        Rep::Plus => (1, usize::MAX),
        Rep::Optional => (0, 1),
    };
    let available = text[i..].iter().take(max).take_while(|&&c| matches(atom, c)).count();
    (min..=available).rev().find_map(|n| here(rest, text, i + n, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_extended_patterns_match_like_grep() {
        assert!(Regex::new("ngin.", false, false, false).is_match("nginx: master"));
        assert!(Regex::new("^kind: Deploy", false, false, false).is_match("kind: Deployment"));
        assert!(!Regex::new("^kind", false, false, false).is_match(" kind"));
        assert!(Regex::new("yaml$", false, false, false).is_match("a.yaml"));
        assert!(Regex::new("ab*c", false, false, false).is_match("ac"));
        assert!(Regex::new("[0-9][0-9]*", false, false, false).is_match("v12"));
        assert!(Regex::new("a+b|zz", true, false, false).is_match("xzz"));
        assert!(Regex::new("HELLO", false, false, true).is_match("hello world"));
        assert!(Regex::new("a.b", false, true, false).is_match("xa.b"));
        assert!(!Regex::new("a.b", false, true, false).is_match("axb"));
    }

    #[test]
    fn matches_report_their_span() {
        let text: Vec<char> = "say hello".chars().collect();
        assert_eq!(Regex::new("l+", true, false, false).find_at(&text, 0), Some((6, 8)));
    }
}

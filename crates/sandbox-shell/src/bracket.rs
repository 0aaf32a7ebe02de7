//! Bracket expressions — `[a-z]`, `[^0-9]`, `[!.]`, `[[:digit:]]` — as globs and the builtins'
//! regular expressions both read them: one parser for the two.

/// A set of characters written in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bracket {
    ranges: Vec<(char, char)>,
    negated: bool,
}

impl Bracket {
    /// Parses what follows a `[`: the set and how many characters it took through its `]`, or
    /// `None` if it is not closed. `negators` are the characters that negate it when first (`^`
    /// in a regular expression; `!` or `^` in a glob).
    pub(crate) fn parse(p: &[char], negators: &[char]) -> Option<(Self, usize)> {
        let negated = p.first().is_some_and(|c| negators.contains(c));
        let mut i = usize::from(negated);
        let start = i;
        let mut ranges = Vec::new();
        while i < p.len() {
            if p[i] == ']' && i > start {
                return Some((Self { ranges, negated }, i + 1));
            }
            if p[i..].starts_with(&['[', ':']) {
                let end = p[i..].iter().position(|&c| c == ']')? + i;
                let name: String = p[i + 2..end.saturating_sub(1)].iter().collect();
                ranges.extend(named(&name));
                i = end + 1;
                continue;
            }
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                ranges.push((p[i], p[i + 2]));
                i += 3;
            } else {
                ranges.push((p[i], p[i]));
                i += 1;
            }
        }
        None
    }

    /// Whether `c` is in the set.
    pub(crate) fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// The POSIX classes the chapter's scripts use.
fn named(name: &str) -> Vec<(char, char)> {
    match name {
        "digit" => vec![('0', '9')],
        "alpha" => vec![('a', 'z'), ('A', 'Z')],
        "alnum" => vec![('a', 'z'), ('A', 'Z'), ('0', '9')],
        "upper" => vec![('A', 'Z')],
        "lower" => vec![('a', 'z')],
        "space" => vec![(' ', ' '), ('\t', '\r')],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, negators: &[char]) -> Option<(Bracket, usize)> {
        Bracket::parse(&text.chars().collect::<Vec<_>>(), negators)
    }

    #[test]
    fn ranges_classes_and_negation() {
        let (set, len) = parse("a-c[:digit:]]x", &['^']).unwrap();
        assert_eq!(len, 13);
        assert!(set.matches('b') && set.matches('7') && !set.matches('d'));
        let (glob, _) = parse("!.]", &['!', '^']).unwrap();
        assert!(!glob.matches('.') && glob.matches('a'));
        assert!(parse("]a]", &['^']).unwrap().0.matches(']'), "a leading ] is a member");
        assert!(parse("abc", &['^']).is_none(), "unclosed");
    }
}

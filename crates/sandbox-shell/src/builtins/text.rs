//! Text filters: head, tail, wc, grep, sed, tr, sort, uniq, cut, base64, tee, xargs.

use base64::Engine as _;

use super::regex::Regex;
use super::{Call, Flags};
use crate::interp::Shell;

async fn parse(c: &Call, args: &[String], valued: &str) -> Option<Flags> {
    match Flags::parse(args, valued) {
        Ok(flags) => Some(flags),
        Err(message) => {
            c.fail(message).await;
            None
        }
    }
}

/// Lines of `bytes`, each keeping its newline.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

fn text_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(String::from).collect()
}

/// `-5` as `-n 5`, the old form head and tail accept.
fn numeric_shorthand(args: &[String]) -> Vec<String> {
    args.iter()
        .flat_map(|a| match a.strip_prefix('-').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())) {
            Some(n) => vec!["-n".to_string(), n.to_string()],
            None => vec![a.clone()],
        })
        .collect()
}

pub(crate) async fn head(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &numeric_shorthand(&c.args[1..]), "nc").await else { return 1 };
    let count = |k: char| flags.values.get(&k).and_then(|v| v.parse::<usize>().ok());
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let many = inputs.len() > 1;
    for (i, (name, bytes)) in inputs.iter().enumerate() {
        if many {
            c.out(format!("{}==> {name} <==\n", if i > 0 { "\n" } else { "" })).await;
        }
        let part: Vec<u8> = match count('c') {
            Some(n) => bytes.iter().take(n).copied().collect(),
            None => lines(bytes).into_iter().take(count('n').unwrap_or(10)).flatten().copied().collect(),
        };
        c.out(part).await;
    }
    i32::from(!ok)
}

pub(crate) async fn tail(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &numeric_shorthand(&c.args[1..]), "nc").await else { return 1 };
    let spec = flags.values.get(&'n').cloned().unwrap_or_else(|| "10".into());
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    for (_, bytes) in &inputs {
        let all = lines(bytes);
        let chosen: Vec<&[u8]> = match spec.strip_prefix('+') {
            Some(from) => all.iter().skip(from.parse::<usize>().unwrap_or(1).saturating_sub(1)).copied().collect(),
            None => {
                let n = spec.parse::<usize>().unwrap_or(10);
                all[all.len().saturating_sub(n)..].to_vec()
            }
        };
        c.out(chosen.concat()).await;
    }
    if flags.has('f') {
        // Following never ends by itself: `tail -f /dev/null` keeps a container running.
        sh.pauses += 1;
        std::future::pending::<()>().await;
    }
    i32::from(!ok)
}

pub(crate) async fn wc(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "").await else { return 1 };
    let chosen: Vec<char> =
        ['l', 'w', 'c'].into_iter().filter(|k| flags.has(*k) || (*k == 'c' && flags.has('m'))).collect();
    let chosen = if chosen.is_empty() { vec!['l', 'w', 'c'] } else { chosen };
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let mut out = String::new();
    let mut totals = [0usize; 3];
    let count = |bytes: &[u8]| {
        [
            bytes.iter().filter(|&&b| b == b'\n').count(),
            String::from_utf8_lossy(bytes).split_whitespace().count(),
            bytes.len(),
        ]
    };
    let row = |counts: [usize; 3], name: &str| {
        let cells: Vec<String> = chosen
            .iter()
            .map(|k| counts[['l', 'w', 'c'].iter().position(|x| x == k).unwrap_or(0)])
            .map(|n| if chosen.len() == 1 && name == "-" { n.to_string() } else { format!("{n:>7}") })
            .collect();
        let name = if name == "-" { String::new() } else { format!(" {name}") };
        format!("{}{name}\n", cells.join(" "))
    };
    for (name, bytes) in &inputs {
        let counts = count(bytes);
        totals.iter_mut().zip(counts).for_each(|(t, n)| *t += n);
        out.push_str(&row(counts, name));
    }
    if inputs.len() > 1 {
        out.push_str(&row(totals, "total"));
    }
    c.out(out).await;
    i32::from(!ok)
}

/// `grep [-ivqcnlEFwoh] PATTERN [files…]` (or `-e PATTERN`).
pub(crate) async fn grep(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(mut flags) = parse(c, &c.args[1..], "e").await else { return 2 };
    let pattern = match flags.values.get(&'e').cloned() {
        Some(p) => p,
        None if !flags.operands.is_empty() => flags.operands.remove(0),
        None => return c.fail("usage: grep [-ivqcnlEFwo] PATTERN [FILE]...").await + 1,
    };
    let regex = Regex::new(&pattern, flags.has('E') || c.name() == "egrep", flags.has('F'), flags.has('i'));
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let prefix = inputs.len() > 1 && !flags.has('h');
    let mut matched = false;
    let mut out = String::new();
    for (name, bytes) in &inputs {
        let mut count = 0;
        for (n, line) in text_lines(bytes).iter().enumerate() {
            let hit = if flags.has('w') { word_match(&regex, line) } else { regex.is_match(line) };
            if hit == flags.has('v') {
                continue;
            }
            count += 1;
            matched = true;
            if flags.has('q') || flags.has('l') || flags.has('c') {
                continue;
            }
            let file = if prefix { format!("{name}:") } else { String::new() };
            let number = if flags.has('n') { format!("{}:", n + 1) } else { String::new() };
            out.push_str(&format!("{file}{number}{line}\n"));
        }
        if flags.has('l') && count > 0 {
            out.push_str(&format!("{name}\n"));
        } else if flags.has('c') {
            out.push_str(&if prefix { format!("{name}:{count}\n") } else { format!("{count}\n") });
        }
    }
    if flags.has('q') {
        return i32::from(!matched);
    }
    c.out(out).await;
    if !ok { 2 } else { i32::from(!matched) }
}

fn word_match(regex: &Regex, line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let is_word = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let mut from = 0;
    while let Some((s, e)) = regex.find_at(&chars, from) {
        if (s == 0 || !is_word(s - 1)) && !is_word(e) {
            return true;
        }
        from = s + 1;
    }
    false
}

/// One `s/re/replacement/flags` command.
struct Substitute {
    regex: Regex,
    replacement: String,
    global: bool,
    print: bool,
}

fn parse_substitute(script: &str, extended: bool) -> Result<Substitute, String> {
    let mut chars = script.trim().chars();
    if chars.next() != Some('s') {
        return Err(format!("unsupported command: {script} (this sandbox's sed only has s/…/…/)"));
    }
    let delim = chars.next().ok_or("missing command")?;
    let mut fields = vec![String::new()];
    let mut escaped = false;
    for ch in chars {
        match ch {
            _ if escaped => {
                let last = fields.last_mut().ok_or("bad command")?;
                if ch != delim {
                    last.push('\\');
                }
                last.push(ch);
                escaped = false;
            }
            '\\' => escaped = true,
            _ if ch == delim => fields.push(String::new()),
            _ => fields.last_mut().ok_or("bad command")?.push(ch),
        }
    }
    if fields.len() != 3 {
        return Err(format!("unterminated `s' command: {script}"));
    }
    let flags = &fields[2];
    Ok(Substitute {
        regex: Regex::new(&fields[0], extended, false, flags.contains('I') || flags.contains('i')),
        replacement: fields[1].clone(),
        global: flags.contains('g'),
        print: flags.contains('p'),
    })
}

impl Substitute {
    fn apply(&self, line: &str) -> (String, bool) {
        let chars: Vec<char> = line.chars().collect();
        let mut out = String::new();
        let mut from = 0;
        let mut changed = false;
        while let Some((s, e)) = self.regex.find_at(&chars, from) {
            out.extend(&chars[from..s]);
            out.push_str(&self.expand(&chars[s..e].iter().collect::<String>()));
            changed = true;
            from = if e == s {
                out.extend(chars.get(s));
                s + 1
            } else {
                e
            };
            if !self.global || from > chars.len() {
                break;
            }
        }
        out.extend(chars.get(from..).unwrap_or_default());
        (out, changed)
    }

    fn expand(&self, matched: &str) -> String {
        let mut out = String::new();
        let mut chars = self.replacement.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '&' => out.push_str(matched),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => {}
                },
                other => out.push(other),
            }
        }
        out
    }
}

/// `sed [-n] [-E] [-i] [-e] 's/re/rep/[gpI]' [files…]` (several commands separated by `;` or -e).
pub(crate) async fn sed(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(mut flags) = parse(c, &c.args[1..], "e").await else { return 1 };
    let script = match flags.values.get(&'e').cloned() {
        Some(s) => s,
        None if !flags.operands.is_empty() => flags.operands.remove(0),
        None => return c.fail("no script specified").await,
    };
    let mut commands = Vec::new();
    for part in script.split([';', '\n']).filter(|p| !p.trim().is_empty()) {
        match parse_substitute(part, flags.has('E') || flags.has('r')) {
            Ok(command) => commands.push(command),
            Err(message) => return c.fail(format!("-e expression #1: {message}")).await,
        }
    }
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    for (name, bytes) in inputs {
        let mut out = String::new();
        for line in text_lines(&bytes) {
            let mut line = line;

            for command in &commands {
                let (next, changed) = command.apply(&line);
                line = next;
                if changed && command.print {
                    out.push_str(&format!("{line}\n"));
                }
            }
            if !flags.has('n') {
                out.push_str(&format!("{line}\n"));
            }
        }
        if flags.has('i') && name != "-" {
            let _ = sh.ctx.fs.write(&sh.abs(&name), out.into_bytes(), false);
        } else {
            c.out(out).await;
        }
    }
    i32::from(!ok)
}

/// The characters of a `tr` set: ranges `a-z`, escapes and `[:upper:]`-style classes.
fn tr_set(spec: &str) -> Vec<char> {
    let expanded = spec
        .replace("[:upper:]", "A-Z")
        .replace("[:lower:]", "a-z")
        .replace("[:digit:]", "0-9")
        .replace("[:space:]", " \t\n\r");
    let (unescaped, _) = super::core::unescape(&expanded);
    let chars: Vec<char> = unescaped.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i] <= chars[i + 2] {
            out.extend(chars[i]..=chars[i + 2]);
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

pub(crate) async fn tr(_: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "").await else { return 1 };
    let from = tr_set(flags.operands.first().map(String::as_str).unwrap_or_default());
    let to = tr_set(flags.operands.get(1).map(String::as_str).unwrap_or_default());
    let squeeze = flags.has('s');
    if from.is_empty() || (!flags.has('d') && !squeeze && to.is_empty()) {
        return c.fail("missing operand").await;
    }
    let input = String::from_utf8_lossy(&c.stdin.read_all().await).into_owned();
    let translated = input.chars().filter_map(|ch| match from.iter().position(|&f| f == ch) {
        Some(_) if flags.has('d') => None,
        Some(i) if !to.is_empty() => to.get(i).or(to.last()).copied(),
        _ => Some(ch),
    });
    // `-s` squeezes runs of the characters of the last set given.
    let squeezed = if to.is_empty() && !flags.has('d') { &from } else { &to };
    let mut out = String::new();
    for ch in translated {
        if squeeze && out.ends_with(ch) && squeezed.contains(&ch) {
            continue;
        }
        out.push(ch);
    }
    c.out(out).await;
    0
}

pub(crate) async fn sort(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "tk").await else { return 1 };
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let mut all: Vec<String> = inputs.iter().flat_map(|(_, b)| text_lines(b)).collect();
    let numeric = |s: &str| {
        s.trim()
            .split(|c: char| !c.is_ascii_digit() && c != '-' && c != '.')
            .next()
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    if flags.has('n') {
        all.sort_by(|a, b| numeric(a).total_cmp(&numeric(b)).then_with(|| a.cmp(b)));
    } else {
        all.sort();
    }
    if flags.has('r') {
        all.reverse();
    }
    if flags.has('u') {
        all.dedup();
    }
    c.out(all.iter().map(|l| format!("{l}\n")).collect::<String>()).await;
    i32::from(!ok)
}

pub(crate) async fn uniq(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "").await else { return 1 };
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let mut groups: Vec<(String, usize)> = Vec::new();
    for line in inputs.iter().flat_map(|(_, b)| text_lines(b)) {
        match groups.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => groups.push((line, 1)),
        }
    }
    let out: String = groups
        .into_iter()
        .filter(|(_, n)| !flags.has('d') || *n > 1)
        .filter(|(_, n)| !flags.has('u') || *n == 1)
        .map(|(line, n)| if flags.has('c') { format!("{n:>7} {line}\n") } else { format!("{line}\n") })
        .collect();
    c.out(out).await;
    i32::from(!ok)
}

/// Whether the 1-based field `n` is in a list like `1,3-4,6-`.
fn in_list(list: &str, n: usize) -> bool {
    list.split(',').any(|part| match part.split_once('-') {
        Some((a, b)) => a.parse().unwrap_or(1) <= n && b.parse().unwrap_or(usize::MAX) >= n,
        None => part.parse() == Ok(n),
    })
}

pub(crate) async fn cut(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "dfc").await else { return 1 };
    let delim = flags.values.get(&'d').and_then(|d| d.chars().next()).unwrap_or('\t');
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let mut out = String::new();
    for line in inputs.iter().flat_map(|(_, b)| text_lines(b)) {
        let picked: String = match (flags.values.get(&'f'), flags.values.get(&'c')) {
            (Some(list), _) if line.contains(delim) => line
                .split(delim)
                .enumerate()
                .filter(|(i, _)| in_list(list, i + 1))
                .map(|(_, f)| f)
                .collect::<Vec<_>>()
                .join(&delim.to_string()),
            (Some(_), _) => line,
            (None, Some(list)) => {
                line.chars().enumerate().filter(|(i, _)| in_list(list, i + 1)).map(|(_, ch)| ch).collect()
            }
            (None, None) => return c.fail("you must specify a list of bytes, characters, or fields").await,
        };
        out.push_str(&picked);
        out.push('\n');
    }
    c.out(out).await;
    i32::from(!ok)
}

pub(crate) async fn base64(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "w").await else { return 1 };
    let (inputs, ok) = c.inputs(sh, &flags.operands).await;
    let data: Vec<u8> = inputs.into_iter().flat_map(|(_, b)| b).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    if flags.has('d') {
        let clean: Vec<u8> = data.into_iter().filter(|b| !b.is_ascii_whitespace()).collect();
        return match engine.decode(clean) {
            Ok(bytes) => {
                c.out(bytes).await;
                i32::from(!ok)
            }
            Err(_) => c.fail("invalid input").await,
        };
    }
    let encoded = engine.encode(data);
    let width = flags.values.get(&'w').and_then(|w| w.parse::<usize>().ok()).unwrap_or(76);
    let wrapped = if width == 0 {
        encoded
    } else {
        encoded.as_bytes().chunks(width).map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\n")
    };
    c.out(format!("{wrapped}\n")).await;
    i32::from(!ok)
}

pub(crate) async fn tee(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(flags) = parse(c, &c.args[1..], "").await else { return 1 };
    let data = c.stdin.read_all().await;
    let mut status = 0;
    for file in &flags.operands {
        if let Err(e) = sh.ctx.fs.write(&sh.abs(file), data.clone(), flags.has('a')) {
            status = c.fail(format!("{file}: {}", crate::redirect::reason(&e))).await;
        }
    }
    c.out(data).await;
    status
}

/// `xargs [-n N] [-I STR] [command args…]`: runs the command with the words read from stdin.
pub(crate) async fn xargs(sh: &mut Shell, c: &mut Call) -> i32 {
    let split = c.args[1..].iter().position(|a| !a.starts_with('-')).map(|p| p + 1).unwrap_or(c.args.len());
    let mut head = c.args[1..split].to_vec();
    // `-n 1` and `-I {}` take values: move the value out of the command part.
    let mut command = c.args[split..].to_vec();
    if matches!(head.last().map(String::as_str), Some("-n" | "-I")) && !command.is_empty() {
        head.push(command.remove(0));
    }
    let Some(flags) = parse(c, &head, "nI").await else { return 1 };
    let command = if command.is_empty() { vec!["echo".to_string()] } else { command };
    let input = String::from_utf8_lossy(&c.stdin.read_all().await).into_owned();
    let streams = c.streams();
    let mut status = 0;
    let runs: Vec<Vec<String>> = match flags.values.get(&'I') {
        Some(marker) => input
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| command.iter().map(|a| a.replace(marker.as_str(), l)).collect())
            .collect(),
        None => {
            let words: Vec<String> = input.split_whitespace().map(String::from).collect();
            let per = flags
                .values
                .get(&'n')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(words.len().max(1));
            if words.is_empty() {
                vec![command.clone()]
            } else {
                words.chunks(per).map(|chunk| command.iter().cloned().chain(chunk.iter().cloned()).collect()).collect()
            }
        }
    };
    for argv in runs {
        if sh.exec_argv(argv, &streams).await != 0 {
            status = 123;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sed_substitutions_replace_first_or_all_with_ampersand() {
        let s = parse_substitute("s/o/0/g", false).unwrap();
        assert_eq!(s.apply("foo boo").0, "f00 b00");
        let s = parse_substitute("s|hello|<&>|", false).unwrap();
        assert_eq!(s.apply("hello hello").0, "<hello> hello");
        assert!(parse_substitute("y/a/b/", false).is_err());
        assert!(parse_substitute("s/a/b", false).is_err());
    }

    #[test]
    fn cut_lists_and_tr_sets_expand_ranges() {
        assert!(in_list("1,3-4", 3) && !in_list("1,3-4", 2) && in_list("2-", 9));
        assert_eq!(tr_set("a-e"), ['a', 'b', 'c', 'd', 'e']);
        assert_eq!(tr_set("[:upper:]").len(), 26);
    }
}

//! `cowsay`: a speech bubble wrapped at 40 columns and an animal (drawn for this project) with
//! the usual modes: -b borg, -d dead, -g greedy, -p paranoid, -s stoned, -t tired, -w wired,
//! -y youthful, -e eyes, -T tongue, -f cow (`whale` for docker/whalesay), -W width, -n.

use super::builtins::{Call, Flags};
use super::interp::Shell;

/// The animals, by `-f` name.
const COWS: &[(&str, &str)] = &[
    ("default", include_str!("data/cow.txt")),
    ("whale", include_str!("data/whale.txt")),
    ("docker", include_str!("data/whale.txt")),
];

/// Modes: flag letter → eyes and tongue.
const MODES: &[(char, &str, &str)] = &[
    ('b', "==", "  "),
    ('d', "xx", "U "),
    ('g', "$$", "  "),
    ('p', "@@", "  "),
    ('s', "**", "U "),
    ('t', "--", "  "),
    ('w', "OO", "  "),
    ('y', "..", "  "),
];

/// What the animal looks like and how the text is laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct Look {
    /// Two characters of eyes.
    pub eyes: String,
    /// Two characters of tongue.
    pub tongue: String,
    /// The cow's name.
    pub cow: String,
    /// Wrap width; `None` keeps the lines as given (`-n`).
    pub width: Option<usize>,
    /// `cowthink`: a thought bubble.
    pub think: bool,
    /// Art read from the image's own `default.cow` (whalesay ships a whale there).
    pub art: Option<String>,
}

impl Default for Look {
    fn default() -> Self {
        Self { eyes: "oo".into(), tongue: "  ".into(), cow: "default".into(), width: Some(40), think: false, art: None }
    }
}

fn two(s: &str) -> String {
    format!("{s:<2}").chars().take(2).collect()
}

/// Parses cowsay's options; the rest is the message.
pub fn parse(args: &[String]) -> Result<(Look, String), String> {
    let flags = Flags::parse(args, "efTW")?;
    let mut look = Look::default();
    for (letter, eyes, tongue) in MODES {
        if flags.has(*letter) {
            look.eyes = (*eyes).into();
            look.tongue = (*tongue).into();
        }
    }
    if let Some(eyes) = flags.values.get(&'e') {
        look.eyes = two(eyes);
    }
    if let Some(tongue) = flags.values.get(&'T') {
        look.tongue = two(tongue);
    }
    if let Some(cow) = flags.values.get(&'f') {
        let name = cow.rsplit('/').next().unwrap_or(cow).trim_end_matches(".cow");
        if !COWS.iter().any(|(n, _)| *n == name) {
            return Err(format!("Could not find {cow} cowfile!"));
        }
        look.cow = name.into();
    }
    if let Some(width) = flags.values.get(&'W') {
        look.width = Some(width.parse::<usize>().map_err(|_| format!("invalid width '{width}'"))?.max(2));
    }
    if flags.has('n') {
        look.width = None;
    }
    Ok((look, flags.operands.join(" ")))
}

/// Word-wraps like cowsay: lines shorter than `width` columns, long words cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let limit = width.saturating_sub(1).max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word: String = word.to_string();
            while word.chars().count() > limit {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let head: String = word.chars().take(limit).collect();
                word = word.chars().skip(limit).collect();
                lines.push(head);
            }
            let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
            if needed > limit && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
    }
    lines
}

fn bubble(lines: &[String], think: bool) -> String {
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!(" {}\n", "_".repeat(width + 2));
    for (i, line) in lines.iter().enumerate() {
        let (open, close) = match (think, lines.len(), i) {
            (true, _, _) => ('(', ')'),
            (false, 1, _) => ('<', '>'),
            (false, _, 0) => ('/', '\\'),
            (false, n, i) if i + 1 == n => ('\\', '/'),
            _ => ('|', '|'),
        };
        out.push_str(&format!("{open} {line:<width$} {close}\n"));
    }
    out.push_str(&format!(" {}\n", "-".repeat(width + 2)));
    out
}

/// The whole picture: the bubble and the animal.
pub fn render(look: &Look, message: &str) -> String {
    let message = message.replace('\t', "        ");
    let lines = match look.width {
        Some(width) => wrap(&message, width),
        None => message.split('\n').map(String::from).collect(),
    };
    let builtin = COWS.iter().find(|(n, _)| *n == look.cow).map_or(COWS[0].1, |(_, art)| art);
    let art = look.art.as_deref().unwrap_or(builtin);
    let thoughts = if look.think { "o" } else { "\\" };
    let animal = art.replace("{e}", &two(&look.eyes)).replace("{T}", &two(&look.tongue)).replace("{t}", thoughts);
    format!("{}{animal}", bubble(&lines, look.think))
}

/// The `cowsay` (and `cowthink`) command; with no message it reads stdin.
pub(crate) async fn cowsay(sh: &mut Shell, c: &mut Call) -> i32 {
    let (mut look, mut message) = match parse(&c.args[1..]) {
        Ok(parsed) => parsed,
        Err(problem) => return c.fail(problem).await,
    };
    // Without -f, cowsay draws `default.cow` from COWPATH: an image may ship its own default there.
    if !c.args[1..].iter().any(|a| a.starts_with("-f")) {
        let dir = sh.vars.get("COWPATH").cloned().unwrap_or_else(|| "/usr/share/cowsay/cows".into());
        if let Ok(bytes) = sh.ctx.fs.read(&format!("{dir}/default.cow")) {
            look.art = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    if c.args[1..].iter().any(|a| a == "-l") {
        let names: Vec<&str> = COWS.iter().map(|(n, _)| *n).collect();
        c.out(format!("Cow files in /usr/share/cowsay/cows:\n{}\n", names.join(" "))).await;
        return 0;
    }
    look.think = c.name() == "cowthink";
    if message.is_empty() {
        message = String::from_utf8_lossy(&c.stdin.read_all().await).trim_end().to_string();
    }
    c.out(render(&look, &message)).await;
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_short_message_sits_in_a_one_line_bubble_over_the_cow() {
        let (look, message) = parse(&strings(&["-b", "Hello", "Kubernetes"])).unwrap();
        let picture = render(&look, &message);
        let expected_bubble = " __________________\n< Hello Kubernetes >\n ------------------\n";
        assert!(picture.starts_with(expected_bubble), "{picture}");
        assert!(picture.contains("(==)"), "{picture}");
    }

    #[test]
    fn long_messages_wrap_before_forty_columns_with_slanted_corners() {
        let text = "the quick brown fox jumps over the lazy dog and keeps running far away";
        let picture = render(&Look::default(), text);
        let lines: Vec<&str> = picture.lines().collect();
        assert!(lines[1].starts_with("/ ") && lines[1].ends_with(" \\"), "{picture}");
        assert!(lines[2].starts_with("\\ ") && lines[2].ends_with(" /"), "{picture}");
        assert!(lines[1].len() <= 43, "{}", lines[1]);
    }

    #[test]
    fn modes_eyes_tongues_and_cows_come_from_flags() {
        let (look, _) = parse(&strings(&["-d", "x"])).unwrap();
        assert_eq!((look.eyes.as_str(), look.tongue.as_str()), ("xx", "U "));
        let (look, _) = parse(&strings(&["-e", "^^^", "-T", "V", "x"])).unwrap();
        assert_eq!((look.eyes.as_str(), look.tongue.as_str()), ("^^", "V "));
        let (look, _) = parse(&strings(&["-f", "whale", "hi"])).unwrap();
        assert!(render(&look, "hi").contains("\\__)"));
        assert_eq!(parse(&strings(&["-f", "dragon", "x"])).unwrap_err(), "Could not find dragon cowfile!");
    }
}

//! Shell builtins and small system commands: echo, printf, cd, export, sleep, date, sh, ….

use super::{Call, Flags};
use crate::interp::{Jump, Shell};
use crate::procs;

pub(crate) async fn truth(_: &mut Shell, _: &mut Call) -> i32 {
    0
}

pub(crate) async fn falsity(_: &mut Shell, _: &mut Call) -> i32 {
    1
}

/// `echo [-neE] words…`.
pub(crate) async fn echo(_: &mut Shell, c: &mut Call) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut words = &c.args[1..];
    while let Some(first) = words.first() {
        let letters = first.strip_prefix('-').filter(|l| !l.is_empty() && l.chars().all(|ch| "neE".contains(ch)));
        let Some(letters) = letters else { break };
        for ch in letters.chars() {
            match ch {
                'n' => newline = false,
                'e' => escapes = true,
                _ => escapes = false,
            }
        }
        words = &words[1..];
    }
    let mut text = words.join(" ");
    if escapes {
        let (unescaped, stop) = unescape(&text);
        text = unescaped;
        newline &= !stop;
    }
    if newline {
        text.push('\n');
    }
    c.out(text).await;
    0
}

/// Backslash escapes of `echo -e` and `printf`; true when `\c` asked to stop output there.
pub(crate) fn unescape(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('v') => out.push('\x0b'),
            Some('f') => out.push('\x0c'),
            Some('e') => out.push('\x1b'),
            Some('\\') => out.push('\\'),
            Some('c') => return (out, true),
            Some('0') => {
                let digits: String = std::iter::from_fn(|| chars.next_if(|d| d.is_digit(8))).take(3).collect();
                out.extend(u32::from_str_radix(&digits, 8).ok().and_then(char::from_u32).or(Some('\0')));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    (out, false)
}

/// `printf FORMAT args…`: `%s %d %i %c %x %o %%` with widths; the format repeats for extra args.
pub(crate) async fn printf(_: &mut Shell, c: &mut Call) -> i32 {
    let Some(format) = c.args.get(1).cloned() else { return c.fail("usage: printf FORMAT [ARG]...").await };
    let (format, _) = unescape(&format);
    let args = &c.args[2..];
    let mut used = 0;
    let mut out = String::new();
    let mut status = 0;
    loop {
        let before = used;
        let chars: Vec<char> = format.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] != '%' {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let spec_start = i + 1;
            let mut j = spec_start;
            while j < chars.len() && "-0123456789.".contains(chars[j]) {
                j += 1;
            }
            let Some(&conv) = chars.get(j) else { break };
            let spec: String = chars[spec_start..j].iter().collect();
            i = j + 1;
            if conv == '%' {
                out.push('%');
                continue;
            }
            let arg = args.get(used).cloned().unwrap_or_default();
            used += 1;
            match render(conv, &spec, &arg) {
                Ok(text) => out.push_str(&text),
                Err(message) => {
                    c.err(format!("printf: {message}\n")).await;
                    status = 1;
                }
            }
        }
        if used >= args.len() || used == before {
            break;
        }
    }
    c.out(out).await;
    status
}

fn render(conv: char, spec: &str, arg: &str) -> Result<String, String> {
    let left = spec.starts_with('-');
    let zero = spec.trim_start_matches('-').starts_with('0');
    let width: usize = spec.trim_start_matches(['-', '0']).split('.').next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let number = || -> Result<i64, String> {
        if arg.is_empty() { Ok(0) } else { arg.trim().parse().map_err(|_| format!("invalid number '{arg}'")) }
    };
    let body = match conv {
        's' => arg.to_string(),
        'b' => unescape(arg).0,
        'c' => arg.chars().next().map(String::from).unwrap_or_default(),
        'd' | 'i' | 'u' => number()?.to_string(),
        'x' => format!("{:x}", number()?),
        'X' => format!("{:X}", number()?),
        'o' => format!("{:o}", number()?),
        other => return Err(format!("%{other}: invalid format")),
    };
    let pad = width.saturating_sub(body.chars().count());
    Ok(match (left, zero) {
        (true, _) => format!("{body}{}", " ".repeat(pad)),
        (false, true) if conv != 's' => format!("{}{body}", "0".repeat(pad)),
        _ => format!("{}{body}", " ".repeat(pad)),
    })
}

fn number_arg(sh: &Shell, c: &Call) -> Result<i32, String> {
    match c.args.get(1) {
        None => Ok(sh.status),
        Some(n) => n.parse().map_err(|_| format!("sh: {}: Illegal number: {n}\n", c.name())),
    }
}

pub(crate) async fn exit(sh: &mut Shell, c: &mut Call) -> i32 {
    match number_arg(sh, c) {
        Ok(code) => {
            let code = code & 0xff;
            sh.exiting = Some(code);
            code
        }
        Err(message) => {
            c.err(message).await;
            sh.exiting = Some(2);
            2
        }
    }
}

async fn jump(sh: &mut Shell, c: &mut Call, make: fn(u32) -> Jump) -> i32 {
    let levels = c.args.get(1).and_then(|n| n.parse().ok()).filter(|&n: &u32| n > 0).unwrap_or(1);
    sh.jump = Some(make(levels));
    0
}

pub(crate) async fn break_loop(sh: &mut Shell, c: &mut Call) -> i32 {
    jump(sh, c, Jump::Break).await
}

pub(crate) async fn continue_loop(sh: &mut Shell, c: &mut Call) -> i32 {
    jump(sh, c, Jump::Continue).await
}

pub(crate) async fn cd(sh: &mut Shell, c: &mut Call) -> i32 {
    let target = match c.args.get(1).map(String::as_str) {
        None => sh.vars.get("HOME").cloned().unwrap_or_else(|| "/".into()),
        Some("-") => sh.vars.get("OLDPWD").cloned().unwrap_or_else(|| sh.cwd.clone()),
        Some(dir) => dir.to_string(),
    };
    let path = sh.abs(&target);
    match sh.ctx.fs.is_dir(&path) {
        Some(true) => {
            let old = std::mem::replace(&mut sh.cwd, path.clone());
            sh.set_var("OLDPWD", old);
            sh.set_var("PWD", path);
            0
        }
        found => {
            let why = if found.is_some() { "Not a directory" } else { "No such file or directory" };
            c.err(format!("sh: cd: can't cd to {target}: {why}\n")).await;
            1
        }
    }
}

pub(crate) async fn pwd(sh: &mut Shell, c: &mut Call) -> i32 {
    c.out(format!("{}\n", sh.cwd)).await;
    0
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

pub(crate) async fn export(sh: &mut Shell, c: &mut Call) -> i32 {
    let names: Vec<&String> = c.args[1..].iter().filter(|a| *a != "-p").collect();
    if names.is_empty() {
        let listing: String = sh.environment().iter().map(|(k, v)| format!("export {k}={}\n", quote(v))).collect();
        c.out(listing).await;
        return 0;
    }
    for arg in names {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if let Some(value) = value {
            sh.set_var(&name, value);
        }
        sh.exported.insert(name);
    }
    0
}

pub(crate) async fn unset(sh: &mut Shell, c: &mut Call) -> i32 {
    for name in c.args[1..].iter().filter(|a| !a.starts_with('-')) {
        sh.vars.remove(name);
        sh.exported.remove(name);
    }
    0
}

/// `env` lists the environment; `env A=1 cmd …` runs a command with more variables.
pub(crate) async fn env(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut child = sh.subshell();
    let mut argv: Vec<String> = Vec::new();
    for arg in c.args[1..].iter().filter(|a| *a != "-" && *a != "-i").cloned().collect::<Vec<_>>() {
        match arg.split_once('=') {
            Some((name, value)) if argv.is_empty() => {
                child.set_var(name, value.to_string());
                child.exported.insert(name.to_string());
            }
            _ => argv.push(arg),
        }
    }
    if argv.is_empty() {
        let listing: String = child.environment().iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        c.out(listing).await;
        return 0;
    }
    child.exec_argv(argv, &c.streams()).await
}

/// `set -e`, `set +e`, `set -- args`; other options are accepted and ignored.
pub(crate) async fn set(sh: &mut Shell, c: &mut Call) -> i32 {
    if c.args.len() == 1 {
        let listing: String = sh.vars.iter().map(|(k, v)| format!("{k}={}\n", quote(v))).collect();
        c.out(listing).await;
        return 0;
    }
    let mut args = c.args[1..].iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--" => {
                let rest: Vec<String> = args.by_ref().cloned().collect();
                sh.args.truncate(1);
                sh.args.extend(rest);
            }
            "-o" | "+o" => {
                args.next();
            }
            a if a.starts_with('-') && a.contains('e') => sh.errexit = true,
            a if a.starts_with('+') && a.contains('e') => sh.errexit = false,
            _ => {}
        }
    }
    0
}

/// `read [-r] [-p prompt] names…`: one line, split at blanks; the last name takes the rest.
pub(crate) async fn read(sh: &mut Shell, c: &mut Call) -> i32 {
    let flags = match Flags::parse(&c.args[1..], "p") {
        Ok(f) => f,
        Err(e) => return c.fail(e).await,
    };
    if let Some(prompt) = flags.values.get(&'p') {
        c.err(prompt).await;
    }
    sh.pauses += 1;
    let Some(line) = c.stdin.read_line().await else { return 1 };
    let line = String::from_utf8_lossy(&line).trim_end_matches('\n').to_string();
    let names = if flags.operands.is_empty() { vec!["REPLY".to_string()] } else { flags.operands.clone() };
    let mut rest = line.trim_start();
    for (i, name) in names.iter().enumerate() {
        let value = if i + 1 == names.len() {
            std::mem::take(&mut rest).trim_end().to_string()
        } else {
            let (word, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            rest = tail.trim_start();
            word.to_string()
        };
        sh.set_var(name, value);
    }
    0
}

/// Seconds in `5`, `0.5`, `2m`, `1h`, `infinity`.
fn duration(arg: &str) -> Option<std::time::Duration> {
    if arg == "infinity" {
        return Some(std::time::Duration::from_secs(u64::MAX / 4));
    }
    let (number, scale) = match arg.char_indices().last()? {
        (i, 's') => (&arg[..i], 1.0),
        (i, 'm') => (&arg[..i], 60.0),
        (i, 'h') => (&arg[..i], 3600.0),
        (i, 'd') => (&arg[..i], 86400.0),
        _ => (arg, 1.0),
    };
    let seconds: f64 = number.parse().ok().filter(|s: &f64| s.is_finite() && *s >= 0.0)?;
    Some(std::time::Duration::from_secs_f64((seconds * scale).min(1e12)))
}

/// `sleep N`: waits without blocking; ends early when its own process is killed.
pub(crate) async fn sleep(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(arg) = c.args.get(1) else { return c.fail("missing operand").await };
    let Some(total) = duration(arg) else { return c.fail(format!("invalid number '{arg}'")).await };
    sh.pauses += 1;
    let guard = sh.ctx.processes.start(sh.pid, &c.args.join(" "));
    let mut signals = sh.ctx.processes.watch(guard.pid);
    tokio::select! {
        _ = tokio::time::sleep(total) => 0,
        sig = procs::signalled(&mut signals) => 128 + sig,
    }
}

pub(crate) async fn hostname(sh: &mut Shell, c: &mut Call) -> i32 {
    c.out(format!("{}\n", sh.ctx.hostname)).await;
    0
}

/// `date [+FORMAT]`, always in UTC (containers default to it).
pub(crate) async fn date(_: &mut Shell, c: &mut Call) -> i32 {
    let format = c.args[1..].iter().find_map(|a| a.strip_prefix('+')).unwrap_or("%a %b %e %H:%M:%S %Z %Y").to_string();
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    match jiff::fmt::strtime::format(format.as_str(), &now) {
        Ok(text) => {
            c.out(format!("{text}\n")).await;
            0
        }
        Err(_) => c.fail(format!("invalid format '{format}'")).await,
    }
}

pub(crate) async fn whoami(_: &mut Shell, c: &mut Call) -> i32 {
    c.out("root\n").await;
    0
}

pub(crate) async fn id(_: &mut Shell, c: &mut Call) -> i32 {
    let text = match c.args.get(1).map(String::as_str) {
        Some("-u" | "-g") => "0",
        Some("-un" | "-nu" | "-gn" | "-ng") => "root",
        _ => "uid=0(root) gid=0(root) groups=0(root)",
    };
    c.out(format!("{text}\n")).await;
    0
}

pub(crate) async fn uname(sh: &mut Shell, c: &mut Call) -> i32 {
    let flags = Flags::parse(&c.args[1..], "").unwrap_or_default();
    let fields = [
        ('s', "Linux"),
        ('n', sh.ctx.hostname.as_str()),
        ('r', "6.1.0-sandbox"),
        ('v', "#1 SMP"),
        ('m', "x86_64"),
        ('o', "GNU/Linux"),
    ];
    let all = flags.has('a');
    let chosen: Vec<&str> = fields.iter().filter(|(k, _)| all || flags.has(*k)).map(|(_, v)| *v).collect();
    let line = if chosen.is_empty() { "Linux".to_string() } else { chosen.join(" ") };
    c.out(format!("{line}\n")).await;
    0
}

pub(crate) async fn which(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut status = 0;
    for name in c.args[1..].iter() {
        if super::lookup(name, sh).is_some() && name.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            let dir = if matches!(name.as_str(), "git" | "kubectl" | "cowsay") { "/usr/bin" } else { "/bin" };
            c.out(format!("{dir}/{name}\n")).await;
        } else {
            status = 1;
        }
    }
    status
}

/// `sh -c SCRIPT [NAME ARGS…]`, `sh FILE ARGS…`, or `sh` reading commands from stdin.
pub(crate) async fn sh(shell: &mut Shell, c: &mut Call) -> i32 {
    let mut command = false;
    let mut errexit = false;
    let mut i = 1;
    while let Some(arg) = c.args.get(i).filter(|a| a.starts_with('-') && a.len() > 1) {
        i += 1;
        if arg == "--" {
            break;
        }
        command |= arg.contains('c');
        errexit |= arg.contains('e');
    }
    let mut child = shell.child(&c.args.join(" "));
    child.errexit = errexit;
    let name = c.name().to_string();
    let streams = c.streams();
    if command {
        let Some(script) = c.args.get(i).cloned() else {
            c.err(format!("{name}: -c requires an argument\n")).await;
            return 2;
        };
        child.args =
            c.args.get(i + 1..).map(<[String]>::to_vec).filter(|a| !a.is_empty()).unwrap_or_else(|| vec![name]);
        return child.run_source(&script, &streams).await;
    }
    if let Some(file) = c.args.get(i).cloned() {
        let Ok(bytes) = shell.ctx.fs.read(&shell.abs(&file)) else {
            c.err(format!("{name}: can't open '{file}': No such file or directory\n")).await;
            return 2;
        };
        child.args = c.args[i..].to_vec();
        return child.run_source(&String::from_utf8_lossy(&bytes), &streams).await;
    }
    super::super::interactive::repl(&mut child, &streams).await
}

/// `exec CMD…`: runs the command, then the shell ends with its status.
pub(crate) async fn exec(sh: &mut Shell, c: &mut Call) -> i32 {
    if c.args.len() < 2 {
        return 0;
    }
    let status = sh.exec_argv(c.args[1..].to_vec(), &c.streams()).await;
    sh.exiting = Some(status);
    status
}

/// `. FILE`: runs a file in the current shell.
pub(crate) async fn source(sh: &mut Shell, c: &mut Call) -> i32 {
    let Some(file) = c.args.get(1).cloned() else { return c.fail("filename argument required").await };
    match sh.ctx.fs.read(&sh.abs(&file)) {
        Ok(bytes) => sh.run_source(&String::from_utf8_lossy(&bytes), &c.streams()).await,
        Err(e) => {
            c.err(format!("sh: .: {file}: {}\n", crate::redirect::reason(&e))).await;
            2
        }
    }
}

/// `wait`: waits for the background jobs.
pub(crate) async fn wait(sh: &mut Shell, _: &mut Call) -> i32 {
    let mut status = 0;
    for job in std::mem::take(&mut sh.jobs) {
        status = job.await.unwrap_or(1);
    }
    sh.pauses += 1;
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_printf_conversions_render_like_coreutils() {
        assert_eq!(unescape(r"a\tb\nc\\"), ("a\tb\nc\\".to_string(), false));
        assert_eq!(unescape(r"stop\chere"), ("stop".to_string(), true));
        assert_eq!(render('d', "05", "42").unwrap(), "00042");
        assert_eq!(render('s', "-4", "ab").unwrap(), "ab  ");
        assert!(render('d', "", "x").is_err());
    }

    #[test]
    fn durations_accept_fractions_and_units() {
        assert_eq!(duration("0.5"), Some(std::time::Duration::from_millis(500)));
        assert_eq!(duration("2m"), Some(std::time::Duration::from_secs(120)));
        assert_eq!(duration("x"), None);
        assert_eq!(duration("-1"), None);
    }
}

//! The commands the simulated shell knows, as one table of name → function, and what they share.

pub mod arith;
mod core;
mod files;
mod find;
mod kubectl;
mod net;
mod procs;
mod regex;
mod test;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use futures::future::BoxFuture;

use super::interp::Shell;
use super::io::{Input, Sink};

/// A command's arguments and streams.
pub(crate) struct Call {
    /// `argv`, with the command name first.
    pub args: Vec<String>,
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Sink,
    /// Standard error.
    pub stderr: Sink,
}

impl Call {
    /// The command's name, as invoked.
    pub fn name(&self) -> &str {
        self.args.first().map(String::as_str).unwrap_or("sh")
    }

    /// Writes to stdout.
    pub async fn out(&self, bytes: impl AsRef<[u8]>) {
        self.stdout.write(bytes.as_ref()).await;
    }

    /// Writes to stderr.
    pub async fn err(&self, bytes: impl AsRef<[u8]>) {
        self.stderr.write(bytes.as_ref()).await;
    }

    /// Prints `name: message` on stderr and returns 1.
    pub async fn fail(&self, message: impl std::fmt::Display) -> i32 {
        self.err(format!("{}: {message}\n", self.name())).await;
        1
    }

    /// The streams, for running another command with this one's input and output.
    pub fn streams(&self) -> super::io::Streams {
        super::io::Streams { stdin: self.stdin.clone(), stdout: self.stdout.clone(), stderr: self.stderr.clone() }
    }

    /// The contents of the named files in order, or stdin when none (or `-`) is named; a missing
    /// file is reported and skipped. Returns the bytes and whether every file could be read.
    pub async fn inputs(&self, sh: &Shell, files: &[String]) -> (Vec<(String, Vec<u8>)>, bool) {
        if files.is_empty() {
            return (vec![("-".into(), self.stdin.read_all().await)], true);
        }
        let mut out = Vec::new();
        let mut ok = true;
        for file in files {
            if file == "-" {
                out.push((file.clone(), self.stdin.read_all().await));
                continue;
            }
            match sh.ctx.fs.read(&sh.abs(file)) {
                Ok(bytes) => out.push((file.clone(), bytes)),
                Err(e) => {
                    self.err(format!("{}: {file}: {}\n", self.name(), super::redirect::reason(&e))).await;
                    ok = false;
                }
            }
        }
        (out, ok)
    }
}

/// Options in the short form: `-la`, `-n 5`, `-n5`; `--` ends them.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    /// The letters given.
    pub set: BTreeSet<char>,
    /// Values of options that take one.
    pub values: BTreeMap<char, String>,
    /// The other arguments.
    pub operands: Vec<String>,
}

impl Flags {
    /// Parses `args` (without the command name); letters in `valued` take a value.
    pub fn parse(args: &[String], valued: &str) -> Result<Flags, String> {
        let mut flags = Flags::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if arg == "--" {
                flags.operands.extend(iter.by_ref().cloned());
                break;
            }
            if !arg.starts_with('-') || arg == "-" || arg.starts_with("--") {
                flags.operands.push(arg.clone());
                continue;
            }
            let letters: Vec<char> = arg.chars().skip(1).collect();
            for (i, &c) in letters.iter().enumerate() {
                if valued.contains(c) {
                    let rest: String = letters[i + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        iter.next().cloned().ok_or_else(|| format!("option requires an argument -- '{c}'"))?
                    } else {
                        rest
                    };
                    flags.values.insert(c, value);
                    break;
                }
                flags.set.insert(c);
            }
        }
        Ok(flags)
    }

    /// Whether the letter was given.
    pub fn has(&self, c: char) -> bool {
        self.set.contains(&c)
    }
}

/// A builtin: runs with the shell and the call, returns the exit status.
pub(crate) type Builtin = for<'a> fn(&'a mut Shell, &'a mut Call) -> BoxFuture<'a, i32>;

macro_rules! table {
    ($($name:literal => $f:path),* $(,)?) => {
        &[$(($name, {
            fn run<'a>(sh: &'a mut Shell, call: &'a mut Call) -> BoxFuture<'a, i32> {
                Box::pin($f(sh, call))
            }
            run as Builtin
        })),*]
    };
}

/// Every command, by name.
static TABLE: &[(&str, Builtin)] = table! {
    ":" => core::truth, "true" => core::truth, "false" => core::falsity, "echo" => core::echo,
    "printf" => core::printf, "exit" => core::exit, "cd" => core::cd, "pwd" => core::pwd,
    "export" => core::export, "unset" => core::unset, "env" => core::env, "set" => core::set,
    "read" => core::read, "sleep" => core::sleep, "hostname" => core::hostname, "date" => core::date,
    "whoami" => core::whoami, "id" => core::id, "uname" => core::uname, "which" => core::which,
    "sh" => core::sh, "bash" => core::sh, "ash" => core::sh, "exec" => core::exec, "." => core::source,
    "source" => core::source, "wait" => core::wait, "break" => core::break_loop,
    "continue" => core::continue_loop, "test" => test::test, "[" => test::test,
    "cat" => files::cat, "ls" => files::ls, "mkdir" => files::mkdir, "rm" => files::rm,
    "rmdir" => files::rmdir, "cp" => files::cp, "mv" => files::mv, "touch" => files::touch,
    "df" => files::df, "find" => find::find, "head" => text::head, "tail" => text::tail,
    "wc" => text::wc, "grep" => text::grep, "sed" => text::sed, "tr" => text::tr, "sort" => text::sort,
    "uniq" => text::uniq, "cut" => text::cut, "base64" => text::base64, "tee" => text::tee,
    "xargs" => text::xargs, "ps" => procs::ps, "kill" => procs::kill, "cowsay" => super::cowsay::cowsay,
    "cowthink" => super::cowsay::cowsay, "git" => super::git::git, "kubectl" => kubectl::kubectl,
    "wget" => net::wget, "nslookup" => net::nslookup, "curl" => net::curl,
};

fn available(name: &str, sh: &Shell) -> bool {
    match name {
        "git" => sh.ctx.git,
        "kubectl" => sh.ctx.cluster.is_some(),
        "wget" | "curl" | "nslookup" => sh.ctx.net_tools.iter().any(|t| t == name),
        _ => true,
    }
}

/// The builtin called `name`, if this container has it.
pub(crate) fn lookup(name: &str, sh: &Shell) -> Option<Builtin> {
    TABLE.iter().find(|(n, _)| *n == name && available(n, sh)).map(|(_, f)| *f)
}

/// The names of the commands this container has, sorted, without the punctuation ones.
pub(crate) fn names(sh: &Shell) -> Vec<&'static str> {
    let mut names: Vec<&str> = TABLE
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric()) && available(n, sh))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_combine_letters_and_take_values_glued_or_apart() {
        let flags = Flags::parse(&strings(&["-la", "-n5", "x", "-d", ":", "--", "-y"]), "nd").unwrap();
        assert!(flags.has('l') && flags.has('a'));
        assert_eq!(flags.values[&'n'], "5");
        assert_eq!(flags.values[&'d'], ":");
        assert_eq!(flags.operands, ["x", "-y"]);
        assert!(Flags::parse(&strings(&["-n"]), "n").is_err());
    }
}

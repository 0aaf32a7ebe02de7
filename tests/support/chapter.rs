//! Helpers for the chapter 2 kubectl suites: fixture copies, whitespace-blind output checks, scripts with
//! kubectl on PATH, and a `--watch` child read line by line against a deadline.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::{Sandbox, kubectl_path, text};

/// The folder with the chapter 2 manifests and scripts.
pub fn fixtures_dir() -> PathBuf {
    crate::tests_dir().join("fixtures").join("chapter02")
}

/// A scratch folder holding copies of some fixtures, so a test may edit them; removed when dropped.
pub struct Workdir {
    temp: tempfile::TempDir,
}

impl Workdir {
    /// Copies the named fixtures (file names under `fixtures/chapter02`) into a new scratch folder.
    pub fn with_fixtures(names: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("a scratch directory");
        for name in names {
            let from = fixtures_dir().join(name);
            std::fs::copy(&from, temp.path().join(name)).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
        Self { temp }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// The path of a file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.temp.path().join(name)
    }

    /// Replaces `from` by `to` in a copied file; the text must be there exactly once, so a stale fixture
    /// fails loudly instead of silently testing nothing.
    pub fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.file(name);
        let body = std::fs::read_to_string(&path).expect("the copied fixture is readable");
        assert_eq!(body.matches(from).count(), 1, "{name} should contain {from:?} exactly once:\n{body}");
        std::fs::write(&path, body.replacen(from, to, 1)).expect("the copied fixture is writable");
    }

    /// Runs a POSIX shell script from this folder with the sandbox's kubeconfig and kubectl first on PATH.
    pub fn run_script(&self, sandbox: &Sandbox, script: &str) -> Output {
        let bin = self.path().join("bin");
        if !bin.join("kubectl").exists() {
            std::fs::create_dir_all(&bin).expect("a bin folder");
            std::os::unix::fs::symlink(kubectl_path(), bin.join("kubectl")).expect("a kubectl link");
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin];
        dirs.extend(std::env::split_paths(&path));
        Command::new("sh")
            .arg(script)
            .current_dir(self.path())
            .env("PATH", std::env::join_paths(dirs).expect("a joinable PATH"))
            .env("KUBECONFIG", &sandbox.kubeconfig)
            .env("HOME", sandbox.data_dir.join("home"))
            .output()
            .expect("sh runs")
    }
}

/// Collapses every run of whitespace to one space and trims the ends (kubectl pads its columns).
pub fn squash(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The non-empty lines of `output`, each squashed.
pub fn squashed_lines(output: &str) -> Vec<String> {
    output.lines().map(squash).filter(|line| !line.is_empty()).collect()
}

/// Asserts that some line of `output` equals `expected` once whitespace runs are collapsed.
pub fn assert_has_line(output: &str, expected: &str) {
    let want = squash(expected);
    assert!(squashed_lines(output).contains(&want), "expected a line {want:?} in:\n{output}");
}

/// Whether `cell` looks like the server's AGE column (`0s`, `5m2s`, `3h`, `2d`, `4y12d`).
pub fn is_age(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit())
        && cell.chars().all(|c| c.is_ascii_digit() || "smhdy".contains(c))
        && !cell.ends_with(|c: char| c.is_ascii_digit())
}

/// Whether a squashed output line matches an expected row cell by cell. In the expected row, `<age>` matches any
/// age, `<any>` any one cell, and `<n>` inside a cell any unsigned number (so `<n>/3` matches `0/3` and `3/3`):
/// states that controllers move on their own are matched by shape, everything else exactly.
pub fn row_matches(got: &str, want: &str) -> bool {
    let got_cells: Vec<&str> = got.split_whitespace().collect();
    let want_cells: Vec<&str> = want.split_whitespace().collect();
    got_cells.len() == want_cells.len() && got_cells.iter().zip(&want_cells).all(|(g, w)| cell_matches(g, w))
}

fn cell_matches(got: &str, want: &str) -> bool {
    match want {
        "<age>" => is_age(got),
        "<any>" => true,
        _ if want.contains("<n>") => {
            let mut rest = got;
            for (i, literal) in want.split("<n>").enumerate() {
                if i > 0 {
                    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                    if digits == 0 {
                        return false;
                    }
                    rest = &rest[digits..];
                }
                match rest.strip_prefix(literal) {
                    Some(after) => rest = after,
                    None => return false,
                }
            }
            rest.is_empty()
        }
        _ => got == want,
    }
}

/// Asserts that an output is a table with exactly this header and these rows (see [`row_matches`]).
pub fn assert_table(output: &str, header: &str, rows: &[&str]) {
    let lines = squashed_lines(output);
    assert_eq!(lines.first().map(String::as_str), Some(squash(header).as_str()), "table header in:\n{output}");
    assert_eq!(lines.len() - 1, rows.len(), "row count in:\n{output}");
    for (got, want) in lines[1..].iter().zip(rows) {
        assert!(row_matches(got, want), "row {got:?} does not match {want:?} in:\n{output}");
    }
}

/// Asserts that some line of `output` matches `row` (see [`row_matches`]), for tables with other rows too.
pub fn assert_has_row(output: &str, row: &str) {
    assert!(output.lines().any(|line| row_matches(line, row)), "expected a row {row:?} in:\n{output}");
}

/// Runs kubectl with `-o json` appended and parses what it prints.
pub fn get_json(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = sandbox.kubectl_ok(&all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON ({e}):\n{out}"))
}

/// A long-running kubectl (for `--watch`) whose stdout lines arrive on a channel; killed and reaped on drop.
pub struct Watcher {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far, in order.
    pub seen: Vec<String>,
}

impl Watcher {
    /// Spawns `sandbox`'s kubectl with `args`, stdout piped and read on a thread.
    pub fn spawn(sandbox: &Sandbox, args: &[&str]) -> Self {
        let mut command = sandbox.kubectl_command();
        command.args(args);
        Self::start(command)
    }

    /// Spawns `command` (a kubectl made elsewhere: another kubeconfig, other environment), stdout
    /// piped and read on a thread.
    pub fn start(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("kubectl starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Reads lines until one satisfies `wanted` (returned) or `timeout` passes (panics with what was seen).
    pub fn wait_for(&mut self, what: &str, timeout: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {timeout:?}; saw:\n{}", self.seen.join("\n"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let stderr = self.stop();
                    panic!("kubectl ended before {what}; saw:\n{}\nstderr: {stderr}", self.seen.join("\n"))
                }
            }
        }
    }

    /// Kills and reaps the child and returns its stderr.
    pub fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        stderr
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stderr of `out`, as text, after asserting that the command failed with exit code `code`.
pub fn failed_with(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_collapses_column_padding() {
        assert_eq!(squash("  NAME    READY   STATUS \t"), "NAME READY STATUS");
    }

    #[test]
    fn ages_in_the_servers_format_are_recognised() {
        for age in ["0s", "59s", "5m2s", "3h", "2d", "4y12d"] {
            assert!(is_age(age), "{age}");
        }
        for other in ["", "s", "5", "Pending", "5m2", "<none>"] {
            assert!(!is_age(other), "{other}");
        }
    }

    #[test]
    fn tables_match_rows_with_age_placeholders() {
        let out = "NAME    READY   STATUS    RESTARTS   AGE\nnginx   0/1     Pending   0          3s\n";
        assert_table(out, "NAME READY STATUS RESTARTS AGE", &["nginx 0/1 Pending 0 <age>"]);
    }

    #[test]
    fn number_and_any_placeholders_match_by_shape() {
        assert!(row_matches("web 3/3 3 3 5s", "web <n>/3 <n> <n> <age>"));
        assert!(row_matches("web 0/3 0 0 5s", "web <n>/3 <any> <n> <age>"));
        assert!(!row_matches("web 3/4 3 3 5s", "web <n>/3 <n> <n> <age>"));
        assert!(!row_matches("web x/3 3 3 5s", "web <n>/3 <n> <n> <age>"));
        assert!(!row_matches("web 3/3 3 5s", "web <n>/3 <n> <n> <age>"));
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn tables_reject_a_wrong_cell() {
        let out = "NAME    READY   STATUS    RESTARTS   AGE\nnginx   0/1     Running   0          3s\n";
        assert_table(out, "NAME READY STATUS RESTARTS AGE", &["nginx 0/1 Pending 0 <age>"]);
    }
}

//! Shared support for the end-to-end suites: start a real `gitops-lab sandbox serve` process on a
//! free loopback port with its own data directory, and run the real `/usr/bin/kubectl` against it.

pub mod chapter;
pub mod raw_https;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `gitops-lab` binary under test: `$GITOPS_LAB_BIN`, else the one beside the test's target dir.
pub fn gitops_lab_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("GITOPS_LAB_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps/; the binary in target/<profile>/.
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps layout");
    let bin = profile_dir.join("gitops-lab");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p gitops-lab` (scripts/test does), or set GITOPS_LAB_BIN",
        bin.display()
    );
    bin
}

/// The `tests/` folder of the checkout being tested. Read when the test runs (cargo sets
/// `CARGO_MANIFEST_DIR` for it), not when it was compiled: a shared target directory reuses test
/// binaries built in another checkout, whose compile-time path may be gone or hold other files.
pub fn tests_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Every line a started `gitops-lab` prints on its piped standard output up to and including the
/// first line starting with `last` (its ready line). Fails if that line does not come within 30 s.
/// The output keeps being drained afterwards, so the child never blocks on a full pipe.
pub fn printed_until(child: &mut Child, last: &str) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let last_prefix = last.to_string();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let ready = line.starts_with(&last_prefix);
            lines.push(line);
            if ready {
                let _ = tx.send(std::mem::take(&mut lines));
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("gitops-lab prints {last}within 30 s"))
}

/// What a started `gitops-lab` announces once it is ready: the value of the line starting with
/// `first` and of the later line starting with `last` (the ready line), as `printed_until` reads them.
pub fn announced(child: &mut Child, first: &str, last: &str) -> (String, String) {
    let printed = printed_until(child, last);
    let value = |prefix: &str| printed.iter().rev().find_map(|l| l.strip_prefix(prefix)).map(str::to_string);
    (value(first).unwrap_or_default(), value(last).unwrap_or_default())
}

/// Polls `check` every 100 ms until it gives a value, failing with `what` after 60 s.
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    eventually_within(what, Duration::from_secs(60), check)
}

/// Polls `check` every 100 ms until it gives a value, failing with `what` once `timeout` has passed.
pub fn eventually_within<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The kubectl the suites drive: `$KUBECTL`, else `/usr/bin/kubectl`.
pub fn kubectl_path() -> PathBuf {
    std::env::var_os("KUBECTL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/kubectl"))
}

/// Whether kubectl can run here; suites that need it skip loudly when it cannot.
pub fn kubectl_available() -> bool {
    let ok = Command::new(kubectl_path()).args(["version", "--client"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "\n*** SKIPPED: {} is not available; install kubectl to run this suite ***\n",
            kubectl_path().display()
        );
    }
    ok
}

/// A running sandbox process, stopped (SIGTERM, then waited for) when dropped.
pub struct Sandbox {
    child: Child,
    /// The server URL it printed.
    pub server: String,
    /// The kubeconfig it wrote.
    pub kubeconfig: PathBuf,
    /// Its data directory (kept while the value lives).
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Sandbox {
    /// Starts a sandbox with a fresh data directory.
    pub fn start() -> Self {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().join("data");
        let mut sandbox = Self::start_in(&dir);
        sandbox._temp = Some(temp);
        sandbox
    }

    /// Starts a sandbox with a fresh data directory and extra environment variables for its
    /// process (never `set_var` in the test: the harness runs tests on several threads).
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let temp = tempfile::tempdir().expect("a temporary directory");
        let dir = temp.path().join("data");
        let mut sandbox = Self::spawn(&dir, env);
        sandbox._temp = Some(temp);
        sandbox
    }

    /// Starts a sandbox on an existing (or new) data directory; the caller owns the directory.
    pub fn start_in(data_dir: &Path) -> Self {
        Self::spawn(data_dir, &[])
    }

    /// [`Sandbox::start_in`] with extra environment variables for its process.
    pub fn start_in_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, env)
    }

    fn spawn(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(gitops_lab_bin())
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("GITOPS_LAB_LANG", "en")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gitops-lab starts");
        let (server, kubeconfig) = announced(&mut child, "server: ", "kubeconfig: ");
        Self { child, server, kubeconfig: PathBuf::from(kubeconfig), data_dir: data_dir.to_path_buf(), _temp: None }
    }

    /// The process id (for signals in crash tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the sandbox with SIGTERM and returns its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("the killed sandbox is reaped");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the sandbox with SIGKILL and reaps it (for durability tests).
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A kubectl command with this sandbox's kubeconfig and a clean environment.
    pub fn kubectl_command(&self) -> Command {
        let mut command = Command::new(kubectl_path());
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.data_dir.join("home"))
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        command
    }

    /// Runs kubectl with `args` (in `dir` if given) and returns its output.
    pub fn kubectl_in(&self, dir: Option<&Path>, args: &[&str]) -> Output {
        let mut command = self.kubectl_command();
        command.args(args);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command.output().expect("kubectl runs")
    }

    /// Runs kubectl and returns its output.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_in(None, args)
    }

    /// Runs kubectl, requires success, and returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        succeeded(args, &self.kubectl(args))
    }

    /// Runs kubectl with `input` on its stdin (`apply -f -`), requires success, and returns stdout.
    pub fn kubectl_stdin_ok(&self, args: &[&str], input: &str) -> String {
        let mut command = self.kubectl_command();
        command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("kubectl starts");
        child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("kubectl reads stdin");
        succeeded(args, &child.wait_with_output().expect("kubectl ends"))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// The stdout of a kubectl run that must have succeeded (else a panic with both streams).
fn succeeded(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Bytes as text, lossily.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

//! minikube, driven with duct: find the program, read `minikube status -o json`, and run `start`
//! (streamed line by line, cancellable), `stop`, `delete`, `ip`, `image build` and `image load`.
//!
//! The engine never blocks its async runtime on minikube: every child's output is read on a
//! blocking thread ([`run`]). Once a profile runs, the lab reaches it like any cluster, through the
//! kubeconfig context minikube writes (named after the profile, [`Minikube::context`]).

mod run;

pub use run::Ended;

use crate::error::{Error, Result};
use gitops_lab_protocol::{MinikubeOptions, Text};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The profile minikube uses when none is named.
pub const DEFAULT_PROFILE: &str = "minikube";
/// `minikube status` exit code for a profile that does not exist (minikube's `ExGuestNotFound`).
const EXIT_PROFILE_NOT_FOUND: i32 = 85;

/// A minikube program found on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minikube {
    binary: PathBuf,
}

/// One profile's state, as `minikube status -o json` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinikubeStatus {
    /// The profile.
    pub profile: String,
    /// The machine: `Running`, `Stopped`, `Nonexistent`, … (minikube's words).
    pub host: String,
    /// The kubelet.
    pub kubelet: String,
    /// The API server.
    pub api_server: String,
    /// Whether kubectl's context points at it: `Configured`, `Misconfigured`, …
    pub kubeconfig: String,
    /// The exit code: 0 when everything runs, else bits 1 (machine), 2 (cluster), 4 (Kubernetes);
    /// 85 for a profile that does not exist.
    pub exit_code: i32,
    /// What minikube said besides the status (for a missing profile: how to create it).
    pub messages: Vec<String>,
}

impl MinikubeStatus {
    /// Whether the profile exists at all.
    pub fn exists(&self) -> bool {
        self.exit_code != EXIT_PROFILE_NOT_FOUND && self.host != "Nonexistent"
    }

    /// Whether the machine, kubelet and API server all run.
    pub fn is_running(&self) -> bool {
        self.exit_code == 0 && self.host == "Running" && self.api_server == "Running"
    }

    /// The state in plain words, for the cluster bar.
    pub fn describe(&self) -> Text {
        let profile = &self.profile;
        if !self.exists() {
            Text::new(
                format!("minikube profile \"{profile}\" does not exist yet: start it from the cluster bar."),
                format!("minikube 配置“{profile}”尚不存在：请在集群栏中启动它。"),
            )
        } else if self.is_running() {
            Text::new(format!("minikube \"{profile}\" is running."), format!("minikube“{profile}”正在运行。"))
        } else {
            let (host, api) = (&self.host, &self.api_server);
            Text::new(
                format!(
                    "minikube \"{profile}\" is not running (machine: {host}, API server: {api}): start it from the cluster bar."
                ),
                format!("minikube“{profile}”未在运行（机器：{host}，API 服务器：{api}）：请在集群栏中启动它。"),
            )
        }
    }
}

impl Minikube {
    /// The minikube on `PATH`, or an error with install guidance for this system.
    pub fn find() -> Result<Minikube> {
        Minikube::find_in(std::env::var_os("PATH").as_deref().unwrap_or_default())
    }

    /// The minikube in one of the directories of `path` (a `PATH`-style list).
    pub fn find_in(path: &OsStr) -> Result<Minikube> {
        let name = format!("minikube{}", std::env::consts::EXE_SUFFIX);
        std::env::split_paths(path)
            .map(|dir| dir.join(&name))
            .find(|candidate| is_executable(candidate))
            .map(|binary| Minikube { binary })
            .ok_or_else(not_installed)
    }

    /// A given program (the lab's settings may name one); missing is explained like [`Minikube::find`].
    pub fn at(binary: &Path) -> Result<Minikube> {
        if is_executable(binary) { Ok(Minikube { binary: binary.to_path_buf() }) } else { Err(not_installed()) }
    }

    /// The program's path.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The kubeconfig context minikube writes for a profile: the profile's own name.
    pub fn context(profile: &str) -> String {
        profile.to_string()
    }

    /// `minikube status -o json -p PROFILE`, parsed.
    pub async fn status(&self, profile: &str) -> Result<MinikubeStatus> {
        let args = strings(["status", "-o", "json", "-p", profile]);
        let (code, stdout, stderr) = run::capture(&self.binary, &args).await?;
        parse_status(profile, code.unwrap_or(-1), &stdout).ok_or_else(|| {
            let said = format!("{stdout}{stderr}");
            failed("status", code, said.trim())
        })
    }

    /// `minikube start` with the learner's choices; each printed line goes to `on_line`, and the
    /// start is interrupted (like Ctrl+C) when `cancel` resolves. A failed start is explained with
    /// minikube's own reason and suggestion.
    pub async fn start(
        &self,
        options: &MinikubeOptions,
        on_line: impl FnMut(&str) + Send,
        cancel: impl Future<Output = ()>,
    ) -> Result<Ended> {
        self.checked("start", &start_args(options), on_line, cancel).await
    }

    /// `minikube stop -p PROFILE`.
    pub async fn stop(
        &self,
        profile: &str,
        on_line: impl FnMut(&str) + Send,
        cancel: impl Future<Output = ()>,
    ) -> Result<Ended> {
        self.checked("stop", &strings(["stop", "-p", profile]), on_line, cancel).await
    }

    /// `minikube delete -p PROFILE`.
    pub async fn delete(
        &self,
        profile: &str,
        on_line: impl FnMut(&str) + Send,
        cancel: impl Future<Output = ()>,
    ) -> Result<Ended> {
        self.checked("delete", &strings(["delete", "-p", profile]), on_line, cancel).await
    }

    /// `minikube ip -p PROFILE`: the node's address.
    pub async fn ip(&self, profile: &str) -> Result<String> {
        let (code, stdout, stderr) = run::capture(&self.binary, &strings(["ip", "-p", profile])).await?;
        let ip = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default().to_string();
        if code == Some(0) && ip.parse::<std::net::IpAddr>().is_ok() {
            Ok(ip)
        } else {
            Err(failed("ip", code, format!("{stdout}{stderr}").trim()))
        }
    }

    /// `minikube image build -t TAG [-f DOCKERFILE] DIR -p PROFILE`: builds an image inside the
    /// cluster's container runtime, so pods can use it without a registry (the CI exercise).
    pub async fn image_build(
        &self,
        profile: &str,
        dir: &Path,
        tag: &str,
        dockerfile: Option<&str>,
        on_line: impl FnMut(&str) + Send,
    ) -> Result<Ended> {
        let mut args = strings(["image", "build", "-t", tag]);
        if let Some(file) = dockerfile {
            args.extend(strings(["-f", file]));
        }
        args.push(dir.display().to_string());
        args.extend(strings(["-p", profile]));
        self.checked("image build", &args, on_line, std::future::pending()).await
    }

    /// `minikube image load IMAGE -p PROFILE`: copies an image from this machine into the cluster.
    pub async fn image_load(&self, profile: &str, image: &str, on_line: impl FnMut(&str) + Send) -> Result<Ended> {
        self.checked("image load", &strings(["image", "load", image, "-p", profile]), on_line, std::future::pending())
            .await
    }

    /// Streams a command; a non-zero exit becomes an explained error.
    async fn checked(
        &self,
        what: &str,
        args: &[String],
        on_line: impl FnMut(&str) + Send,
        cancel: impl Future<Output = ()>,
    ) -> Result<Ended> {
        let ended = run::stream(&self.binary, args, on_line, cancel).await?;
        match &ended {
            Ended::Exited { code, output } if *code != Some(0) => Err(failed(what, *code, &output.join("\n"))),
            _ => Ok(ended),
        }
    }
}

/// The arguments of `minikube start` for the learner's choices.
pub fn start_args(options: &MinikubeOptions) -> Vec<String> {
    let profile = options.profile.as_deref().filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROFILE);
    let mut args = strings(["start", "-p", profile]);
    if let Some(driver) = options.driver.as_deref().filter(|d| !d.is_empty()) {
        args.push(format!("--driver={driver}"));
    }
    if let Some(cpus) = options.cpus {
        args.push(format!("--cpus={cpus}"));
    }
    if let Some(memory) = options.memory_mib {
        args.push(format!("--memory={memory}mb"));
    }
    args
}

fn strings<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    path.is_file()
}

/// Parses `minikube status -o json`: one object for a one-node cluster, a list for several (the
/// control plane is the one that is not a worker), or, for a missing profile, minikube's JSON
/// event lines (`io.k8s.sigs.minikube.info`) and exit code 85. `None` for anything else.
pub fn parse_status(profile: &str, exit_code: i32, stdout: &str) -> Option<MinikubeStatus> {
    let field = |node: &serde_json::Value, key: &str| node.get(key).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let status = |node: &serde_json::Value, messages: Vec<String>| MinikubeStatus {
        profile: node.get("Name").and_then(|v| v.as_str()).unwrap_or(profile).to_string(),
        host: field(node, "Host"),
        kubelet: field(node, "Kubelet"),
        api_server: field(node, "APIServer"),
        kubeconfig: field(node, "Kubeconfig"),
        exit_code,
        messages,
    };
    let mut messages = Vec::new();
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        match &value {
            serde_json::Value::Array(nodes) => {
                let control_plane = nodes.iter().find(|n| n.get("Worker") != Some(&serde_json::Value::Bool(true)))?;
                return Some(status(control_plane, messages));
            }
            node if node.get("Host").is_some() => return Some(status(node, messages)),
            event => {
                if let Some(message) = event.pointer("/data/message").and_then(|m| m.as_str()) {
                    messages.push(message.to_string());
                }
            }
        }
    }
    (exit_code == EXIT_PROFILE_NOT_FOUND).then(|| MinikubeStatus {
        profile: profile.to_string(),
        host: "Nonexistent".into(),
        kubelet: "Nonexistent".into(),
        api_server: "Nonexistent".into(),
        kubeconfig: "Nonexistent".into(),
        exit_code,
        messages,
    })
}

/// minikube's own reason for a failure: the `Exiting due to CODE: message` line, then its
/// `Suggestion:` and `Documentation:` lines, when it printed them.
fn reason_of(output: &str) -> (Option<String>, Option<String>, Option<String>) {
    let after = |line: &str, marker: &str| line.split_once(marker).map(|(_, rest)| rest.trim().to_string());
    let mut reason = None;
    let mut suggestion = None;
    let mut docs = None;
    for line in output.lines() {
        reason = reason.or_else(|| after(line, "Exiting due to "));
        suggestion = suggestion.or_else(|| after(line, "Suggestion: "));
        docs = docs.or_else(|| after(line, "Documentation: "));
    }
    (reason, suggestion, docs)
}

/// A failed minikube command, explained with minikube's reason and suggestion when it gave them.
fn failed(what: &str, code: Option<i32>, output: &str) -> Error {
    let code_text = code.map_or_else(|| "a signal".to_string(), |c| c.to_string());
    let (reason, suggestion, docs) = reason_of(output);
    let last = output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim();
    let reason = reason.unwrap_or_else(|| last.to_string());
    let message = Text::new(
        format!("`minikube {what}` failed (exit {code_text}): {reason}"),
        format!("`minikube {what}` 失败（退出码 {code_text}）：{reason}"),
    );
    let hint = match (suggestion, docs) {
        (Some(s), Some(d)) => {
            Text::new(format!("minikube suggests: {s} (see {d})."), format!("minikube 的建议：{s}（参见 {d}）。"))
        }
        (Some(s), None) => Text::new(format!("minikube suggests: {s}."), format!("minikube 的建议：{s}。")),
        _ => Text::new(
            "Read minikube's output above; `minikube logs` tells more. Another driver (--driver) or `minikube delete` then a new start often helps.",
            "请阅读上面 minikube 的输出；`minikube logs` 会给出更多信息。换一个驱动（--driver），或先 `minikube delete` 再重新启动，通常会有帮助。",
        ),
    };
    let mut error = gitops_lab_protocol::ErrorView::new("minikube-failed", message).with_hint(hint);
    error.detail = Some(output.to_string());
    Error::from(error)
}

/// minikube is not installed: how to install it on this system, and that the sandbox needs nothing.
pub fn not_installed() -> Error {
    Error::explained(
        "minikube-missing",
        Text::new("minikube is not installed (it is not on PATH).", "未安装 minikube（PATH 中找不到它）。"),
        Some(install_guidance()),
    )
}

/// How to install minikube on the system the lab runs on.
pub fn install_guidance() -> Text {
    let (en, zh) = match std::env::consts::OS {
        "macos" => (
            "On macOS: `brew install minikube`, plus a driver such as Docker Desktop.",
            "macOS：运行 `brew install minikube`，并安装一个驱动，例如 Docker Desktop。",
        ),
        "windows" => (
            "On Windows: `winget install Kubernetes.minikube` (or `choco install minikube`), plus Docker Desktop or Hyper-V as the driver.",
            "Windows：运行 `winget install Kubernetes.minikube`（或 `choco install minikube`），并使用 Docker Desktop 或 Hyper-V 作为驱动。",
        ),
        _ => (
            "On Linux: download the minikube binary for your CPU from the minikube release page (for example minikube-linux-amd64), install it as /usr/local/bin/minikube, and install Docker or KVM as the driver.",
            "Linux：从 minikube 的发布页面下载适合你 CPU 的二进制文件（例如 minikube-linux-amd64），安装为 /usr/local/bin/minikube，并安装 Docker 或 KVM 作为驱动。",
        ),
    };
    Text::new(
        format!("{en} Then reopen the lab. The built-in sandbox needs nothing installed."),
        format!("{zh}然后重新打开实验室。内置的沙盒集群无需安装任何东西。"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_arguments_carry_the_learners_choices() {
        let options =
            MinikubeOptions { driver: Some("docker".into()), cpus: Some(2), memory_mib: Some(4096), profile: None };
        assert_eq!(start_args(&options), ["start", "-p", "minikube", "--driver=docker", "--cpus=2", "--memory=4096mb"]);
        let named = MinikubeOptions { profile: Some("lab".into()), ..MinikubeOptions::default() };
        assert_eq!(start_args(&named), ["start", "-p", "lab"]);
    }

    #[test]
    fn a_multi_node_status_reports_the_control_plane() {
        let json = r#"[{"Name":"m","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false},{"Name":"m-m02","Host":"Stopped","Kubelet":"Stopped","Worker":true}]"#;
        let status = parse_status("m", 1, json).unwrap();
        assert_eq!((status.profile.as_str(), status.host.as_str()), ("m", "Running"));
        assert!(!status.is_running(), "a stopped worker makes the exit code non-zero");
    }

    #[test]
    fn unparseable_status_output_is_none() {
        assert_eq!(parse_status("m", 1, "panic: something"), None);
    }

    #[test]
    fn the_reason_and_suggestion_come_from_minikubes_output() {
        let output = "* Using the kvm2 driver\n\nX Exiting due to PROVIDER_KVM2_NOT_FOUND: not found\n* Suggestion: Install libvirt\n* Documentation: https://example.test/kvm2/\n";
        let error = failed("start", Some(65), output).view();
        assert_eq!(error.message.en, "`minikube start` failed (exit 65): PROVIDER_KVM2_NOT_FOUND: not found");
        assert!(error.hint.unwrap().en.contains("Install libvirt (see https://example.test/kvm2/)"));
    }

    #[test]
    fn finding_on_an_empty_path_gives_install_guidance_in_both_languages() {
        let error = Minikube::find_in(OsStr::new("")).unwrap_err().view();
        assert_eq!(error.code, "minikube-missing");
        let hint = error.hint.unwrap();
        assert!(hint.en.contains("sandbox") && hint.zh.contains("沙盒"));
    }
}

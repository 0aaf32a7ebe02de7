//! Processes started in running containers (`kubectl exec`) and a shell container's main
//! process: both run the sandbox's shell over the container's filesystem and environment.

use super::runtime::Processes;
use super::{ClusterClients, Output, Process};
use gitops_sandbox_shell::vfs::Filesystem;
use gitops_sandbox_shell::{Invocation, Io, Shell, ShellContext};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The network commands an image may have (from its tools or its base's programs).
const NET_TOOLS: [&str; 3] = ["wget", "curl", "nslookup"];

/// The container an exec runs in.
pub struct Target {
    /// Its filesystem.
    pub fs: Filesystem,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Its processes.
    pub processes: Processes,
    /// The pod's name (`hostname`).
    pub hostname: String,
    /// Extra commands its image has (`git`, `kubectl`).
    pub tools: Vec<String>,
    /// The in-pod `kubectl` factory (used when the image has the tool).
    pub clients: Option<Arc<dyn ClusterClients>>,
    /// The cluster network as the pod sees it.
    pub network: Option<Arc<dyn gitops_sandbox_shell::net::Network>>,
}

impl Target {
    /// The shell's context for this container; `pid` is `Some(1)` for the main process.
    pub fn context(&self, pid: Option<u32>) -> ShellContext {
        let has = |tool: &str| self.tools.iter().any(|t| t == tool);
        let cluster = match (&self.clients, has("kubectl")) {
            (Some(clients), true) => Some(clients.client(self.fs.clone())),
            _ => None,
        };
        ShellContext {
            fs: self.fs.clone(),
            env: self.env.iter().cloned().collect(),
            hostname: self.hostname.clone(),
            processes: self.processes.clone(),
            pid,
            cluster,
            git: has("git"),
            network: self.network.clone(),
            net_tools: self.tools.iter().filter(|t| NET_TOOLS.contains(&t.as_str())).cloned().collect(),
        }
    }
}

/// Runs `invocation` in the shell as the container's main process, reading `stdin` (a container
/// made with `stdin: true`) and its output going to `write`.
pub async fn main_shell(
    target: &Target,
    argv: Vec<String>,
    stdin: Option<mpsc::Receiver<bytes::Bytes>>,
    tty: bool,
    write: impl Fn(&[u8]) + Send + 'static,
) -> i32 {
    let (output, mut rx) = mpsc::channel(64);
    let forward = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Output::Stdout(bytes) | Output::Stderr(bytes) => write(&bytes),
            }
        }
    });
    let mut shell = Shell::new(target.context(Some(1)));
    let code = shell.run(Invocation::Argv(argv), Io { stdin, output, tty }).await;
    // The shell keeps a sender for diagnostics: drop it so the forwarder sees the end.
    drop(shell);
    let _ = forward.await;
    code
}

/// Starts `command` in the container; the returned [`Process`] carries its I/O and exit code.
pub fn start(handle: &tokio::runtime::Handle, target: Target, command: Vec<String>, tty: bool, stdin: bool) -> Process {
    let (output, output_rx) = mpsc::channel(64);
    let (exit, exit_rx) = oneshot::channel();
    let (stdin_tx, stdin_rx) = if stdin {
        let (tx, rx) = mpsc::channel(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (resize, resize_rx) = if tty {
        let (tx, rx) = mpsc::channel(4);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    handle.spawn(async move {
        // Terminal sizes do not matter to the shell's output; the channel is drained so senders never block.
        if let Some(mut sizes) = resize_rx {
            tokio::spawn(async move { while sizes.recv().await.is_some() {} });
        }
        let mut shell = Shell::new(target.context(None));
        let code = shell.run(Invocation::Argv(command), Io { stdin: stdin_rx, output, tty }).await;
        // Output closes before the exit code is reported, as the contract says.
        drop(shell);
        let _ = exit.send(code);
    });
    Process { stdin: stdin_tx, output: output_rx, exit: exit_rx, resize }
}

/// Whether `program` is a file of the container: a path, or a name found on its `PATH`.
pub fn program_exists(target: &Target, program: &str) -> bool {
    if program.contains('/') {
        return target.fs.read(program).is_ok();
    }
    let path = target.env.iter().find(|(k, _)| k == "PATH").map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    path.split(':').any(|dir| target.fs.read(&format!("{}/{program}", dir.trim_end_matches('/'))).is_ok())
}

/// An exec of a program the image does not have, in an image without a shell: the container
/// runtime refuses it, and kubectl reports exit code 126, as with Docker on minikube.
pub fn missing_program(program: &str) -> Process {
    let (output, output_rx) = mpsc::channel(1);
    let message = format!(
        "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown\r\n"
    );
    let _ = output.try_send(Output::Stderr(bytes::Bytes::from(message)));
    let (exit, exit_rx) = oneshot::channel();
    let _ = exit.send(126);
    Process { stdin: None, output: output_rx, exit: exit_rx, resize: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_sandbox_shell::vfs::Volume;

    fn target() -> Target {
        let fs = Filesystem::new(Volume::with_files([("etc/hostname", b"web\n".to_vec())]));
        Target {
            fs,
            env: vec![("GREETING".into(), "hi".into())],
            processes: Processes::new("nginx: master process"),
            hostname: "web".into(),
            tools: Vec::new(),
            clients: None,
            network: None,
        }
    }

    async fn collect(mut process: Process) -> (String, i32) {
        let mut text = String::new();
        while let Some(out) = process.output.recv().await {
            match out {
                Output::Stdout(b) | Output::Stderr(b) => text.push_str(&String::from_utf8_lossy(&b)),
            }
        }
        (text, process.exit.await.unwrap_or(-1))
    }

    #[tokio::test]
    async fn an_exec_sees_the_containers_files_and_environment() {
        let argv = vec!["sh".into(), "-c".into(), "cat /etc/hostname; echo $GREETING".into()];
        let (text, code) = collect(start(&tokio::runtime::Handle::current(), target(), argv, false, false)).await;
        assert_eq!((text.as_str(), code), ("web\nhi\n", 0));
    }

    #[tokio::test]
    async fn an_unknown_command_fails_with_a_non_zero_code() {
        let (_, code) =
            collect(start(&tokio::runtime::Handle::current(), target(), vec!["nosuchprogram".into()], false, false))
                .await;
        assert_ne!(code, 0);
    }

    #[tokio::test]
    async fn a_program_the_image_lacks_is_refused_by_the_runtime() {
        assert!(program_exists(&target(), "/etc/hostname") && !program_exists(&target(), "sh"));
        let (text, code) = collect(missing_program("sh")).await;
        assert_eq!(code, 126);
        assert!(text.contains("exec: \"sh\": executable file not found in $PATH"), "{text}");
    }

    #[tokio::test]
    async fn a_main_shell_writes_its_output_to_the_log() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let code = main_shell(&target(), vec!["echo".into(), "moo".into()], None, false, move |b| {
            sink.lock().unwrap().extend_from_slice(b)
        })
        .await;
        assert_eq!(code, 0);
        assert_eq!(seen.lock().unwrap().as_slice(), b"moo\n");
    }
}

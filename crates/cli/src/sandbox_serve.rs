//! `gitops-lab sandbox serve`: run the sandbox cluster on loopback and write its kubeconfig.

use crate::messages::Messages;
use anyhow::Context;
use gitops_sandbox::{Sandbox, kubeconfig, pace, server};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `sandbox serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where the sandbox keeps its objects (default: the user's data directory, or $GITOPS_LAB_DATA).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to write the kubeconfig (default: DATA_DIR/kubeconfig).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Stop when standard input closes: the lab's engine runs the sandbox this way, so the sandbox
    /// never outlives it, even when the engine is killed.
    #[arg(long, hide = true)]
    stop_with_stdin: bool,
    /// Refuse creates once the sandbox holds this many objects (events aside), 403 "exceeded
    /// quota"; kept in DATA_DIR/max-objects for later starts; 0 removes the limit.
    #[arg(long)]
    max_objects: Option<usize>,
    /// How fast pods come and go: `instant` (at once) or `realistic` (image pulls, starts and
    /// stops take a second or a few, as on minikube). Default: $GITOPS_LAB_SANDBOX_PACE, else the
    /// pace the sandbox had (kept on its Node as the annotation gitops-lab.dev/pace), else instant.
    #[arg(long)]
    pace: Option<pace::Pace>,
    /// Serve with this CA (PEM) instead of the one the sandbox makes itself; needs --tls-cert,
    /// --tls-key and --token-file too (the workshop runs a learner's sandbox in a Pod this way).
    #[arg(long, requires_all = ["tls_cert", "tls_key", "token_file"])]
    ca_cert: Option<PathBuf>,
    /// The serving certificate (PEM), signed by --ca-cert.
    #[arg(long, requires = "ca_cert")]
    tls_cert: Option<PathBuf>,
    /// The serving certificate's private key (PEM).
    #[arg(long, requires = "ca_cert")]
    tls_key: Option<PathBuf>,
    /// A file holding the admin bearer token clients present.
    #[arg(long, requires = "ca_cert")]
    token_file: Option<PathBuf>,
}

/// The lab's data directory: `$GITOPS_LAB_DATA`, else the platform's per-user data directory.
pub fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GITOPS_LAB_DATA").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("dev", "gitops-lab", "gitops-lab").map(|d| d.data_dir().to_path_buf())
}

/// The environment variable that chooses the pace when `--pace` is not given.
pub const PACE_VARIABLE: &str = "GITOPS_LAB_SANDBOX_PACE";

/// The pace asked for: the flag, else the environment; `None` keeps the sandbox's own.
fn chosen_pace(flag: Option<pace::Pace>) -> anyhow::Result<Option<pace::Pace>> {
    if flag.is_some() {
        return Ok(flag);
    }
    match std::env::var(PACE_VARIABLE) {
        Ok(text) if !text.is_empty() => text.parse().map(Some).map_err(|e| anyhow::anyhow!("{PACE_VARIABLE}: {e}")),
        _ => Ok(None),
    }
}

/// Runs the sandbox until SIGINT or SIGTERM.
pub fn run(args: ServeArgs, messages: &Messages) -> anyhow::Result<()> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => default_data_dir().context(messages.no_data_dir())?.join("sandbox"),
    };
    let kubeconfig_path = args.kubeconfig.clone().unwrap_or_else(|| data_dir.join("kubeconfig"));
    if let (Some(ca_cert), Some(tls_cert), Some(tls_key), Some(token_file)) =
        (&args.ca_cert, &args.tls_cert, &args.tls_key, &args.token_file)
    {
        std::fs::create_dir_all(&data_dir).with_context(|| messages.cannot_open(&data_dir.display().to_string()))?;
        gitops_sandbox::tls::Given { ca_cert, tls_cert, tls_key, token_file }
            .install(&data_dir)
            .map_err(|e| anyhow::anyhow!("{e} / 给定的证书或令牌不可用：{e}"))?;
    }
    let sandbox =
        Arc::new(Sandbox::open(&data_dir).with_context(|| messages.cannot_open(&data_dir.display().to_string()))?);
    if let Some(max) = args.max_objects {
        sandbox.set_max_objects(max).with_context(|| messages.cannot_open(&data_dir.display().to_string()))?;
    }
    if let Some(pace) = chosen_pace(args.pace)? {
        pace::write(&sandbox, pace)
            .map_err(|e| anyhow::anyhow!("cannot set the pace: {} / 无法设置节奏：{}", e.message, e.message))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (listener, addr) = crate::listener::bind(args.listen, messages).await?;
        let url = format!("https://{addr}");
        kubeconfig::write(&kubeconfig_path, &url, &sandbox.certificates().ca_pem, sandbox.admin_token())
            .with_context(|| format!("cannot write the kubeconfig {}", kubeconfig_path.display()))?;
        let serving =
            tokio::spawn(server::run(listener, sandbox, crate::shutdown::shutdown_signal(args.stop_with_stdin)));
        // The listener accepts from the moment it is bound; say so only now that the server runs.
        println!("server: {url}");
        println!("kubeconfig: {}", kubeconfig_path.display());
        eprintln!("{}", messages.sandbox_ready(&kubeconfig_path.display().to_string()));
        serving.await.context("the sandbox server stopped unexpectedly")??;
        eprintln!("{}", messages.stopped());
        Ok(())
    })
}

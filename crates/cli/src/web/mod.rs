//! `gitops-lab web`: the lab's UI in the browser, served on loopback with one engine per session.
//!
//! Layout: [`guard`] (Host, Origin and token checks), [`sessions`] (one engine per learner, found
//! by token), [`server`] (routes and `run(listener, …)`), [`api`] (commands and the event
//! WebSocket), [`assets`] (the UI built into the binary). This file parses the flags, starts the
//! first session and prints `url: http://127.0.0.1:PORT/?token=…` once the page can be loaded
//! (the session's engine and sandbox start meanwhile; commands wait for them).

mod api;
mod assets;
mod guard;
mod server;
mod sessions;

use crate::messages::Messages;
use crate::sandbox_serve::default_data_dir;
use anyhow::Context;
use gitops_lab::EngineConfig;
use gitops_lab::protocol::ClusterChoice;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Flags of `web` (and of `gitops-lab` without a subcommand).
#[derive(clap::Args, Debug, Clone)]
pub struct WebArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7420")]
    listen: SocketAddr,
    /// The cluster: sandbox, minikube or context:NAME (a context of $KUBECONFIG).
    #[arg(long, default_value = "sandbox", value_parser = parse_cluster)]
    cluster: ClusterChoice,
    /// Open the page in the default browser once it is ready.
    #[arg(long)]
    open: bool,
    /// Where the lab keeps its data (default: the user's data directory, or $GITOPS_LAB_DATA).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The exercises to offer (default: $GITOPS_LAB_EXERCISES, or `exercises/` of the source tree).
    #[arg(long)]
    exercises: Option<PathBuf>,
    /// Another host name the server may be reached by (besides 127.0.0.1, localhost and [::1]).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
}

impl Default for WebArgs {
    fn default() -> Self {
        WebArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 7420)),
            cluster: ClusterChoice::Sandbox,
            open: false,
            data_dir: None,
            exercises: None,
            allow_hosts: Vec::new(),
        }
    }
}

fn parse_cluster(value: &str) -> Result<ClusterChoice, String> {
    ClusterChoice::from_arg(value).ok_or_else(|| format!("`{value}` is not a cluster: use sandbox, minikube or context:NAME"))
}

/// Runs web mode until SIGINT or SIGTERM, then stops every session's engine.
pub fn run(args: WebArgs, messages: &Messages) -> anyhow::Result<()> {
    let data_dir = match args.data_dir.clone() {
        Some(dir) => dir,
        None => default_data_dir().context(messages.no_data_dir())?,
    };
    let mut config = EngineConfig::new(&data_dir, locate_exercises(args.exercises.clone(), &data_dir));
    config.cluster = args.cluster.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| messages.cannot_listen(&args.listen.to_string()))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            eprintln!("{}", messages.not_loopback(&addr.to_string()));
        }
        let state = Arc::new(server::WebState {
            sessions: sessions::Sessions::default(),
            guard: guard::Guard::new(addr.port(), addr.ip(), &args.allow_hosts),
        });
        let session = state.sessions.open(config);
        let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
        let url = format!("http://{host}:{}/?token={}", addr.port(), session.token());
        let serving = tokio::spawn(server::run(listener, state.clone(), crate::sandbox_serve::shutdown_signal(false)));
        // The listener accepts from the moment it is bound; the page loads while the engine starts.
        println!("url: {url}");
        eprintln!("{}", web_ready(messages));
        if args.open {
            open_browser(&url);
        }
        let served = serving.await.context("the web server stopped unexpectedly")?;
        state.sessions.shutdown().await;
        served.context("the web server failed")?;
        eprintln!("{}", messages.say("The lab stopped.", "实验室已停止。"));
        Ok(())
    })
}

fn web_ready(messages: &Messages) -> String {
    messages.say(
        "The lab is ready: open the url above in your browser (it carries your session token; keep it private). Press Ctrl+C to stop.",
        "实验室已就绪：请在浏览器中打开上面的 url（其中带有你的会话令牌，请勿分享）。按 Ctrl+C 停止。",
    )
}

/// The exercises directory: the flag, `$GITOPS_LAB_EXERCISES`, `exercises/` in the working
/// directory or above the binary (a source checkout), else `DATA_DIR/exercises`.
fn locate_exercises(flag: Option<PathBuf>, data_dir: &std::path::Path) -> PathBuf {
    if let Some(dir) = flag.or_else(|| std::env::var_os("GITOPS_LAB_EXERCISES").filter(|d| !d.is_empty()).map(PathBuf::from)) {
        return dir;
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    starts
        .into_iter()
        .flatten()
        .flat_map(|start| start.ancestors().map(|dir| dir.join("exercises")).collect::<Vec<_>>())
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| data_dir.join("exercises"))
}

/// Opens the page in the desktop's browser; a failure only prints a note (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    match std::process::Command::new(opener).arg(url).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn() {
        // Reap it in the background so that it does not linger as a zombie.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(error) => eprintln!("cannot start {opener} ({error}); open the url yourself"),
    }
}

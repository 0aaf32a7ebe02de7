//! `gitops-lab web`: the lab's UI in the browser, served on loopback with one engine per session.
//!
//! Layout: [`guard`] (Host, Origin and token checks), [`sessions`] (one engine per learner, found
//! by token), [`server`] (routes and `run(listener, …)`), [`api`] (commands and the event
//! WebSocket), [`assets`] (the UI built into the binary). This file parses the flags, starts the
//! first session and prints `url: http://127.0.0.1:PORT/?token=…` once the page can be loaded
//! (the session's engine and sandbox start meanwhile; commands wait for them).

// Shared with workshop mode, which serves the same UI and API for each of its learners.
pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod guard;
pub(crate) mod server;
pub(crate) mod sessions;

use crate::cluster_args::ClusterArgs;
use crate::messages::Messages;
use anyhow::Context;
use gitops_lab::protocol::ClusterChoice;
use std::net::SocketAddr;
use std::sync::Arc;

/// Flags of `web` (and of `gitops-lab` without a subcommand).
#[derive(clap::Args, Debug, Clone)]
pub struct WebArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7420")]
    listen: SocketAddr,
    /// The cluster and the data directory.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Open the page in the default browser once it is ready.
    #[arg(long)]
    open: bool,
    /// Another host name the server may be reached by (besides 127.0.0.1, localhost and [::1]).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
}

impl Default for WebArgs {
    fn default() -> Self {
        WebArgs {
            listen: SocketAddr::from(([127, 0, 0, 1], 7420)),
            cluster: ClusterArgs { cluster: ClusterChoice::Sandbox, data_dir: None },
            open: false,
            allow_hosts: Vec::new(),
        }
    }
}

/// Runs web mode until SIGINT or SIGTERM, then stops every session's engine.
pub fn run(args: WebArgs, messages: &Messages) -> anyhow::Result<()> {
    let config = args.cluster.engine_config().context(messages.no_data_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let (listener, addr) = crate::listener::bind(args.listen, messages).await?;
        let state = Arc::new(server::WebState {
            sessions: sessions::Sessions::default(),
            guard: guard::Guard::new(addr.port(), addr.ip(), &args.allow_hosts),
        });
        let session = state.sessions.open(config);
        let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{host}:{}/?token={}", addr.port(), session.token());
        let serving = tokio::spawn(server::run(listener, state.clone(), crate::shutdown::signals()));
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

/// Opens the page in the desktop's browser; a failure only prints a note (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    match std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        // Reap it in the background so that it does not linger as a zombie.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(error) => eprintln!("cannot start {opener} ({error}); open the url yourself"),
    }
}

//! `gitops-lab operator nginx`: the chapter's ConfigMap → NGINX operator, in Rust, run by the engine
//! against the chosen cluster until Ctrl+C (or SIGTERM, as in a pod).

use crate::cluster_args::ClusterArgs;
use crate::messages::Messages;
use anyhow::{Context, bail};
use gitops_lab::Engine;
use gitops_lab::protocol::{ClusterPhase, Command, ErrorView, Event, Text};

/// `gitops-lab operator …`.
#[derive(clap::Args, Debug)]
pub struct OperatorArgs {
    #[command(subcommand)]
    command: OperatorCommand,
}

#[derive(clap::Subcommand, Debug)]
enum OperatorCommand {
    /// Keep an nginx Deployment for every ConfigMap labelled gitops-lab.dev/nginx-site, serving its page.
    Nginx(NginxArgs),
}

#[derive(clap::Args, Debug)]
struct NginxArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The namespace to watch (default: the cluster context's namespace, else `default`).
    #[arg(long)]
    namespace: Option<String>,
}

/// Runs the operator until interrupted.
pub fn run(args: OperatorArgs, messages: &Messages) -> anyhow::Result<()> {
    let OperatorCommand::Nginx(args) = args.command;
    let config = args.cluster.engine_config().context(messages.no_data_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let engine = Engine::start(config).await;
        let result = serve(&engine, args.namespace.unwrap_or_default(), messages).await;
        engine.shutdown().await;
        result
    })
}

async fn serve(engine: &Engine, namespace: String, messages: &Messages) -> anyhow::Result<()> {
    let status = engine.connection().status();
    if status.phase != ClusterPhase::Connected {
        let error = status.error.unwrap_or_else(|| ErrorView::new("not-connected", status.message));
        bail!(explain(&error, messages));
    }
    let mut events = engine.subscribe();
    let watched = match engine.connection().handle() {
        Some(handle) if namespace.is_empty() => handle.default_namespace,
        _ => namespace.clone(),
    };
    engine.handle(Command::OperatorStart { namespace }).await.map_err(|e| anyhow::anyhow!(explain(&e, messages)))?;
    eprintln!("{}", messages.text(&gitops_lab::operator::usage_hint(&watched)));
    let stop = Text::new("Press Ctrl+C to stop the operator.", "按 Ctrl+C 停止操作符。");
    eprintln!("{}", messages.text(&stop));
    let mut interrupted = std::pin::pin!(crate::shutdown::signals());
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Event::Notice { level, message }) => println!("{level}: {}", messages.text(&message)),
                Some(_) => {}
                None => break,
            },
            _ = &mut interrupted => break,
        }
    }
    let _ = engine.handle(Command::OperatorStop).await;
    // The stop notice was published while stopping; show it.
    while let Ok(Some(event)) = tokio::time::timeout(std::time::Duration::from_millis(50), events.next()).await {
        if let Event::Notice { level, message } = event {
            println!("{level}: {}", messages.text(&message));
        }
    }
    Ok(())
}

/// An engine error as one line with its hint.
fn explain(error: &ErrorView, messages: &Messages) -> String {
    match &error.hint {
        Some(hint) => format!("{} {}", messages.text(&error.message), messages.text(hint)),
        None => messages.text(&error.message).to_string(),
    }
}

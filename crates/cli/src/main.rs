//! The `gitops-lab` command: web mode, the desktop window, the sandbox cluster and headless exercises.
//!
//! Each subcommand lives in its own module; this file only parses the command line and reports
//! failures in the learner's language.

mod desktop;
mod messages;
mod sandbox_serve;
mod web;

use clap::{Parser, Subcommand};
use messages::Messages;
use std::process::ExitCode;

/// GitOps Lab: learn Kubernetes and GitOps on a real Kubernetes API.
#[derive(Parser)]
#[command(name = "gitops-lab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the lab's UI in the browser (the default); prints `url: …` once ready.
    Web(web::WebArgs),
    /// Open the lab in a desktop window.
    Desktop(desktop::DesktopArgs),
    /// The embedded sandbox cluster.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

#[derive(Subcommand)]
enum SandboxCommand {
    /// Run the sandbox cluster until interrupted; kubectl works against it.
    Serve(sandbox_serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let messages = Messages::from_env();
    let result = match cli.command {
        Some(Command::Sandbox { command: SandboxCommand::Serve(args) }) => sandbox_serve::run(args, &messages),
        None => web::run(web::WebArgs::default(), &messages),
        Some(Command::Web(args)) => web::run(args, &messages),
        Some(Command::Desktop(args)) => match desktop::run(args, &messages) {
            Ok(code) => return code,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error:#}", messages.error_prefix());
            ExitCode::FAILURE
        }
    }
}

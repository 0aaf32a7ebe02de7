//! The `gitops-lab` command: web mode, the desktop window, the sandbox cluster and headless exercises.
//!
//! Each subcommand lives in its own module; this file only parses the command line and reports
//! failures in the learner's language.

mod cluster_args;
mod connect;
mod desktop;
mod exercises;
mod kubectl_commands;
mod listener;
mod messages;
mod operator;
mod sandbox_serve;
mod shutdown;
mod sync;
mod web;
mod workshop;

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
    /// The lab's own GitOps sync loop: apply a repository's manifests once, or on every new commit.
    Sync(sync::SyncArgs),
    /// The chapter's operators, run by the lab (`operator nginx`).
    Operator(operator::OperatorArgs),
    /// The chapter's exercises without the UI: list, validate, check, run, reset.
    Exercises(exercises::ExercisesArgs),
    /// Client-side apply exactly as kubectl does it (prints created / unchanged / configured).
    Apply(kubectl_commands::FileArgs),
    /// File against live, and the three-way view with each field explained.
    Diff(kubectl_commands::FileArgs),
    /// One server for a class: a lab per learner, a board for the instructor; prints
    /// `instructor: …` and `join: …` once ready.
    Workshop(workshop::WorkshopArgs),
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
        Some(Command::Sandbox { command: SandboxCommand::Serve(args) }) => {
            sandbox_serve::run(args, &messages).map(|()| ExitCode::SUCCESS)
        }
        Some(Command::Operator(args)) => operator::run(args, &messages).map(|()| ExitCode::SUCCESS),
        Some(Command::Exercises(args)) => exercises::run(args, &messages),
        Some(Command::Apply(args)) => kubectl_commands::apply(args, &messages),
        Some(Command::Diff(args)) => kubectl_commands::diff(args, &messages),
        Some(Command::Sync(args)) => sync::run(args).map(|()| ExitCode::SUCCESS),
        None => web::run(web::WebArgs::default(), &messages).map(|()| ExitCode::SUCCESS),
        Some(Command::Web(args)) => web::run(args, &messages).map(|()| ExitCode::SUCCESS),
        Some(Command::Desktop(args)) => desktop::run(args, &messages),
        Some(Command::Workshop(args)) => workshop::run(args, &messages).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("{}: {error:#}", messages.error_prefix());
            ExitCode::FAILURE
        }
    }
}

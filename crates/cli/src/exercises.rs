//! `gitops-lab exercises list | validate [DIR] | check ID | run ID | reset ID`: the exercises without
//! the UI, for instructors, scripts and tests.

use crate::cluster_args::{ClusterArgs, exercises_dir};
use crate::connect::{explain, start_connected};
use crate::messages::Messages;
use anyhow::Context;
use gitops_lab::Engine;
use gitops_lab::exercises::load_all;
use gitops_lab::protocol::{CheckView, Text};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How long `run` waits for a step's checks.
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// `gitops-lab exercises …`.
#[derive(clap::Args, Debug)]
pub struct ExercisesArgs {
    #[command(subcommand)]
    command: ExercisesCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ExercisesCommand {
    /// One exercise a line: ID<TAB>title.
    List,
    /// Check exercise files: schema, both languages, commands and manifests (exit 1 on any problem).
    Validate {
        /// The folder of exercises (default: the lab's).
        dir: Option<PathBuf>,
    },
    /// Verify the cluster's state for an exercise (exit 0 = passed; otherwise the first unmet check).
    Check {
        /// The exercise's id.
        id: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Play an exercise's steps to the end, waiting for each step's checks.
    Run {
        /// The exercise's id.
        id: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Remove what an exercise created and forget its progress.
    Reset {
        /// The exercise's id.
        id: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// Runs the subcommand; the exit code says whether it passed.
pub fn run(args: ExercisesArgs, messages: &Messages) -> anyhow::Result<ExitCode> {
    match args.command {
        ExercisesCommand::List => list(messages),
        ExercisesCommand::Validate { dir } => validate(dir.unwrap_or_else(exercises_dir), messages),
        ExercisesCommand::Check { id, cluster } => with_engine(cluster, messages, |engine| check(engine, id, messages)),
        ExercisesCommand::Run { id, cluster } => with_engine(cluster, messages, |engine| play(engine, id, messages)),
        ExercisesCommand::Reset { id, cluster } => with_engine(cluster, messages, |engine| reset(engine, id, messages)),
    }
}

fn list(messages: &Messages) -> anyhow::Result<ExitCode> {
    let (exercises, problems) = load_all(&exercises_dir());
    for exercise in &exercises {
        println!("{}\t{}", exercise.file.id, messages.text(&exercise.file.title.text()));
    }
    for problem in &problems {
        eprintln!("{}", explain(&problem.view(), messages));
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn validate(dir: PathBuf, messages: &Messages) -> anyhow::Result<ExitCode> {
    let (exercises, problems) = load_all(&dir);
    for problem in &problems {
        println!("{}", messages.text(&problem.view().message));
    }
    let summary = if problems.is_empty() {
        Text::new(
            format!("{} exercises in {} are valid.", exercises.len(), dir.display()),
            format!("{} 中的 {} 个练习全部有效。", dir.display(), exercises.len()),
        )
    } else {
        Text::new(
            format!("{} problem(s) in {}; {} exercise(s) are valid.", problems.len(), dir.display(), exercises.len()),
            format!("{} 中有 {} 处问题；{} 个练习有效。", dir.display(), problems.len(), exercises.len()),
        )
    };
    eprintln!("{}", messages.text(&summary));
    Ok(if problems.is_empty() && !exercises.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Starts an engine on the chosen cluster, runs `body`, and always shuts the engine down.
fn with_engine<F, Fut>(cluster: ClusterArgs, messages: &Messages, body: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Engine) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let config = cluster.engine_config().context(messages.no_data_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let engine = start_connected(config, messages).await?;
        let result = body(engine.clone()).await;
        engine.shutdown().await;
        result
    })
}

fn mark(check: &CheckView, messages: &Messages) -> String {
    let sign = if check.met { "✓" } else { "✗" };
    format!("{sign} {} — {}", messages.text(&check.description), messages.text(&check.reason))
}

async fn check(engine: Engine, id: String, messages: &Messages) -> anyhow::Result<ExitCode> {
    let checks = engine.exercises().check(&id).await.map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?;
    for check in &checks {
        println!("{}", mark(check, messages));
    }
    match checks.iter().find(|c| !c.met) {
        None => Ok(ExitCode::SUCCESS),
        Some(first) => {
            let said = Text::new(
                format!("Not passed yet: {} ({})", first.description.en, first.reason.en),
                format!("尚未通过：{}（{}）", first.description.zh, first.reason.zh),
            );
            eprintln!("{}", messages.text(&said));
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn play(engine: Engine, id: String, messages: &Messages) -> anyhow::Result<ExitCode> {
    let exercises = engine.exercises();
    let fail = |e: gitops_lab::Error| anyhow::anyhow!(explain(&e.view(), messages));
    let view = exercises.open(&id).await.map_err(fail)?;
    let steps = exercises.find(&id).map_err(fail)?.file.steps.clone();
    for (index, step) in steps.iter().enumerate() {
        println!("== {} {}", index + 1, messages.text(&view.steps[index].title));
        if let Some(predict) = &step.predict {
            exercises.predict(&id, index, predict.answer).map_err(fail)?;
        }
        if step.action.is_some() {
            let outcome = exercises.run_step(&id, index).await.map_err(fail)?;
            print!("{}", outcome.output);
            if let Some(error) = &outcome.error {
                eprintln!("{}", explain(error, messages));
            }
        }
        if step.checks.is_empty() {
            continue;
        }
        if !exercises.wait_step(&id, index, STEP_TIMEOUT).await {
            let view = exercises.view(&id).await.map_err(fail)?;
            for check in view.steps[index].checks.iter().filter(|c| !c.met) {
                eprintln!("{}", mark(check, messages));
            }
            let said = Text::new(
                format!("Step {} did not complete within {} s.", index + 1, STEP_TIMEOUT.as_secs()),
                format!("第 {} 步未能在 {} 秒内完成。", index + 1, STEP_TIMEOUT.as_secs()),
            );
            eprintln!("{}", messages.text(&said));
            return Ok(ExitCode::FAILURE);
        }
    }
    println!("{}", messages.text(&Text::new("Every step is done.", "所有步骤均已完成。")));
    Ok(ExitCode::SUCCESS)
}

async fn reset(engine: Engine, id: String, messages: &Messages) -> anyhow::Result<ExitCode> {
    let report = engine.exercises().reset(&id).await.map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?;
    for removed in &report.removed {
        println!("{removed} deleted");
    }
    println!("{}", messages.text(&report.message));
    Ok(ExitCode::SUCCESS)
}

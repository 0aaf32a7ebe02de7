//! The exercise area: the chapter navigator, steps, checks, predictions, reset, and the
//! kubectl-like commands the learner types (apply, diff, a command line).

use super::Context;
use crate::error::Result;
use crate::exercises::Exercises;
use crate::exercises::gitops_port::GitOpsPort;
use crate::exercises::session::follow_commits;
use crate::kubectl::{CommandOutput, DirectoryFiles, Kubectl, Outcome, RunOptions, parse, parse_command_line};
use gitops_lab_protocol::{Command, ExerciseSummary, Reply};
use std::sync::Arc;

/// The area's state.
pub(super) struct ExerciseArea {
    context: Context,
    exercises: Arc<Exercises>,
}

impl ExerciseArea {
    pub(super) fn new(context: &Context, gitops: Arc<dyn GitOpsPort>) -> ExerciseArea {
        let exercises = Exercises::new(
            context.config.clone(),
            context.bus.clone(),
            context.connection.clone(),
            context.live.clone(),
            context.operator.clone(),
            gitops,
        );
        let exercises = Arc::new(exercises);
        tokio::spawn(follow_commits(Arc::downgrade(&exercises)));
        ExerciseArea { context: context.clone(), exercises }
    }

    /// The exercises, for the headless CLI.
    pub(super) fn exercises(&self) -> Arc<Exercises> {
        self.exercises.clone()
    }

    pub(super) fn summaries(&self) -> Vec<ExerciseSummary> {
        self.exercises.summaries()
    }

    pub(super) fn resume_point(&self) -> Option<(String, usize)> {
        self.exercises.resume_point()
    }

    pub(super) async fn handle(&self, command: Command) -> Result<Reply> {
        let exercises = &self.exercises;
        Ok(match command {
            Command::ListExercises => Reply::Exercises(exercises.summaries()),
            Command::OpenExercise { id } => Reply::Exercise(exercises.open(&id).await?),
            Command::GoToStep { exercise, step } => {
                exercises.go_to_step(&exercise, step)?;
                Reply::Done
            }
            Command::RunStep { exercise, step } => Reply::StepOutcome(exercises.run_step(&exercise, step).await?),
            Command::Predict { exercise, step, choice } => {
                Reply::Prediction(exercises.predict(&exercise, step, choice)?)
            }
            Command::ResetExercise { id } => Reply::Reset(exercises.reset(&id).await?),
            Command::Apply { source, manifest } => {
                let kubectl = Kubectl::new(&self.context.connection.require()?);
                let output = match parse(&source, &manifest) {
                    Ok(manifests) => kubectl.apply_all(&manifests, &Default::default()).await.1,
                    Err(error) => failed(error.view().into()),
                };
                Reply::Output { ok: output.ok(), output: output.combined() }
            }
            Command::Diff { source, manifest } => {
                let kubectl = Kubectl::new(&self.context.connection.require()?);
                let manifests = parse(&source, &manifest).map_err(|e| crate::Error::from(e.view()))?;
                Reply::Diff(crate::diff::diff_manifests(&kubectl, &source, &manifests).await)
            }
            Command::Kubectl { line } => {
                let kubectl = Kubectl::new(&self.context.connection.require()?);
                let files = DirectoryFiles::new(self.context.config.workspace_dir());
                let parsed = parse_command_line(&line)?;
                let output = match kubectl.run(&parsed, &files, &RunOptions::default()).await? {
                    Outcome::Output(output) => output,
                    Outcome::Diff(manifests) => {
                        let view = crate::diff::diff_manifests(&kubectl, &line, &manifests).await;
                        return Ok(Reply::Diff(view));
                    }
                    Outcome::PortForward { target, local, remote } => {
                        return Ok(Reply::PortForward(
                            self.context.live.port_forward(target.object_ref(), remote, local).await?,
                        ));
                    }
                    Outcome::Terminal { pod, namespace, container, command } => {
                        let pod = gitops_lab_protocol::ObjectRef::new("v1", "Pod", Some(&namespace), &pod);
                        let command = if command.is_empty() { vec!["sh".to_string()] } else { command };
                        let request = crate::live::ExecRequest { pod, container, command, tty: true, size: (100, 30) };
                        return Ok(Reply::Stream(self.context.live.exec(request).await?));
                    }
                };
                Reply::Output { ok: output.ok(), output: output.combined() }
            }
            other => return Err(super::not_available(&other)),
        })
    }
}

fn failed(error: crate::Error) -> CommandOutput {
    let mut output = CommandOutput::default();
    output.fail_with(&error);
    output
}

//! Exercises as the UI shows them: the chapter navigator, steps, checks and "predict, then run".

use crate::diff::DiffView;
use crate::error::ErrorView;
use crate::stream::{PortForwardView, StreamId};
use crate::text::Text;
use serde::{Deserialize, Serialize};

/// How far a learner got with an exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExerciseStatus {
    /// Never opened.
    NotStarted,
    /// Some steps done.
    InProgress,
    /// Every step done.
    Completed,
}

/// One line of the chapter navigator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseSummary {
    /// Stable id such as `2.1-nginx-pod`.
    pub id: String,
    /// The chapter section (`2.1`, `2.3.3`).
    pub section: String,
    /// Its title.
    pub title: Text,
    /// A sentence on what the learner does.
    pub summary: Text,
    /// How many steps it has.
    pub steps: usize,
    /// How many the learner has done.
    pub done_steps: usize,
    /// Overall status.
    pub status: ExerciseStatus,
}

/// A file an action uses (a manifest, a script), shown beside the step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    /// The file's name as the learner would type it.
    pub name: String,
    /// Its content.
    pub content: String,
}

/// The one-click action of a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    /// What kind of action (`kubectl`, `exec`, `terminal`, `portForward`, `diff`, `gitCommit`, `sync`,
    /// `ciBump`, `operator`), for the button's icon.
    pub kind: String,
    /// The button's label.
    pub label: Text,
    /// The files it uses.
    pub files: Vec<FileView>,
}

/// The state of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    /// Stable id within the step.
    pub id: String,
    /// What it checks, in plain words.
    pub description: Text,
    /// Whether the cluster satisfies it now.
    pub met: bool,
    /// Why it is not met yet (or what was seen when it is).
    pub reason: Text,
}

/// A "predict, then run" question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionView {
    /// The question.
    pub question: Text,
    /// The choices.
    pub choices: Vec<Text>,
    /// The learner's answer, once given.
    pub answered: Option<usize>,
    /// Whether it was right, once answered.
    pub correct: Option<bool>,
    /// The explanation, once answered.
    pub explanation: Option<Text>,
}

/// The answer to a prediction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionResult {
    /// Whether the learner's choice was right.
    pub correct: bool,
    /// The right choice.
    pub answer: usize,
    /// Why.
    pub explanation: Text,
}

/// One step of an exercise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    /// Stable id within the exercise.
    pub id: String,
    /// Its title.
    pub title: Text,
    /// The explanation (Markdown).
    pub text: Text,
    /// The one-click action, if the step has one.
    pub action: Option<ActionView>,
    /// The commands a learner could type instead.
    pub kubectl: Vec<String>,
    /// Its checks, live.
    pub checks: Vec<CheckView>,
    /// A question to answer before running.
    pub prediction: Option<PredictionView>,
    /// A hint for when the checks do not turn green.
    pub hint: Option<Text>,
    /// The solution, shown on request.
    pub solution: Option<Text>,
    /// Whether the learner has completed it (its checks were all met).
    pub done: bool,
}

/// An exercise opened in the step view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExerciseView {
    /// Its summary (id, title, progress).
    pub summary: ExerciseSummary,
    /// The introduction (Markdown).
    pub intro: Text,
    /// The steps in order.
    pub steps: Vec<StepView>,
    /// The step to resume at.
    pub current_step: usize,
}

/// What running a step's action did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// What kubectl would have printed (standard output then standard error), identical in both languages.
    pub output: String,
    /// A sentence on what happened and what to look at next.
    pub message: Text,
    /// The failure, when the action failed (the output shows what happened before it).
    pub error: Option<ErrorView>,
    /// The diff, for a diff action.
    pub diff: Option<DiffView>,
    /// The port-forward started, for a port-forward action.
    pub port_forward: Option<PortForwardView>,
    /// The exec session opened, for a terminal action.
    pub stream: Option<StreamId>,
    /// The step's checks right after the action.
    pub checks: Vec<CheckView>,
}

/// What resetting an exercise removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetReport {
    /// The objects deleted, as kubectl names them.
    pub removed: Vec<String>,
    /// A closing sentence.
    pub message: Text,
}

//! Builds the step view from an exercise, its live verdicts and the learner's progress.

use super::checks::Verdict;
use super::live_checks::CheckAt;
use super::load::Exercise;
use super::model::{Action, Step};
use super::progress::ExerciseProgress;
use super::session::{Compiled, check_view, prediction_view};
use crate::error::{Error, Result};
use gitops_lab_protocol::{ActionView, CheckView, FileView, StepView, Text};
use std::collections::BTreeMap;

/// A step by index, or an error naming the range.
pub fn step_of(exercise: &Exercise, step: usize) -> Result<&Step> {
    exercise.file.steps.get(step).ok_or_else(|| {
        Error::explained(
            "unknown-step",
            Text::new(
                format!("The exercise {} has no step {step} (it has {}).", exercise.file.id, exercise.file.steps.len()),
                format!("练习 {} 没有第 {step} 步（共 {} 步）。", exercise.file.id, exercise.file.steps.len()),
            ),
            None,
        )
    })
}

/// One step as the UI shows it.
pub fn step_view(
    index: usize,
    step: &Step,
    files_root: Option<&std::path::Path>,
    compiled: Option<&Compiled>,
    verdicts: &BTreeMap<CheckAt, Verdict>,
    progress: &ExerciseProgress,
) -> StepView {
    let checks: Vec<CheckView> = match compiled {
        Some(compiled) => compiled.steps[index]
            .iter()
            .enumerate()
            .map(|(i, check)| {
                let verdict =
                    verdicts.get(&(index, i)).cloned().unwrap_or(Verdict {
                        met: false,
                        reason: Text::new("Reading the cluster…", "正在读取集群状态…"),
                    });
                check_view(check, &verdict)
            })
            .collect(),
        None => step
            .checks
            .iter()
            .enumerate()
            .map(|(i, c)| CheckView {
                id: c.id.clone().unwrap_or_else(|| format!("check-{}", i + 1)),
                description: c.description.as_ref().map(|d| d.text()).unwrap_or_else(|| Text::same("…")),
                met: false,
                reason: Text::new("Open the exercise to follow its checks.", "打开练习后即可实时查看检查结果。"),
            })
            .collect(),
    };
    let commands = if step.commands.is_empty() {
        step.action.as_ref().map(|a| a.kubectl.clone()).unwrap_or_default()
    } else {
        step.commands.clone()
    };
    StepView {
        id: step.id.clone(),
        title: step.title.text(),
        text: step.text.text(),
        action: step.action.as_ref().map(|a| action_view(a, files_root)),
        kubectl: commands,
        checks,
        prediction: step.predict.as_ref().map(|p| prediction_view(p, progress.answers.get(&step.id).copied())),
        hint: step.hint.as_ref().map(|h| h.text()),
        solution: step.solution.as_ref().map(|s| s.text()),
        done: progress.done_steps.contains(&step.id),
    }
}

/// The button: its kind, label and the files it uses (read from the learner's copies under `files_root`).
pub fn action_view(action: &Action, files_root: Option<&std::path::Path>) -> ActionView {
    let (kind, label) = if !action.kubectl.is_empty() {
        let first = action.kubectl[0].split_whitespace().nth(1).unwrap_or("kubectl");
        let kind = match first {
            "port-forward" => "portForward",
            "exec" => "exec",
            "diff" => "diff",
            _ => "kubectl",
        };
        (kind, Text::new("Run", "运行"))
    } else if action.terminal.is_some() {
        ("terminal", Text::new("Open a terminal", "打开终端"))
    } else if action.diff.is_some() {
        ("diff", Text::new("Show the diff", "查看差异"))
    } else if action.git.is_some() {
        ("gitCommit", Text::new("Commit", "提交"))
    } else if action.sync.is_some() {
        ("sync", Text::new("Sync now", "立即同步"))
    } else if action.ci_bump.is_some() {
        ("ciBump", Text::new("Run the pipeline", "运行流水线"))
    } else if let Some(operator) = &action.operator {
        if operator.start.is_some() {
            ("operator", Text::new("Start the operator", "启动操作符"))
        } else {
            ("operator", Text::new("Stop the operator", "停止操作符"))
        }
    } else {
        ("edit", Text::new("Make the change", "修改文件"))
    };
    let mut names: Vec<String> = action
        .kubectl
        .iter()
        .filter_map(|line| crate::kubectl::parse_command_line(line).ok())
        .flat_map(|parsed| super::load::referenced_files(&parsed.verb))
        .collect();
    names.extend(action.diff.iter().cloned());
    names.extend(action.edit.iter().map(|e| e.file.clone()));
    names.extend(action.git.iter().flat_map(|g| g.files.values().cloned()));
    names.dedup();
    let files = files_root
        .map(|root| {
            names
                .iter()
                .filter_map(|n| {
                    std::fs::read_to_string(root.join(n)).ok().map(|content| FileView { name: n.clone(), content })
                })
                .collect()
        })
        .unwrap_or_default();
    ActionView { kind: kind.into(), label: action.label.as_ref().map(|l| l.text()).unwrap_or(label), files }
}

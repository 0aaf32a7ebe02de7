//! The open exercise: live check results and progress folded into the engine's exercise view.

use crate::protocol::{CheckView, ExerciseSummary, ExerciseView, StepOutcome};

/// Folds a check result pushed by the engine into the open exercise. Returns whether it applied
/// (the event may be about another exercise, or a step or check this view does not have).
pub fn apply_check(view: &mut ExerciseView, exercise: &str, step: usize, check: CheckView) -> bool {
    if view.summary.id != exercise {
        return false;
    }
    let Some(step) = view.steps.get_mut(step) else { return false };
    let Some(slot) = step.checks.iter_mut().find(|c| c.id == check.id) else { return false };
    *slot = check;
    true
}

/// Folds the checks reported with a step's outcome into the open exercise, except those for which
/// `newer` says a live check event arrived after the action was sent: the outcome's snapshot may be
/// older than that event, and the live state wins.
pub fn apply_outcome(view: &mut ExerciseView, step: usize, outcome: &StepOutcome, newer: impl Fn(&str) -> bool) {
    let Some(step) = view.steps.get_mut(step) else { return };
    for check in outcome.checks.iter().filter(|check| !newer(&check.id)) {
        if let Some(slot) = step.checks.iter_mut().find(|c| c.id == check.id) {
            *slot = check.clone();
        }
    }
}

/// Folds new progress into the open exercise (which steps are done) and into the navigator's list.
pub fn apply_progress(view: Option<&mut ExerciseView>, list: &mut Vec<ExerciseSummary>, summary: ExerciseSummary) {
    if let Some(view) = view.filter(|view| view.summary.id == summary.id) {
        for (index, step) in view.steps.iter_mut().enumerate() {
            step.done = step.done || index < summary.done_steps;
        }
        view.summary = summary.clone();
    }
    match list.iter_mut().find(|item| item.id == summary.id) {
        Some(item) => *item = summary,
        None => list.push(summary),
    }
}

/// Whether every check of a step is met (a step without checks is never "green").
pub fn all_met(checks: &[CheckView]) -> bool {
    !checks.is_empty() && checks.iter().all(|check| check.met)
}

/// The navigator's groups: exercises by chapter section, in the order the engine lists them.
pub fn by_section(list: &[ExerciseSummary]) -> Vec<(String, Vec<ExerciseSummary>)> {
    let mut groups: Vec<(String, Vec<ExerciseSummary>)> = Vec::new();
    for item in list {
        match groups.iter_mut().find(|(section, _)| *section == item.section) {
            Some((_, items)) => items.push(item.clone()),
            None => groups.push((item.section.clone(), vec![item.clone()])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ExerciseStatus, StepView, Text};

    fn check(id: &str, met: bool) -> CheckView {
        CheckView { id: id.into(), description: Text::same(id), met, reason: Text::same("") }
    }

    fn summary(id: &str, section: &str, done: usize) -> ExerciseSummary {
        ExerciseSummary {
            id: id.into(),
            section: section.into(),
            title: Text::same(id),
            summary: Text::same(""),
            steps: 2,
            done_steps: done,
            status: if done == 0 { ExerciseStatus::NotStarted } else { ExerciseStatus::InProgress },
        }
    }

    fn view() -> ExerciseView {
        let step = |id: &str| StepView {
            id: id.into(),
            title: Text::same(id),
            text: Text::same(""),
            action: None,
            kubectl: vec![],
            checks: vec![check("exists", false), check("running", false)],
            prediction: None,
            hint: None,
            solution: None,
            done: false,
        };
        ExerciseView {
            summary: summary("2.1-nginx-pod", "2.1", 0),
            intro: Text::same(""),
            steps: vec![step("a"), step("b")],
            current_step: 0,
        }
    }

    #[test]
    fn a_check_event_turns_its_check_green() {
        let mut view = view();
        assert!(apply_check(&mut view, "2.1-nginx-pod", 1, check("running", true)));
        assert!(view.steps[1].checks[1].met);
        assert!(!view.steps[0].checks[1].met);
    }

    #[test]
    fn check_events_for_other_exercises_or_unknown_checks_are_ignored() {
        let mut view = view();
        assert!(!apply_check(&mut view, "2.2-other", 0, check("running", true)));
        assert!(!apply_check(&mut view, "2.1-nginx-pod", 7, check("running", true)));
        assert!(!apply_check(&mut view, "2.1-nginx-pod", 0, check("missing", true)));
        assert!(view.steps.iter().all(|step| step.checks.iter().all(|c| !c.met)));
    }

    #[test]
    fn an_outcome_does_not_undo_a_newer_live_check() {
        let mut view = view();
        apply_check(&mut view, "2.1-nginx-pod", 0, check("exists", true));
        let outcome =
            StepOutcome { checks: vec![check("exists", false), check("running", true)], ..Default::default() };
        apply_outcome(&mut view, 0, &outcome, |id| id == "exists");
        assert!(view.steps[0].checks[0].met, "the live event is newer than the outcome");
        assert!(view.steps[0].checks[1].met, "checks without a newer event take the outcome's state");
    }

    #[test]
    fn progress_marks_steps_done_and_updates_the_navigator() {
        let mut view = view();
        let mut list = vec![summary("2.1-nginx-pod", "2.1", 0), summary("2.2-x", "2.2", 0)];
        apply_progress(Some(&mut view), &mut list, summary("2.1-nginx-pod", "2.1", 1));
        assert!(view.steps[0].done && !view.steps[1].done);
        assert_eq!(list[0].done_steps, 1);
        assert_eq!(list[1].done_steps, 0);
    }

    #[test]
    fn a_step_is_green_only_when_it_has_checks_and_all_are_met() {
        assert!(!all_met(&[]));
        assert!(!all_met(&[check("a", true), check("b", false)]));
        assert!(all_met(&[check("a", true)]));
    }

    #[test]
    fn exercises_group_by_section_in_order() {
        let list = vec![summary("a", "2.1", 0), summary("b", "2.2", 0), summary("c", "2.1", 0)];
        let groups = by_section(&list);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "2.1");
        assert_eq!(groups[0].1.len(), 2);
    }
}

//! What the board knows of one learner: their progress per exercise, the step they are on, the
//! checks of that step not met yet, and since when — followed from their engine's events.

use gitops_lab::protocol::{Event, ExerciseSummary, Text};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a learner is and what holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    /// The exercise.
    pub exercise: String,
    /// The step's index.
    pub step: usize,
    /// When they reached this step (seconds since the Unix epoch).
    pub since: u64,
    /// The step's checks not met yet, by id, with their description.
    pub waiting_on: BTreeMap<String, Text>,
}

#[derive(Default)]
struct Track {
    progress: BTreeMap<String, ExerciseSummary>,
    position: Option<Position>,
}

/// One learner's board line, updated from their engine's events (a std mutex: never held across
/// an await).
#[derive(Default)]
pub struct Tracker {
    track: Mutex<Track>,
}

impl Tracker {
    /// A tracker starting from the progress last saved.
    pub fn with_progress(progress: Vec<ExerciseSummary>) -> Tracker {
        let progress = progress.into_iter().map(|s| (s.id.clone(), s)).collect();
        Tracker { track: Mutex::new(Track { progress, position: None }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Track> {
        self.track.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine started: its progress as a whole, and where the learner left off.
    pub fn started(&self, summaries: Vec<ExerciseSummary>, resume: Option<(String, usize)>) {
        let mut track = self.lock();
        track.progress = summaries.into_iter().map(|s| (s.id.clone(), s)).collect();
        if let Some((exercise, step)) = resume {
            move_to(&mut track, &exercise, step);
        }
    }

    /// Takes one event in; says whether the progress changed (worth saving).
    pub fn absorb(&self, event: &Event) -> bool {
        let mut track = self.lock();
        match event {
            Event::Progress(summary) => {
                move_to(&mut track, &summary.id, summary.done_steps);
                track.progress.insert(summary.id.clone(), summary.clone());
                true
            }
            Event::Check { exercise, step, check } => {
                move_to(&mut track, exercise, *step);
                if let Some(position) = track.position.as_mut() {
                    if check.met {
                        position.waiting_on.remove(&check.id);
                    } else {
                        position.waiting_on.insert(check.id.clone(), check.description.clone());
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// The progress, in chapter order of the ids.
    pub fn progress(&self) -> Vec<ExerciseSummary> {
        self.lock().progress.values().cloned().collect()
    }

    /// Where the learner is.
    pub fn position(&self) -> Option<Position> {
        self.lock().position.clone()
    }
}

/// A new step resets the clock and the unmet checks; the same step keeps them.
fn move_to(track: &mut Track, exercise: &str, step: usize) {
    if track.position.as_ref().is_some_and(|p| p.exercise == exercise && p.step == step) {
        return;
    }
    track.position = Some(Position { exercise: exercise.to_string(), step, since: now(), waiting_on: BTreeMap::new() });
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_lab::protocol::{CheckView, ExerciseStatus};

    fn check(id: &str, met: bool) -> Event {
        Event::Check {
            exercise: "2.1".into(),
            step: 1,
            check: CheckView { id: id.into(), description: Text::same(id), met, reason: Text::same("") },
        }
    }

    fn summary(done: usize) -> ExerciseSummary {
        ExerciseSummary {
            id: "2.1".into(),
            section: "2.1".into(),
            title: Text::same("t"),
            summary: Text::same("s"),
            steps: 3,
            done_steps: done,
            status: ExerciseStatus::InProgress,
        }
    }

    #[test]
    fn unmet_checks_are_followed_until_the_step_is_done() {
        let tracker = Tracker::default();
        assert!(!tracker.absorb(&check("pod-running", false)));
        tracker.absorb(&check("page-served", false));
        tracker.absorb(&check("page-served", true));
        let position = tracker.position().unwrap();
        assert_eq!((position.exercise.as_str(), position.step), ("2.1", 1));
        assert_eq!(position.waiting_on.keys().collect::<Vec<_>>(), ["pod-running"]);
        assert!(tracker.absorb(&Event::Progress(summary(2))));
        let position = tracker.position().unwrap();
        assert_eq!(position.step, 2);
        assert!(position.waiting_on.is_empty());
        assert_eq!(tracker.progress()[0].done_steps, 2);
        // A reset reaches the board as the engine's fresh line, in order after every earlier event.
        let mut fresh = summary(0);
        fresh.status = ExerciseStatus::NotStarted;
        assert!(tracker.absorb(&Event::Progress(fresh)));
        assert_eq!(tracker.progress()[0].done_steps, 0);
        assert_eq!(tracker.position().map(|p| p.step), Some(0));
    }
}

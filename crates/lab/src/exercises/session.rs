//! One learner's exercises: the catalog, progress on the current cluster, and the open exercise
//! whose checks are evaluated live. The engine's exercise area and the headless CLI both use it.

use super::checks::{CheckContext, CompiledCheck, Verdict, compile, evaluate};
use super::gitops_port::GitOpsPort;
use super::live_checks::{CheckAt, LiveChecks, OnChange, http_verdict, step_met};
use super::load::{Exercise, ExerciseError, load_all};
use super::progress::{ExerciseProgress, ProgressStore};
use crate::bus::EventBus;
use crate::cluster::{ClusterHandle, Connection};
use crate::config::EngineConfig;
use crate::error::{Error, Result};
use crate::gitops::templates::NAMES as REPOS;
use crate::kubectl::Kubectl;
use crate::live::Live;
use crate::operator::OperatorRunner;
use gitops_lab_protocol::{
    CheckView, Event, ExerciseStatus, ExerciseSummary, ExerciseView, PredictionResult, PredictionView, Text,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The label every object an exercise's actions create carries, so reset removes exactly those.
pub const EXERCISE_LABEL: &str = "gitops-lab.dev/exercise";
/// Where the verify checks sit in [`CheckAt`] (after every step).
pub const VERIFY: usize = usize::MAX;

/// An exercise with its checks resolved against one cluster.
pub struct Compiled {
    /// The exercise.
    pub exercise: Exercise,
    /// Each step's checks.
    pub steps: Vec<Vec<CompiledCheck>>,
    /// What `check` verifies.
    pub verify: Vec<CompiledCheck>,
}

impl Compiled {
    /// Resolves every check of `exercise`.
    pub async fn new(kubectl: &Kubectl, exercise: &Exercise) -> Result<Compiled> {
        let ns = exercise.namespace();
        let mut steps = Vec::new();
        for step in &exercise.file.steps {
            steps.push(compile(kubectl, ns, &step.checks).await?);
        }
        let verify = if exercise.file.verify.is_empty() {
            steps.last().cloned().unwrap_or_default()
        } else {
            compile(kubectl, ns, &exercise.file.verify).await?
        };
        Ok(Compiled { exercise: exercise.clone(), steps, verify })
    }

    fn all(&self) -> Vec<(CheckAt, CompiledCheck)> {
        let steps = self
            .steps
            .iter()
            .enumerate()
            .flat_map(|(s, checks)| checks.iter().enumerate().map(move |(i, c)| ((s, i), c.clone())));
        let verify = self.verify.iter().enumerate().map(|(i, c)| ((VERIFY, i), c.clone()));
        steps.chain(verify).collect()
    }
}

struct Opened {
    id: String,
    server: String,
    compiled: Arc<Compiled>,
    checks: LiveChecks,
    completion: tokio::task::JoinHandle<()>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.completion.abort();
    }
}

/// The exercises of one engine.
pub struct Exercises {
    pub(super) config: EngineConfig,
    pub(super) bus: EventBus,
    pub(super) connection: Arc<Connection>,
    pub(super) live: Arc<Live>,
    pub(super) operator: Arc<OperatorRunner>,
    pub(super) gitops: Arc<dyn GitOpsPort>,
    /// The heads of the repositories when each step began, by exercise id and step.
    pub(super) heads: Mutex<HashMap<(String, usize), BTreeMap<String, String>>>,
    catalog: Vec<Exercise>,
    problems: Vec<ExerciseError>,
    progress: Mutex<Option<(String, Arc<ProgressStore>)>>,
    opened: tokio::sync::Mutex<Option<Opened>>,
    /// The last output of each step's action, by exercise id and step.
    pub(super) outputs: Mutex<HashMap<(String, usize), String>>,
}

impl Exercises {
    /// Loads the catalog from the configured folder.
    pub fn new(
        config: EngineConfig,
        bus: EventBus,
        connection: Arc<Connection>,
        live: Arc<Live>,
        operator: Arc<OperatorRunner>,
        gitops: Arc<dyn GitOpsPort>,
    ) -> Exercises {
        let (catalog, problems) = load_all(&config.exercises_dir);
        Exercises {
            config,
            bus,
            connection,
            live,
            operator,
            gitops,
            heads: Mutex::new(HashMap::new()),
            catalog,
            problems,
            progress: Mutex::new(None),
            opened: tokio::sync::Mutex::new(None),
            outputs: Mutex::new(HashMap::new()),
        }
    }

    /// Exercises that could not be loaded, with why.
    pub fn problems(&self) -> &[ExerciseError] {
        &self.problems
    }

    /// The exercises, in chapter order.
    pub fn catalog(&self) -> &[Exercise] {
        &self.catalog
    }

    /// An exercise by id, or an error listing the ids.
    pub fn find(&self, id: &str) -> Result<&Exercise> {
        self.catalog.iter().find(|e| e.file.id == id).ok_or_else(|| {
            let known: Vec<&str> = self.catalog.iter().map(|e| e.file.id.as_str()).collect();
            Error::explained(
                "unknown-exercise",
                Text::new(
                    format!("There is no exercise \"{id}\" (there are: {}).", known.join(", ")),
                    format!("没有名为“{id}”的练习（现有：{}）。", known.join("、")),
                ),
                Some(Text::new("`gitops-lab exercises list` shows them.", "`gitops-lab exercises list` 会列出它们。")),
            )
        })
    }

    /// The progress file of the current cluster.
    pub fn progress_store(&self) -> Result<Arc<ProgressStore>> {
        let choice = self.connection.status().choice;
        let key = super::progress::file_name(&choice);
        let mut slot = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((current, store)) = slot.as_ref()
            && *current == key
        {
            return Ok(store.clone());
        }
        let (store, note) = ProgressStore::open(&self.config.progress_dir(), &choice)?;
        if let Some(note) = note {
            self.bus.publish(Event::Notice { level: "warning".into(), message: Text::new(note.clone(), note) });
        }
        let store = Arc::new(store);
        *slot = Some((key, store.clone()));
        Ok(store)
    }

    fn exercise_progress(&self, id: &str) -> ExerciseProgress {
        self.progress_store().ok().and_then(|s| s.get().exercises.get(id).cloned()).unwrap_or_default()
    }

    /// The navigator's line of an exercise.
    pub fn summary(&self, exercise: &Exercise) -> ExerciseSummary {
        summarize(exercise, &self.exercise_progress(&exercise.file.id))
    }

    /// Every exercise's summary.
    pub fn summaries(&self) -> Vec<ExerciseSummary> {
        self.catalog.iter().map(|e| self.summary(e)).collect()
    }

    /// Where the learner left off.
    pub fn resume_point(&self) -> Option<(String, usize)> {
        self.progress_store().ok()?.get().last
    }

    /// Opens an exercise: its checks start following the cluster, and its view comes back.
    pub async fn open(&self, id: &str) -> Result<ExerciseView> {
        let handle = self.connection.require()?;
        self.ensure_open(id, &handle).await?;
        let current = self.exercise_progress(id).current_step;
        self.note_heads(id, current);
        let store = self.progress_store()?;
        store.update(|p| {
            let current = p.exercises.get(id).map(|e| e.current_step).unwrap_or(0);
            p.last = Some((id.to_string(), current));
        })?;
        self.view(id).await
    }

    /// Makes `id` the open exercise on the current cluster (compiling its checks if needed).
    pub(super) async fn ensure_open(&self, id: &str, handle: &ClusterHandle) -> Result<Arc<Compiled>> {
        let exercise = self.find(id)?.clone();
        let mut opened = self.opened.lock().await;
        if let Some(current) = opened.as_ref()
            && current.id == id
            && current.server == handle.server
        {
            return Ok(current.compiled.clone());
        }
        *opened = None;
        let kubectl = Kubectl::new(handle);
        let compiled = Arc::new(Compiled::new(&kubectl, &exercise).await?);
        let checks = LiveChecks::start(
            handle.client.clone(),
            exercise.namespace().to_string(),
            compiled.all(),
            self.publisher(id),
        );
        let completion = tokio::spawn(track_completion(
            checks.subscribe(),
            compiled.clone(),
            self.progress_store()?,
            self.bus.clone(),
        ));
        *opened = Some(Opened {
            id: id.to_string(),
            server: handle.server.clone(),
            compiled: compiled.clone(),
            checks,
            completion,
        });
        Ok(compiled)
    }

    fn publisher(&self, id: &str) -> OnChange {
        let bus = self.bus.clone();
        let id = id.to_string();
        Arc::new(move |at: CheckAt, check: &CompiledCheck, verdict: &Verdict| {
            if at.0 == VERIFY {
                return;
            }
            bus.publish(Event::Check { exercise: id.clone(), step: at.0, check: check_view(check, verdict) });
        })
    }

    /// The verdicts of the open exercise, if it is `id`.
    pub(super) async fn verdicts(&self, id: &str) -> Option<BTreeMap<CheckAt, Verdict>> {
        let opened = self.opened.lock().await;
        opened.as_ref().filter(|o| o.id == id).map(|o| o.checks.verdicts())
    }

    /// Remembers the repositories' heads when a step begins (once), for its gitHead checks.
    pub(super) fn note_heads(&self, id: &str, step: usize) {
        let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        heads
            .entry((id.to_string(), step))
            .or_insert_with(|| REPOS.iter().filter_map(|r| Some((r.to_string(), self.gitops.head(r)?))).collect());
    }

    /// A step's context now: its last output, and the repositories with a commit since it began.
    fn context(&self, id: &str, step: usize) -> CheckContext {
        let output = self.outputs.lock().unwrap_or_else(|e| e.into_inner()).get(&(id.to_string(), step)).cloned();
        let began = self.heads.lock().unwrap_or_else(|e| e.into_inner()).get(&(id.to_string(), step)).cloned();
        let changed_repos = REPOS
            .iter()
            .filter(|repo| {
                let now = self.gitops.head(repo);
                let then = began.as_ref().and_then(|b| b.get(**repo).cloned());
                began.is_some() && now.is_some() && now != then
            })
            .map(|r| r.to_string())
            .collect();
        CheckContext { last_output: output, changed_repos }
    }

    /// Gives a step's checks their context (the action's output, new commits) and runs HTTP checks again.
    pub(super) async fn refresh(&self, id: &str, step: usize) {
        let context = self.context(id, step);
        let opened = self.opened.lock().await;
        if let Some(open) = opened.as_ref().filter(|o| o.id == id) {
            open.checks.set_context(step, context);
            open.checks.refresh_http();
        }
    }

    /// After a commit through the lab: every step of the open exercise sees it.
    pub async fn commit_seen(&self) {
        let (id, steps) = {
            let opened = self.opened.lock().await;
            match opened.as_ref() {
                Some(open) => (open.id.clone(), open.compiled.steps.len()),
                None => return,
            }
        };
        for step in 0..steps {
            let context = self.context(&id, step);
            if let Some(open) = self.opened.lock().await.as_ref().filter(|o| o.id == id) {
                open.checks.set_context(step, context);
            }
        }
    }

    /// Waits until the open exercise's step `step` is met, or the timeout.
    pub async fn wait_step(&self, id: &str, step: usize, timeout: std::time::Duration) -> bool {
        let receiver = {
            let opened = self.opened.lock().await;
            match opened.as_ref().filter(|o| o.id == id) {
                Some(open) => open.checks.subscribe(),
                None => return false,
            }
        };
        let mut receiver = receiver;
        let wait = async {
            loop {
                if step_met(&receiver.borrow_and_update(), step) {
                    return true;
                }
                if receiver.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// The exercise as the step view shows it.
    pub async fn view(&self, id: &str) -> Result<ExerciseView> {
        let exercise = self.find(id)?;
        let progress = self.exercise_progress(id);
        let verdicts = self.verdicts(id).await.unwrap_or_default();
        let compiled = self.opened.lock().await.as_ref().filter(|o| o.id == id).map(|o| o.compiled.clone());
        let workspace = super::workspace::Workspace::open(&self.config.workspace_dir(), exercise)?;
        let steps = exercise
            .file
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                super::view::step_view(index, step, Some(&workspace.root), compiled.as_deref(), &verdicts, &progress)
            })
            .collect();
        Ok(ExerciseView {
            summary: self.summary(exercise),
            intro: exercise.file.intro.text(),
            steps,
            current_step: progress.current_step.min(exercise.file.steps.len().saturating_sub(1)),
        })
    }

    /// Records where the learner is.
    pub fn go_to_step(&self, id: &str, step: usize) -> Result<()> {
        let exercise = self.find(id)?;
        let step = step.min(exercise.file.steps.len().saturating_sub(1));
        self.note_heads(id, step);
        self.progress_store()?.update(|p| {
            p.exercises.entry(id.to_string()).or_default().current_step = step;
            p.last = Some((id.to_string(), step));
        })?;
        Ok(())
    }

    /// Answers a step's prediction (the first answer counts; later ones are told the same verdict).
    pub fn predict(&self, id: &str, step: usize, choice: usize) -> Result<PredictionResult> {
        let exercise = self.find(id)?;
        let step_file = super::view::step_of(exercise, step)?;
        let Some(predict) = &step_file.predict else {
            return Err(Error::explained(
                "no-prediction",
                Text::new("This step asks no question.", "这一步没有提问。"),
                None,
            ));
        };
        if choice >= predict.choices.len() {
            return Err(Error::explained(
                "bad-choice",
                Text::new(format!("There is no choice {choice}."), format!("没有第 {choice} 个选项。")),
                None,
            ));
        }
        let step_id = step_file.id.clone();
        let stored = self.progress_store()?.update(|p| {
            p.exercises.entry(id.to_string()).or_default().answers.entry(step_id.clone()).or_insert(choice);
        })?;
        let answered = stored.exercises.get(id).and_then(|e| e.answers.get(&step_id)).copied().unwrap_or(choice);
        Ok(PredictionResult {
            correct: answered == predict.answer,
            answer: predict.answer,
            explanation: predict.explanation.text(),
        })
    }

    /// Evaluates the exercise's verify checks once against the cluster (`exercises check`).
    pub async fn check(&self, id: &str) -> Result<Vec<CheckView>> {
        let handle = self.connection.require()?;
        let exercise = self.find(id)?.clone();
        let compiled = Compiled::new(&Kubectl::new(&handle), &exercise).await?;
        let snapshot = super::snapshot::read(&handle.client, &compiled.verify).await?;
        let mut views = Vec::new();
        for check in &compiled.verify {
            let verdict = match &check.condition {
                super::checks::Condition::Http { target, port, path, contains } => {
                    let ns = target.namespace.clone().unwrap_or_else(|| exercise.namespace().to_string());
                    let object = gitops_lab_protocol::ObjectRef::new(
                        &target.resource.api_version,
                        &target.resource.kind,
                        Some(&ns),
                        target.name.as_deref().unwrap_or_default(),
                    );
                    http_verdict(&handle.client, &ns, &object, *port, path, contains).await
                }
                condition => evaluate(condition, &snapshot, &CheckContext::default()),
            };
            views.push(check_view(check, &verdict));
        }
        Ok(views)
    }

    /// Closes exercise `id` if it is the open one: its live checks stop and no longer mark steps
    /// done. Reset closes first, so that verdicts still describing objects it is deleting (a
    /// watcher can lag behind the delete) cannot mark a step done again after the progress went.
    pub(super) async fn close(&self, id: &str) {
        let mut opened = self.opened.lock().await;
        if opened.as_ref().is_some_and(|o| o.id == id) {
            *opened = None;
        }
    }

    /// Forgets an exercise's progress and its outputs, and announces its fresh line (the
    /// navigator and the workshop board follow the event stream, in order).
    pub(super) fn forget(&self, id: &str) -> Result<()> {
        let exercise = self.find(id)?;
        self.progress_store()?.update(|p| {
            p.exercises.remove(id);
            if p.last.as_ref().is_some_and(|(e, _)| e == id) {
                p.last = None;
            }
        })?;
        self.outputs.lock().unwrap_or_else(|e| e.into_inner()).retain(|(e, _), _| e != id);
        self.heads.lock().unwrap_or_else(|e| e.into_inner()).retain(|(e, _), _| e != id);
        self.bus.publish(Event::Progress(summarize(exercise, &ExerciseProgress::default())));
        Ok(())
    }

    /// Marks a step without checks done (its action succeeded), and what follows if met.
    pub(super) fn mark_done(&self, id: &str, step: usize) -> Result<()> {
        let exercise = self.find(id)?;
        let step_id = super::view::step_of(exercise, step)?.id.clone();
        let stored = self.progress_store()?.update(|p| {
            let entry = p.exercises.entry(id.to_string()).or_default();
            entry.done_steps.insert(step_id.clone());
        })?;
        if let Some(progress) = stored.exercises.get(id) {
            self.bus.publish(Event::Progress(summarize(exercise, progress)));
        }
        Ok(())
    }
}

/// The navigator's line of an exercise from its progress.
pub fn summarize(exercise: &Exercise, progress: &ExerciseProgress) -> ExerciseSummary {
    let steps = exercise.file.steps.len();
    let done = exercise.file.steps.iter().filter(|s| progress.done_steps.contains(&s.id)).count();
    let status = if done == steps && steps > 0 {
        ExerciseStatus::Completed
    } else if done > 0 || !progress.answers.is_empty() || progress.current_step > 0 {
        ExerciseStatus::InProgress
    } else {
        ExerciseStatus::NotStarted
    };
    ExerciseSummary {
        id: exercise.file.id.clone(),
        section: exercise.file.section.clone(),
        title: exercise.file.title.text(),
        summary: exercise.file.summary.text(),
        steps,
        done_steps: done,
        status,
    }
}

/// A check as the UI shows it.
pub fn check_view(check: &CompiledCheck, verdict: &Verdict) -> CheckView {
    CheckView {
        id: check.id.clone(),
        description: check.description.clone(),
        met: verdict.met,
        reason: verdict.reason.clone(),
    }
}

/// Marks the steps whose checks are met as done, in order; whether anything changed.
fn advance(progress: &mut ExerciseProgress, compiled: &Compiled, current: &BTreeMap<CheckAt, Verdict>) -> bool {
    let before = progress.clone();
    let steps = &compiled.exercise.file.steps;
    for (index, step) in steps.iter().enumerate() {
        if progress.done_steps.contains(&step.id) {
            continue;
        }
        if compiled.steps[index].is_empty() || !step_met(current, index) {
            break;
        }
        progress.done_steps.insert(step.id.clone());
        progress.current_step = progress.current_step.max((index + 1).min(steps.len() - 1));
    }
    if progress.done_steps.len() == steps.len() && progress.completed.is_none() {
        progress.completed = Some(jiff::Timestamp::now().to_string());
    }
    *progress != before
}

/// Marks steps done, in order, as their checks are met; tells the UI.
async fn track_completion(
    mut verdicts: tokio::sync::watch::Receiver<BTreeMap<CheckAt, Verdict>>,
    compiled: Arc<Compiled>,
    store: Arc<ProgressStore>,
    bus: EventBus,
) {
    let id = compiled.exercise.file.id.clone();
    loop {
        let current = verdicts.borrow_and_update().clone();
        // Read and change under the store's lock: a copy taken outside it would write back stale
        // answers over a prediction made meanwhile.
        let mut advanced = None;
        let saved = store.update(|p| {
            let mut progress = p.exercises.get(&id).cloned().unwrap_or_default();
            if advance(&mut progress, &compiled, &current) {
                p.exercises.insert(id.clone(), progress.clone());
                advanced = Some(progress);
            }
        });
        if let (Ok(_), Some(progress)) = (saved, advanced) {
            bus.publish(Event::Progress(summarize(&compiled.exercise, &progress)));
        }
        if verdicts.changed().await.is_err() {
            return;
        }
    }
}

/// A prediction as the step view shows it.
pub fn prediction_view(predict: &super::model::Prediction, answered: Option<usize>) -> PredictionView {
    PredictionView {
        question: predict.question.text(),
        choices: predict.choices.iter().map(|c| c.text()).collect(),
        answered,
        correct: answered.map(|a| a == predict.answer),
        explanation: answered.map(|_| predict.explanation.text()),
    }
}

/// Tells the open exercise about every commit made through the lab, for its gitHead checks.
pub async fn follow_commits(exercises: std::sync::Weak<Exercises>) {
    let Some(mut commits) = exercises.upgrade().map(|e| e.gitops.commits()) else { return };
    loop {
        match commits.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => match exercises.upgrade() {
                Some(exercises) => exercises.commit_seen().await,
                None => return,
            },
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

//! The exercise file format (schema 1), as serde types. `docs/exercises.md` documents every field;
//! `exercises/` holds the chapter's exercises written in it.

use gitops_lab_protocol::Text;
use serde::Deserialize;

/// The schema version this build reads.
pub const SCHEMA: u32 = 1;

/// A text in both languages, as exercise files write it (`en:` and `zh-CN:`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// English.
    pub en: String,
    /// Simplified Chinese.
    #[serde(rename = "zh-CN")]
    pub zh: String,
}

impl Bilingual {
    /// As the protocol carries it.
    pub fn text(&self) -> Text {
        Text::new(self.en.trim_end(), self.zh.trim_end())
    }
}

/// One exercise file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseFile {
    /// The schema version (1).
    pub schema: u32,
    /// Stable id, e.g. `2.1-nginx-pod`; the folder's name.
    pub id: String,
    /// The chapter section, e.g. `2.1`.
    pub section: String,
    /// Sorts exercises of the same section (smaller first).
    #[serde(default)]
    pub order: i32,
    /// The title.
    pub title: Bilingual,
    /// One sentence for the navigator.
    pub summary: Bilingual,
    /// The introduction (Markdown).
    pub intro: Bilingual,
    /// The namespace the exercise works in (`default` when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Objects reset removes besides the labelled ones (made by the learner's own kubectl).
    #[serde(default)]
    pub cleanup: Vec<ObjectSpec>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// What `gitops-lab exercises check` verifies: the state a completed exercise leaves. The last
    /// step's checks when absent.
    #[serde(default)]
    pub verify: Vec<Check>,
}

/// One step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id within the exercise.
    pub id: String,
    /// The title.
    pub title: Bilingual,
    /// The explanation (Markdown).
    pub text: Bilingual,
    /// A "predict, then run" question.
    #[serde(default)]
    pub predict: Option<Prediction>,
    /// What the one-click button does.
    #[serde(default)]
    pub action: Option<Action>,
    /// What the learner could type instead (the action's kubectl lines when absent).
    #[serde(default)]
    pub commands: Vec<String>,
    /// Conditions on the cluster that say the step is done.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// A hint for when a check stays red.
    #[serde(default)]
    pub hint: Option<Bilingual>,
    /// The solution.
    #[serde(default)]
    pub solution: Option<Bilingual>,
}

/// A question asked before the step runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    /// The question.
    pub question: Bilingual,
    /// The choices.
    pub choices: Vec<Bilingual>,
    /// The index of the right choice.
    pub answer: usize,
    /// Why it is right.
    pub explanation: Bilingual,
}

/// What a step's button does. Exactly one field is set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Action {
    /// The button's label (generated from the action when absent).
    #[serde(default)]
    pub label: Option<Bilingual>,
    /// kubectl command lines run in order through the engine (files relative to the exercise).
    #[serde(default)]
    pub kubectl: Vec<String>,
    /// Keep going after a failed line, as a shell script without `set -e` does.
    #[serde(default)]
    pub continue_on_error: bool,
    /// Open an interactive terminal in a container.
    #[serde(default)]
    pub terminal: Option<TerminalAction>,
    /// Show the three-way diff of a file against the cluster.
    #[serde(default)]
    pub diff: Option<String>,
    /// Change the learner's copy of a file.
    #[serde(default)]
    pub edit: Option<EditAction>,
    /// Start or stop the lab's Rust NGINX operator.
    #[serde(default)]
    pub operator: Option<OperatorAction>,
    /// Commit to one of the learner's git repositories.
    #[serde(default)]
    pub git: Option<GitAction>,
    /// Configure the lab's own sync loop and sync once.
    #[serde(default)]
    pub sync: Option<SyncAction>,
    /// Run the CI bump (section 2.5.2).
    #[serde(default)]
    pub ci_bump: Option<CiBumpAction>,
}

/// A commit: files copied from the exercise, an edit of a repository file, or a revert of the head.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitAction {
    /// The repository (`config`, `sample-app`).
    pub repo: String,
    /// The commit message.
    #[serde(default)]
    pub message: Option<String>,
    /// Repository path → the exercise file whose (learner's) copy becomes its content.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
    /// An edit of a file of the repository's head.
    #[serde(default)]
    pub edit: Option<EditAction>,
    /// Revert the head commit instead.
    #[serde(default)]
    pub revert: bool,
}

/// The lab's sync loop.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncAction {
    /// The repository: a name (`config`) or a URL.
    pub repo: String,
    /// The directory of manifests (`.` when absent).
    #[serde(default)]
    pub path: Option<String>,
    /// Delete what was removed from git.
    #[serde(default)]
    pub prune: bool,
    /// Keep syncing on every new commit.
    #[serde(default)]
    pub auto: bool,
}

/// The CI bump.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiBumpAction {
    /// The sample-app commit's message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The lab's operator: `{start: nginx, namespace: sites}` or `{stop: nginx}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorAction {
    /// The operator to start (`nginx`).
    #[serde(default)]
    pub start: Option<String>,
    /// The operator to stop (`nginx`).
    #[serde(default)]
    pub stop: Option<String>,
    /// The namespace it watches (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// An interactive terminal.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalAction {
    /// The pod: `NAME`, or an owner whose ready pod to use (`deployment/web`).
    pub pod: String,
    /// The container (the pod's first when absent).
    #[serde(default)]
    pub container: Option<String>,
    /// The command (`sh` when absent).
    #[serde(default)]
    pub command: Vec<String>,
}

/// A text replacement in one of the exercise's files (the learner's copy).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditAction {
    /// The file.
    pub file: String,
    /// The text to find (exactly once).
    pub replace: String,
    /// What to put instead.
    pub with: String,
}

/// Names one object (or, with `selector`, the pods it selects).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectSpec {
    /// `Pod`, `Deployment`, … (resolved through discovery).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name (`app=nginx`).
    #[serde(default)]
    pub selector: Option<String>,
}

/// A declarative condition on the cluster (or on what the last action printed). Exactly one kind.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Check {
    /// Stable id within the step (generated from the kind when absent).
    #[serde(default)]
    pub id: Option<String>,
    /// What it checks, in plain words (generated when absent).
    #[serde(default)]
    pub description: Option<Bilingual>,
    /// The object exists.
    #[serde(default)]
    pub exists: Option<ObjectSpec>,
    /// The object does not exist.
    #[serde(default)]
    pub absent: Option<ObjectSpec>,
    /// A field of the object has a value.
    #[serde(default)]
    pub field: Option<FieldCheck>,
    /// Pods (by name or selector) are in a phase.
    #[serde(default)]
    pub pod_phase: Option<PodPhaseCheck>,
    /// A workload has this many ready replicas.
    #[serde(default)]
    pub ready_replicas: Option<ReadyReplicasCheck>,
    /// The object carries an annotation (with a value, if given).
    #[serde(default)]
    pub annotation: Option<AnnotationCheck>,
    /// An HTTP GET through a port-forward answers with a text.
    #[serde(default)]
    pub http: Option<HttpCheck>,
    /// A Kubernetes Event was seen.
    #[serde(default)]
    pub event: Option<EventCheck>,
    /// The step's last action printed a text.
    #[serde(default)]
    pub output: Option<OutputCheck>,
    /// A repository's head commit changed since the step was opened.
    #[serde(default)]
    pub git_head: Option<GitHeadCheck>,
}

/// `field:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FieldCheck {
    /// The object's kind (`Pod`, `Deployment`, …).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name.
    #[serde(default)]
    pub selector: Option<String>,
    /// A dotted path, with `[0]` for an index or `[name=nginx]` for an item: `status.containerStatuses[0].restartCount`.
    pub path: String,
    /// The value equals this (compared as text).
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    /// The number is at least this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// The text contains this.
    #[serde(default)]
    pub contains: Option<String>,
    /// The field is absent (`true`) or present (`false`).
    #[serde(default)]
    pub absent: Option<bool>,
}

/// `podPhase:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodPhaseCheck {
    /// The object's kind (`Pod`, `Deployment`, …).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name.
    #[serde(default)]
    pub selector: Option<String>,
    /// `Pending`, `Running`, `Succeeded`, `Failed`.
    pub phase: String,
    /// With `Running`: every container ready too.
    #[serde(default)]
    pub ready: bool,
}

/// `readyReplicas:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadyReplicasCheck {
    /// The object's kind (`Pod`, `Deployment`, …).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name.
    #[serde(default)]
    pub selector: Option<String>,
    /// How many.
    pub count: i64,
}

/// `annotation:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AnnotationCheck {
    /// The object's kind (`Pod`, `Deployment`, …).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name.
    #[serde(default)]
    pub selector: Option<String>,
    /// The annotation's key.
    pub key: String,
    /// Its value, if it matters.
    #[serde(default)]
    pub value: Option<String>,
}

/// `http:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCheck {
    /// `pod/NAME` or an owner such as `deployment/NAME` (one of its ready pods).
    pub target: String,
    /// The container port.
    pub port: u16,
    /// The path (`/` when absent).
    #[serde(default)]
    pub path: Option<String>,
    /// The body contains this.
    pub contains: String,
    /// The namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `event:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventCheck {
    /// The event's reason (`Killing`, `Started`, `ScalingReplicaSet`).
    pub reason: String,
    /// The object's kind (`Pod`, `Deployment`, …).
    #[serde(default)]
    pub kind: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Its namespace (the exercise's when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// A label selector instead of a name.
    #[serde(default)]
    pub selector: Option<String>,
    /// At least this many times (its count; 1 when absent).
    #[serde(default)]
    pub at_least: Option<u32>,
}

/// `output:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputCheck {
    /// The text.
    pub contains: String,
}

/// `gitHead:`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitHeadCheck {
    /// The repository's name (`config`, `sample-app`).
    pub repo: String,
}

/// The object part of a check, whichever check it is.
pub trait NamesObject {
    /// The object named.
    fn object(&self) -> ObjectSpec;
}

macro_rules! names_object {
    ($($t:ty),*) => {$(
        impl NamesObject for $t {
            fn object(&self) -> ObjectSpec {
                ObjectSpec {
                    kind: self.kind.clone(),
                    name: self.name.clone(),
                    namespace: self.namespace.clone(),
                    selector: self.selector.clone(),
                }
            }
        }
    )*};
}

names_object!(FieldCheck, PodPhaseCheck, ReadyReplicasCheck, AnnotationCheck, EventCheck);

//! Checks: compiled once from the exercise file (kinds resolved through discovery), then evaluated
//! against a [`Snapshot`] of the objects they name — from live watches while an exercise is open,
//! or from one LIST each for `gitops-lab exercises check`. Evaluation is pure and says, in both
//! languages, why a check is not met yet.

use super::model::{self, NamesObject, ObjectSpec};
use super::path::{Segment, lookup, parse_path};
use crate::error::Result;
use crate::kubectl::Kubectl;
use gitops_lab_protocol::Text;
use kube::core::ApiResource;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a check looks at: one type in one namespace (or a cluster-scoped type).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// `apps/v1`.
    pub api_version: String,
    /// `deployments`.
    pub plural: String,
    /// The namespace, for namespaced types.
    pub namespace: Option<String>,
}

/// The objects a check can see, by source.
pub type Snapshot = BTreeMap<Source, Vec<Value>>;

/// The objects a check names.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The type.
    pub resource: ApiResource,
    /// The namespace, for namespaced types.
    pub namespace: Option<String>,
    /// One object by name…
    pub name: Option<String>,
    /// …or every object with these labels.
    pub labels: Vec<(String, String)>,
}

impl Selection {
    /// Where its objects come from.
    pub fn source(&self) -> Source {
        Source {
            api_version: self.resource.api_version.clone(),
            plural: self.resource.plural.clone(),
            namespace: self.namespace.clone(),
        }
    }

    fn matches(&self, object: &Value) -> bool {
        let name_ok =
            self.name.as_deref().is_none_or(|n| object.pointer("/metadata/name").and_then(Value::as_str) == Some(n));
        let labels = object.pointer("/metadata/labels");
        name_ok && self.labels.iter().all(|(k, v)| labels.and_then(|l| l.get(k)).and_then(Value::as_str) == Some(v))
    }

    /// The selected objects of a snapshot; `None` while the source has not been read yet.
    pub fn pick<'a>(&self, snapshot: &'a Snapshot) -> Option<Vec<&'a Value>> {
        let objects = snapshot.get(&self.source())?;
        Some(objects.iter().filter(|o| self.matches(o)).collect())
    }

    /// How the learner would name it: `deployment web`, `pods app=web`.
    pub fn describe(&self) -> String {
        let kind = self.resource.kind.clone();
        match &self.name {
            Some(name) => format!("{kind} {name}"),
            None => {
                let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{kind}s with {}", labels.join(","))
            }
        }
    }

    fn where_(&self) -> String {
        self.namespace.as_deref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default()
    }
}

/// A check ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledCheck {
    /// Its id within the step.
    pub id: String,
    /// What it checks.
    pub description: Text,
    /// The condition.
    pub condition: Condition,
}

/// The conditions checks can state.
#[derive(Clone, Debug)]
pub enum Condition {
    /// At least one selected object exists.
    Exists(Selection),
    /// No selected object exists.
    Absent(Selection),
    /// A field of the selected object.
    Field {
        /// The object.
        selection: Selection,
        /// The field's path as written.
        path_text: String,
        /// The parsed path.
        path: Vec<Segment>,
        /// The test.
        test: FieldTest,
    },
    /// Every selected pod is in a phase (and ready).
    PodPhase {
        /// The pods.
        selection: Selection,
        /// The phase.
        phase: String,
        /// Also every container ready.
        ready: bool,
    },
    /// `status.readyReplicas` equals a count.
    ReadyReplicas {
        /// The workload.
        selection: Selection,
        /// The count.
        count: i64,
    },
    /// An annotation is present (with a value).
    Annotation {
        /// The object.
        selection: Selection,
        /// The key.
        key: String,
        /// The value, if it matters.
        value: Option<String>,
    },
    /// An HTTP GET through a port-forward answers with a text (evaluated by the runner, which does I/O).
    Http {
        /// The pod or owner.
        target: Selection,
        /// The container port.
        port: u16,
        /// The path.
        path: String,
        /// The text.
        contains: String,
    },
    /// An Event was seen.
    Event {
        /// Where events are read.
        events: Selection,
        /// The reason.
        reason: String,
        /// The object's kind, if it matters.
        kind: Option<String>,
        /// The object's name, if it matters.
        name: Option<String>,
        /// At least this many.
        at_least: u32,
    },
    /// The step's last output contains a text.
    Output(String),
    /// A repository's head changed since the step began.
    GitHead(String),
}

/// A field test.
#[derive(Clone, Debug)]
pub enum FieldTest {
    /// Equal, compared as text.
    Equals(Value),
    /// A number at least this.
    AtLeast(f64),
    /// A text containing this.
    Contains(String),
    /// Absent (`true`) or present (`false`).
    Absent(bool),
}

/// What the check sees now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Met or not.
    pub met: bool,
    /// Why not (or what was seen).
    pub reason: Text,
}

impl Verdict {
    fn met(en: impl Into<String>, zh: impl Into<String>) -> Verdict {
        Verdict { met: true, reason: Text::new(en, zh) }
    }

    fn unmet(en: impl Into<String>, zh: impl Into<String>) -> Verdict {
        Verdict { met: false, reason: Text::new(en, zh) }
    }

    fn waiting() -> Verdict {
        Verdict::unmet("Reading the cluster…", "正在读取集群状态…")
    }
}

/// What a check may consult besides the cluster.
#[derive(Clone, Debug, Default)]
pub struct CheckContext {
    /// What the step's last action printed.
    pub last_output: Option<String>,
    /// Repositories whose head changed since the step began.
    pub changed_repos: Vec<String>,
}

/// Compiles the checks of a step, resolving kinds with the cluster's discovery.
pub async fn compile(kubectl: &Kubectl, namespace: &str, checks: &[model::Check]) -> Result<Vec<CompiledCheck>> {
    let mut compiled = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        let condition = compile_condition(kubectl, namespace, check).await?;
        let id = check.id.clone().unwrap_or_else(|| format!("check-{}", index + 1));
        let description = check.description.as_ref().map(|d| d.text()).unwrap_or_else(|| describe(&condition));
        compiled.push(CompiledCheck { id, description, condition });
    }
    Ok(compiled)
}

async fn select(kubectl: &Kubectl, namespace: &str, spec: &ObjectSpec, default_kind: &str) -> Result<Selection> {
    let kind = if spec.kind.is_empty() { default_kind } else { &spec.kind };
    let found = kubectl.target_of(kind, &spec.name, Some(spec.namespace.as_deref().unwrap_or(namespace))).await?;
    let labels = spec
        .selector
        .as_deref()
        .map(|s| {
            s.split(',').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim().into(), v.trim().into())).collect()
        })
        .unwrap_or_default();
    Ok(Selection {
        resource: found.resource,
        namespace: found.namespace,
        name: (!spec.name.is_empty()).then(|| spec.name.clone()),
        labels,
    })
}

async fn compile_condition(kubectl: &Kubectl, ns: &str, check: &model::Check) -> Result<Condition> {
    if let Some(spec) = &check.exists {
        return Ok(Condition::Exists(select(kubectl, ns, spec, "Pod").await?));
    }
    if let Some(spec) = &check.absent {
        return Ok(Condition::Absent(select(kubectl, ns, spec, "Pod").await?));
    }
    if let Some(f) = &check.field {
        let test = if let Some(v) = &f.equals {
            FieldTest::Equals(v.clone())
        } else if let Some(n) = f.at_least {
            FieldTest::AtLeast(n)
        } else if let Some(t) = &f.contains {
            FieldTest::Contains(t.clone())
        } else {
            FieldTest::Absent(f.absent.unwrap_or(false))
        };
        let path = parse_path(&f.path).map_err(|why| crate::Error::explained("exercise", Text::same(why), None))?;
        return Ok(Condition::Field {
            selection: select(kubectl, ns, &f.object(), "Pod").await?,
            path_text: f.path.clone(),
            path,
            test,
        });
    }
    if let Some(p) = &check.pod_phase {
        return Ok(Condition::PodPhase {
            selection: select(kubectl, ns, &p.object(), "Pod").await?,
            phase: p.phase.clone(),
            ready: p.ready,
        });
    }
    if let Some(r) = &check.ready_replicas {
        return Ok(Condition::ReadyReplicas {
            selection: select(kubectl, ns, &r.object(), "Deployment").await?,
            count: r.count,
        });
    }
    if let Some(a) = &check.annotation {
        return Ok(Condition::Annotation {
            selection: select(kubectl, ns, &a.object(), "Deployment").await?,
            key: a.key.clone(),
            value: a.value.clone(),
        });
    }
    if let Some(h) = &check.http {
        let (kind, name) = h.target.split_once('/').unwrap_or(("pod", &h.target));
        let spec = ObjectSpec { kind: kind.into(), name: name.into(), namespace: h.namespace.clone(), selector: None };
        return Ok(Condition::Http {
            target: select(kubectl, ns, &spec, "Pod").await?,
            port: h.port,
            path: h.path.clone().unwrap_or_else(|| "/".into()),
            contains: h.contains.clone(),
        });
    }
    if let Some(e) = &check.event {
        let spec =
            ObjectSpec { kind: "Event".into(), name: String::new(), namespace: e.namespace.clone(), selector: None };
        return Ok(Condition::Event {
            events: select(kubectl, ns, &spec, "Event").await?,
            reason: e.reason.clone(),
            kind: (!e.kind.is_empty()).then(|| e.kind.clone()),
            name: (!e.name.is_empty()).then(|| e.name.clone()),
            at_least: e.at_least.unwrap_or(1),
        });
    }
    if let Some(o) = &check.output {
        return Ok(Condition::Output(o.contains.clone()));
    }
    if let Some(g) = &check.git_head {
        return Ok(Condition::GitHead(g.repo.clone()));
    }
    Err(crate::Error::explained("exercise", Text::new("A check has no condition.", "某个检查没有给出条件。"), None))
}

impl Condition {
    /// The sources the condition reads (what must be watched).
    pub fn sources(&self) -> Vec<Source> {
        match self {
            Condition::Exists(s) | Condition::Absent(s) => vec![s.source()],
            Condition::Field { selection, .. }
            | Condition::PodPhase { selection, .. }
            | Condition::ReadyReplicas { selection, .. }
            | Condition::Annotation { selection, .. } => vec![selection.source()],
            Condition::Http { target, .. } => {
                let mut sources = vec![target.source()];
                if target.resource.kind != "Pod" {
                    sources.push(Source {
                        api_version: "v1".into(),
                        plural: "pods".into(),
                        namespace: target.namespace.clone(),
                    });
                }
                sources
            }
            Condition::Event { events, .. } => vec![events.source()],
            Condition::Output(_) | Condition::GitHead(_) => Vec::new(),
        }
    }
}

/// Evaluates a condition that needs no I/O ([`Condition::Http`] is the runner's).
pub fn evaluate(condition: &Condition, snapshot: &Snapshot, context: &CheckContext) -> Verdict {
    match condition {
        Condition::Exists(s) => match s.pick(snapshot) {
            None => Verdict::waiting(),
            Some(found) if !found.is_empty() => {
                Verdict::met(format!("{} exists.", s.describe()), format!("{} 已存在。", s.describe()))
            }
            Some(_) => Verdict::unmet(
                format!("There is no {}{} yet.", s.describe(), s.where_()),
                format!("{}{}还不存在。", s.describe(), s.where_()),
            ),
        },
        Condition::Absent(s) => match s.pick(snapshot) {
            None => Verdict::waiting(),
            Some(found) if found.is_empty() => {
                Verdict::met(format!("{} is gone.", s.describe()), format!("{} 已不存在。", s.describe()))
            }
            Some(_) => {
                Verdict::unmet(format!("{} still exists.", s.describe()), format!("{} 仍然存在。", s.describe()))
            }
        },
        Condition::Field { selection, path_text, path, test } => field(selection, path_text, path, test, snapshot),
        Condition::PodPhase { selection, phase, ready } => pod_phase(selection, phase, *ready, snapshot),
        Condition::ReadyReplicas { selection, count } => ready_replicas(selection, *count, snapshot),
        Condition::Annotation { selection, key, value } => annotation(selection, key, value.as_deref(), snapshot),
        Condition::Event { events, reason, kind, name, at_least } => {
            event(events, reason, kind.as_deref(), name.as_deref(), *at_least, snapshot)
        }
        Condition::Output(text) => match &context.last_output {
            Some(output) if output.contains(text.as_str()) => {
                Verdict::met(format!("The output shows \"{text}\"."), format!("输出中出现了“{text}”。"))
            }
            Some(_) => {
                Verdict::unmet(format!("The output does not show \"{text}\"."), format!("输出中没有出现“{text}”。"))
            }
            None => Verdict::unmet("Run the step first.", "请先运行这一步。"),
        },
        Condition::GitHead(repo) => {
            if context.changed_repos.iter().any(|r| r == repo) {
                Verdict::met(format!("The {repo} repository has a new commit."), format!("{repo} 仓库有了新的提交。"))
            } else {
                Verdict::unmet(
                    format!("No new commit in the {repo} repository yet."),
                    format!("{repo} 仓库还没有新的提交。"),
                )
            }
        }
        Condition::Http { .. } => Verdict::waiting(),
    }
}

fn one<'a>(selection: &Selection, snapshot: &'a Snapshot) -> Result<&'a Value, Verdict> {
    match selection.pick(snapshot) {
        None => Err(Verdict::waiting()),
        Some(found) => found.into_iter().next().ok_or_else(|| {
            Verdict::unmet(
                format!("There is no {}{} yet.", selection.describe(), selection.where_()),
                format!("{}{}还不存在。", selection.describe(), selection.where_()),
            )
        }),
    }
}

fn text_of(value: &Value) -> String {
    value.as_str().map(String::from).unwrap_or_else(|| value.to_string())
}

fn field(selection: &Selection, path_text: &str, path: &[Segment], test: &FieldTest, snapshot: &Snapshot) -> Verdict {
    let object = match one(selection, snapshot) {
        Ok(object) => object,
        Err(verdict) => return verdict,
    };
    let found = lookup(object, path);
    let who = selection.describe();
    match (test, found) {
        (FieldTest::Absent(true), None) => {
            Verdict::met(format!("{who} has no {path_text}."), format!("{who} 没有 {path_text}。"))
        }
        (FieldTest::Absent(true), Some(v)) => Verdict::unmet(
            format!("{who} still has {path_text} = {}.", text_of(v)),
            format!("{who} 仍有 {path_text} = {}。", text_of(v)),
        ),
        (FieldTest::Absent(false), Some(v)) => {
            Verdict::met(format!("{path_text} = {}.", text_of(v)), format!("{path_text} = {}。", text_of(v)))
        }
        (_, None) => Verdict::unmet(format!("{who} has no {path_text} yet."), format!("{who} 还没有 {path_text}。")),
        (FieldTest::Equals(want), Some(v)) if text_of(v) == text_of(want) => {
            Verdict::met(format!("{path_text} is {}.", text_of(v)), format!("{path_text} 为 {}。", text_of(v)))
        }
        (FieldTest::Equals(want), Some(v)) => Verdict::unmet(
            format!("{path_text} is {}, expected {}.", text_of(v), text_of(want)),
            format!("{path_text} 为 {}，应为 {}。", text_of(v), text_of(want)),
        ),
        (FieldTest::AtLeast(n), Some(v)) => match v.as_f64() {
            Some(x) if x >= *n => Verdict::met(format!("{path_text} is {x}."), format!("{path_text} 为 {x}。")),
            _ => Verdict::unmet(
                format!("{path_text} is {}, expected at least {n}.", text_of(v)),
                format!("{path_text} 为 {}，应至少为 {n}。", text_of(v)),
            ),
        },
        (FieldTest::Contains(t), Some(v)) if text_of(v).contains(t.as_str()) => {
            Verdict::met(format!("{path_text} contains \"{t}\"."), format!("{path_text} 包含“{t}”。"))
        }
        (FieldTest::Contains(t), Some(_)) => {
            Verdict::unmet(format!("{path_text} does not contain \"{t}\"."), format!("{path_text} 不包含“{t}”。"))
        }
    }
}

fn pod_phase(selection: &Selection, phase: &str, ready: bool, snapshot: &Snapshot) -> Verdict {
    let pods = match selection.pick(snapshot) {
        None => return Verdict::waiting(),
        Some(pods) if pods.is_empty() => {
            return Verdict::unmet(
                format!("There is no {}{} yet.", selection.describe(), selection.where_()),
                format!("{}{}还不存在。", selection.describe(), selection.where_()),
            );
        }
        Some(pods) => pods,
    };
    for pod in pods {
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let current = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending");
        let waiting = waiting_reason(pod);
        if current != phase {
            return Verdict::unmet(
                format!("Pod {name} is {current}{waiting}, expected {phase}."),
                format!("Pod {name} 处于 {current}{waiting}，应为 {phase}。"),
            );
        }
        if ready && !pod_ready(pod) {
            return Verdict::unmet(
                format!("Pod {name} is {current} but not ready yet{waiting}."),
                format!("Pod {name} 处于 {current}，但还没有就绪{waiting}。"),
            );
        }
    }
    Verdict::met(format!("{} is {phase}.", selection.describe()), format!("{} 处于 {phase}。", selection.describe()))
}

fn waiting_reason(pod: &Value) -> String {
    let statuses = ["initContainerStatuses", "containerStatuses"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/status/{k}")).and_then(Value::as_array))
        .flatten();
    for status in statuses {
        if let Some(reason) = status.pointer("/state/waiting/reason").and_then(Value::as_str) {
            return format!(" ({reason})");
        }
    }
    String::new()
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|c| {
        c.iter().any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
    })
}

fn ready_replicas(selection: &Selection, count: i64, snapshot: &Snapshot) -> Verdict {
    let object = match one(selection, snapshot) {
        Ok(object) => object,
        Err(verdict) => return verdict,
    };
    let ready = object.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
    let who = selection.describe();
    if ready == count {
        Verdict::met(format!("{who} has {ready} ready replicas."), format!("{who} 有 {ready} 个就绪副本。"))
    } else {
        Verdict::unmet(
            format!("{who} has {ready} ready replicas, expected {count}."),
            format!("{who} 有 {ready} 个就绪副本，应为 {count} 个。"),
        )
    }
}

fn annotation(selection: &Selection, key: &str, value: Option<&str>, snapshot: &Snapshot) -> Verdict {
    let object = match one(selection, snapshot) {
        Ok(object) => object,
        Err(verdict) => return verdict,
    };
    let who = selection.describe();
    let found = object.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str);
    match (found, value) {
        (None, _) => Verdict::unmet(format!("{who} has no annotation {key}."), format!("{who} 没有注解 {key}。")),
        (Some(v), Some(want)) if v != want => Verdict::unmet(
            format!("{who} has {key}={v}, expected {want}."),
            format!("{who} 的 {key} 为 {v}，应为 {want}。"),
        ),
        (Some(_), _) => Verdict::met(format!("{who} has the annotation {key}."), format!("{who} 带有注解 {key}。")),
    }
}

fn event(
    events: &Selection,
    reason: &str,
    kind: Option<&str>,
    name: Option<&str>,
    at_least: u32,
    snapshot: &Snapshot,
) -> Verdict {
    let Some(all) = events.pick(snapshot) else { return Verdict::waiting() };
    let seen: u64 = all
        .iter()
        .filter(|e| e.get("reason").and_then(Value::as_str) == Some(reason))
        .filter(|e| kind.is_none_or(|k| e.pointer("/involvedObject/kind").and_then(Value::as_str) == Some(k)))
        .filter(|e| name.is_none_or(|n| e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(n)))
        .map(|e| e.get("count").and_then(Value::as_u64).unwrap_or(1))
        .sum();
    let about = name.map(|n| format!(" for {n}")).unwrap_or_default();
    if seen >= u64::from(at_least) {
        Verdict::met(format!("Seen a {reason} event{about}."), format!("已看到{about} 的 {reason} 事件。"))
    } else {
        Verdict::unmet(format!("No {reason} event{about} yet."), format!("还没有{about} 的 {reason} 事件。"))
    }
}

/// A description for a check that gives none.
pub fn describe(condition: &Condition) -> Text {
    match condition {
        Condition::Exists(s) => Text::new(format!("{} exists", s.describe()), format!("{} 存在", s.describe())),
        Condition::Absent(s) => Text::new(format!("{} is deleted", s.describe()), format!("{} 已删除", s.describe())),
        Condition::Field { selection, path_text, test, .. } => {
            let who = selection.describe();
            match test {
                FieldTest::Equals(v) => Text::new(
                    format!("{who}: {path_text} is {}", text_of(v)),
                    format!("{who}：{path_text} 为 {}", text_of(v)),
                ),
                FieldTest::AtLeast(n) => {
                    Text::new(format!("{who}: {path_text} ≥ {n}"), format!("{who}：{path_text} ≥ {n}"))
                }
                FieldTest::Contains(t) => {
                    Text::new(format!("{who}: {path_text} contains \"{t}\""), format!("{who}：{path_text} 包含“{t}”"))
                }
                FieldTest::Absent(true) => {
                    Text::new(format!("{who} has no {path_text}"), format!("{who} 没有 {path_text}"))
                }
                FieldTest::Absent(false) => {
                    Text::new(format!("{who} has {path_text}"), format!("{who} 有 {path_text}"))
                }
            }
        }
        Condition::PodPhase { selection, phase, .. } => {
            Text::new(format!("{} is {phase}", selection.describe()), format!("{} 处于 {phase}", selection.describe()))
        }
        Condition::ReadyReplicas { selection, count } => Text::new(
            format!("{} has {count} ready replicas", selection.describe()),
            format!("{} 有 {count} 个就绪副本", selection.describe()),
        ),
        Condition::Annotation { selection, key, .. } => {
            Text::new(format!("{} carries {key}", selection.describe()), format!("{} 带有 {key}", selection.describe()))
        }
        Condition::Http { target, contains, .. } => Text::new(
            format!("{} answers with \"{contains}\"", target.describe()),
            format!("{} 的回应包含“{contains}”", target.describe()),
        ),
        Condition::Event { reason, name, .. } => {
            let about = name.as_deref().map(|n| format!(" for {n}")).unwrap_or_default();
            Text::new(format!("a {reason} event{about}"), format!("出现{about} 的 {reason} 事件"))
        }
        Condition::Output(text) => Text::new(format!("the output shows \"{text}\""), format!("输出中出现“{text}”")),
        Condition::GitHead(repo) => Text::new(format!("a new commit in {repo}"), format!("{repo} 有新的提交")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods(namespace: &str) -> Selection {
        Selection {
            resource: ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "Pod".into(),
                plural: "pods".into(),
            },
            namespace: Some(namespace.into()),
            name: Some("nginx".into()),
            labels: Vec::new(),
        }
    }

    fn snapshot(objects: Vec<Value>) -> Snapshot {
        Snapshot::from([(pods("default").source(), objects)])
    }

    #[test]
    fn a_source_not_read_yet_is_waiting_not_failed() {
        let verdict = evaluate(&Condition::Exists(pods("default")), &Snapshot::new(), &CheckContext::default());
        assert!(!verdict.met && verdict.reason.en.contains("Reading"));
    }

    #[test]
    fn a_pending_pod_names_its_waiting_reason() {
        let pod = json!({"metadata": {"name": "nginx"}, "status": {"phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        let condition = Condition::PodPhase { selection: pods("default"), phase: "Running".into(), ready: false };
        let verdict = evaluate(&condition, &snapshot(vec![pod]), &CheckContext::default());
        assert!(!verdict.met);
        assert_eq!(verdict.reason.en, "Pod nginx is Pending (ContainerCreating), expected Running.");
    }

    #[test]
    fn a_restart_count_is_checked_through_a_field_path() {
        let pod = json!({"metadata": {"name": "nginx"}, "status": {"containerStatuses": [{"name": "nginx", "restartCount": 1}]}});
        let condition = Condition::Field {
            selection: pods("default"),
            path_text: "status.containerStatuses[0].restartCount".into(),
            path: parse_path("status.containerStatuses[0].restartCount").unwrap(),
            test: FieldTest::AtLeast(1.0),
        };
        assert!(evaluate(&condition, &snapshot(vec![pod.clone()]), &CheckContext::default()).met);
        let fresh = json!({"metadata": {"name": "nginx"}, "status": {"containerStatuses": [{"name": "nginx", "restartCount": 0}]}});
        let verdict = evaluate(&condition, &snapshot(vec![fresh]), &CheckContext::default());
        assert!(!verdict.met && verdict.reason.en.contains("expected at least 1"));
    }

    #[test]
    fn events_are_counted_by_reason_and_object() {
        let events = Selection {
            resource: ApiResource { kind: "Event".into(), plural: "events".into(), ..pods("default").resource },
            ..pods("default")
        };
        let events = Selection { name: None, ..events };
        let snap = Snapshot::from([(
            events.source(),
            vec![
                json!({"reason": "Killing", "involvedObject": {"kind": "Pod", "name": "nginx"}, "count": 1}),
                json!({"reason": "Started", "involvedObject": {"kind": "Pod", "name": "other"}}),
            ],
        )]);
        let condition = |reason: &str| Condition::Event {
            events: events.clone(),
            reason: reason.into(),
            kind: Some("Pod".into()),
            name: Some("nginx".into()),
            at_least: 1,
        };
        assert!(evaluate(&condition("Killing"), &snap, &CheckContext::default()).met);
        assert!(!evaluate(&condition("Started"), &snap, &CheckContext::default()).met);
    }
}

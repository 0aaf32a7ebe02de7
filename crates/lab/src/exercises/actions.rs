//! Runs a step's one-click action through the engine: kubectl lines (with the exercise's label on
//! everything they create), a terminal, a diff, or an edit of the learner's copy of a file.

use super::load::Exercise;
use super::model::{Action, Step};
use super::session::{EXERCISE_LABEL, Exercises};
use super::workspace::Workspace;
use crate::cluster::ClusterHandle;
use crate::error::{Error, Result};
use crate::kubectl::{CommandOutput, DirectoryFiles, Kubectl, Outcome, RunOptions, parse_command_line};
use crate::live::ExecRequest;
use gitops_lab_protocol::{FileChange, ObjectRef, StepOutcome, Text};
use serde_json::{Map, Value};

impl Exercises {
    /// Runs step `step` of exercise `id`: its prediction must be answered first.
    pub async fn run_step(&self, id: &str, step: usize) -> Result<StepOutcome> {
        let handle = self.connection.require()?;
        let exercise = self.find(id)?.clone();
        let step_file = super::view::step_of(&exercise, step)?.clone();
        if let Some(predict) = &step_file.predict {
            let answered =
                self.progress_store()?.get().exercises.get(id).is_some_and(|p| p.answers.contains_key(&step_file.id));
            if !answered {
                return Err(Error::explained(
                    "predict-first",
                    Text::new(
                        format!("Answer the question first: {}", predict.question.en),
                        format!("请先回答问题：{}", predict.question.zh),
                    ),
                    Some(Text::new(
                        "Predicting before you run is how the lesson sticks.",
                        "先预测再运行，才能真正记住。",
                    )),
                ));
            }
        }
        self.ensure_open(id, &handle).await?;
        self.go_to_step(id, step)?;
        let Some(action) = &step_file.action else {
            return Err(Error::explained(
                "no-action",
                Text::new(
                    "This step has no button: type the commands yourself.",
                    "这一步没有一键操作：请自己输入命令。",
                ),
                None,
            ));
        };
        let workspace = Workspace::open(&self.config.workspace_dir(), &exercise)?;
        let mut outcome = self.run_action(&exercise, &step_file, action, &handle, &workspace).await?;
        self.outputs.lock().unwrap_or_else(|e| e.into_inner()).insert((id.to_string(), step), outcome.output.clone());
        self.refresh(id, step).await;
        if outcome.error.is_none() && step_file.checks.is_empty() {
            self.mark_done(id, step)?;
        }
        outcome.checks = self.view(id).await.map(|v| v.steps[step].checks.clone()).unwrap_or_default();
        Ok(outcome)
    }

    async fn run_action(
        &self,
        exercise: &Exercise,
        step: &Step,
        action: &Action,
        handle: &ClusterHandle,
        workspace: &Workspace,
    ) -> Result<StepOutcome> {
        let mut outcome = StepOutcome::default();
        if let Some(edit) = &action.edit {
            let diff = workspace.edit(&edit.file, &edit.replace, &edit.with)?;
            outcome.output = if diff.is_empty() { format!("{} already has this change.\n", edit.file) } else { diff };
            outcome.message = Text::new(format!("{} changed.", edit.file), format!("{} 已修改。", edit.file));
            return Ok(outcome);
        }
        if let Some(file) = &action.diff {
            let manifests =
                crate::kubectl::manifest::parse(file, &workspace.read(file)?).map_err(|e| Error::from(e.view()))?;
            let kubectl = Kubectl::new(handle).in_namespace(Some(exercise.namespace()));
            let view = crate::diff::diff_manifests(&kubectl, file, &manifests).await;
            outcome.output = view.objects.iter().map(|o| o.unified.clone()).collect();
            outcome.diff = Some(view);
            outcome.message = Text::new(
                "Compare the three columns: last-applied, live, file.",
                "对比三列：last-applied、集群中的对象、文件。",
            );
            return Ok(outcome);
        }
        if let Some(git) = &action.git {
            return self.commit(exercise, git, workspace).await;
        }
        if let Some(sync) = &action.sync {
            let path = sync.path.clone().unwrap_or_else(|| ".".into());
            let run = self.gitops.sync(&sync.repo, &path, sync.prune, sync.auto).await?;
            outcome.output = run
                .resources
                .iter()
                .map(|r| format!("{} {:?}: {}\n", r.object.kubectl_name(), r.state, r.message))
                .chain(run.errors.iter().map(|e| format!("{}\n", e.message.en)))
                .collect();
            outcome.message = run.message.clone();
            if let Some(error) = run.errors.first() {
                outcome.error = Some(error.clone());
            }
            return Ok(outcome);
        }
        if let Some(ci) = &action.ci_bump {
            let report = self.gitops.ci_bump(ci.message.clone()).await?;
            outcome.output =
                report.stages.iter().map(|s| format!("{s}\n")).collect::<String>() + &format!("{}\n", report.answer);
            outcome.message = Text::new(
                format!("The pipeline built and rolled out version {}.", report.version),
                format!("流水线构建并发布了版本 {}。", report.version),
            );
            return Ok(outcome);
        }
        if let Some(operator) = &action.operator {
            if operator.start.is_some() {
                let namespace = operator.namespace.clone().unwrap_or_else(|| exercise.namespace().to_string());
                self.operator.start(namespace.clone()).await?;
                outcome.message = Text::new(
                    format!("The lab's NGINX operator watches ConfigMaps in {namespace}."),
                    format!("实验室的 NGINX 操作符正在监听 {namespace} 中的 ConfigMap。"),
                );
            } else {
                self.operator.stop().await;
                outcome.message = Text::new("The operator stopped.", "操作符已停止。");
            }
            return Ok(outcome);
        }
        if let Some(terminal) = &action.terminal {
            let pod = self.terminal_pod(exercise, &terminal.pod, handle).await?;
            let command = if terminal.command.is_empty() { vec!["sh".to_string()] } else { terminal.command.clone() };
            let request =
                ExecRequest { pod, container: terminal.container.clone(), command, tty: true, size: (100, 30) };
            outcome.stream = Some(self.live.exec(request).await?);
            outcome.message = Text::new("A terminal is open in the container.", "已在容器中打开终端。");
            return Ok(outcome);
        }
        self.run_lines(exercise, step, action, handle, workspace, &mut outcome).await;
        Ok(outcome)
    }

    /// The values of the `{{…}}` placeholders in an exercise's files.
    pub fn vars(&self, exercise: &Exercise) -> std::collections::BTreeMap<String, String> {
        let mut vars: std::collections::BTreeMap<String, String> =
            crate::gitops::templates::NAMES.iter().map(|repo| (format!("git:{repo}"), self.gitops.url(repo))).collect();
        vars.insert("namespace".into(), exercise.namespace().to_string());
        vars
    }

    /// A commit to one of the learner's repositories: files from the exercise, an edit, or a revert.
    async fn commit(
        &self,
        exercise: &Exercise,
        git: &super::model::GitAction,
        workspace: &Workspace,
    ) -> Result<StepOutcome> {
        let mut outcome = StepOutcome::default();
        let message = git.message.clone().unwrap_or_else(|| format!("Exercise {}", exercise.file.id));
        let commit = if git.revert {
            self.gitops.revert_head(&git.repo)?
        } else {
            let files = DirectoryFiles { root: workspace.root.clone(), vars: self.vars(exercise) };
            let mut changes = Vec::new();
            for (path, source) in &git.files {
                changes
                    .push(FileChange { path: path.clone(), content: Some(files.substitute(&workspace.read(source)?)) });
            }
            if let Some(edit) = &git.edit {
                let current = self.gitops.read(&git.repo, &edit.file)?;
                let changed = if current.contains(&edit.replace) {
                    current.replacen(&edit.replace, &edit.with, 1)
                } else if current.contains(&edit.with) {
                    current
                } else {
                    return Err(Error::explained(
                        "edit",
                        Text::new(
                            format!(
                                "{} in the {} repository no longer contains \"{}\".",
                                edit.file, git.repo, edit.replace
                            ),
                            format!("{} 仓库中的 {} 已不包含“{}”。", git.repo, edit.file, edit.replace),
                        ),
                        None,
                    ));
                };
                changes.push(FileChange { path: edit.file.clone(), content: Some(changed) });
            }
            self.gitops.commit(&git.repo, changes, &message)?
        };
        outcome.output = format!("[{} {}] {}\n", git.repo, &commit.sha[..7.min(commit.sha.len())], commit.summary);
        outcome.message =
            Text::new(format!("Committed to the {} repository.", git.repo), format!("已提交到 {} 仓库。", git.repo));
        Ok(outcome)
    }

    /// The pod a terminal opens in: `NAME`, `pod/NAME`, or a ready pod of an owner (`deployment/web`).
    async fn terminal_pod(&self, exercise: &Exercise, name: &str, handle: &ClusterHandle) -> Result<ObjectRef> {
        let namespace = exercise.namespace();
        let Some((kind, owner)) = name.split_once('/').filter(|(kind, _)| *kind != "pod") else {
            return Ok(ObjectRef::new("v1", "Pod", Some(namespace), name.trim_start_matches("pod/")));
        };
        let target = Kubectl::new(handle).target_of(kind, owner, Some(namespace)).await?.object_ref();
        match crate::live::ready_pod(&handle.client, namespace, &target).await? {
            crate::live::ReadyPod::Found(pod) => Ok(ObjectRef::new("v1", "Pod", Some(namespace), &pod)),
            crate::live::ReadyPod::Missing(why) | crate::live::ReadyPod::Absent(why) => {
                Err(Error::explained("no-pod", why, None))
            }
        }
    }

    /// Runs the action's kubectl lines in order, each shown with a `$` prompt and its output.
    async fn run_lines(
        &self,
        exercise: &Exercise,
        step: &Step,
        action: &Action,
        handle: &ClusterHandle,
        workspace: &Workspace,
        outcome: &mut StepOutcome,
    ) {
        let kubectl = Kubectl::new(handle).in_namespace(Some(exercise.namespace()));
        let files = DirectoryFiles { root: workspace.root.clone(), vars: self.vars(exercise) };
        let mut labels = Map::new();
        labels.insert(EXERCISE_LABEL.into(), Value::String(exercise.file.id.clone()));
        let options = RunOptions { labels };
        let mut shown = String::new();
        for line in &action.kubectl {
            shown.push_str(&format!("$ {line}\n"));
            let result = match parse_command_line(line) {
                Ok(parsed) => kubectl.run(&parsed, &files, &options).await,
                Err(error) => Err(error),
            };
            let output = match result {
                Ok(Outcome::Output(output)) => output,
                Ok(other) => self.finish(other, &kubectl, outcome).await,
                Err(error) => {
                    let mut output = CommandOutput::default();
                    output.fail_with(&error);
                    output
                }
            };
            shown.push_str(&output.combined());
            if let Some(error) = output.error {
                outcome.error.get_or_insert(error);
                if !action.continue_on_error {
                    break;
                }
            }
        }
        outcome.output = shown;
        outcome.message = match &outcome.error {
            None => Text::new(
                format!("Done. Watch the checks of \"{}\" turn green.", step.title.en),
                format!("完成。请留意“{}”的检查项变绿。", step.title.zh),
            ),
            Some(_) => Text::new("A command failed: read its message above.", "有命令失败了：请阅读上面的信息。"),
        };
    }

    /// Finishes what a command line handed back to the engine: a diff, a port-forward, a terminal.
    async fn finish(&self, outcome: Outcome, kubectl: &Kubectl, step: &mut StepOutcome) -> CommandOutput {
        let mut output = CommandOutput::default();
        let result: Result<()> = async {
            match outcome {
                Outcome::Output(done) => output = done,
                Outcome::Diff(manifests) => {
                    let source = manifests.first().map(|m| m.source.clone()).unwrap_or_default();
                    let view = crate::diff::diff_manifests(kubectl, &source, &manifests).await;
                    output.stdout = view.objects.iter().map(|o| o.unified.clone()).collect();
                    step.diff = Some(view);
                }
                Outcome::PortForward { target, local, remote } => {
                    let view = self.live.port_forward(target.object_ref(), remote, local).await?;
                    output.out(format!("Forwarding from 127.0.0.1:{} -> {}", view.local_port, view.remote_port));
                    step.port_forward = Some(view);
                }
                Outcome::Terminal { pod, namespace, container, command } => {
                    let pod = ObjectRef::new("v1", "Pod", Some(&namespace), &pod);
                    let command = if command.is_empty() { vec!["sh".to_string()] } else { command };
                    let request = ExecRequest { pod, container, command, tty: true, size: (100, 30) };
                    step.stream = Some(self.live.exec(request).await?);
                }
            }
            Ok(())
        }
        .await;
        if let Err(error) = result {
            output.fail_with(&error);
        }
        output
    }
}

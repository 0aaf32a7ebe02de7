//! Loads exercises from a directory and validates them with precise errors (file, line, field): the
//! schema, both languages, one action and one condition each, command lines that parse, files that
//! exist and read as manifests, edits that apply, paths that parse.

use super::model::{Action, Bilingual, Check, ExerciseFile, SCHEMA, Step};
use super::path::parse_path;
use crate::kubectl::command_line::{Generator, Verb};
use crate::kubectl::{manifest, parse_command_line};
use gitops_lab_protocol::{ErrorView, Text};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The name of an exercise's file inside its folder.
pub const FILE_NAME: &str = "exercise.yaml";

/// An exercise read from disk.
#[derive(Clone, Debug)]
pub struct Exercise {
    /// The parsed file.
    pub file: ExerciseFile,
    /// Its folder (manifests and scripts beside the file).
    pub dir: PathBuf,
}

impl Exercise {
    /// The namespace it works in.
    pub fn namespace(&self) -> &str {
        self.file.namespace.as_deref().unwrap_or("default")
    }
}

/// A problem in an exercise file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExerciseError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based).
    pub line: usize,
    /// The field, when one is to blame (`steps[2].checks[0]`).
    pub field: Option<String>,
    /// What is wrong.
    pub message: Text,
}

impl std::fmt::Display for ExerciseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let field = self.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        write!(f, "{}:{}{field}: {}", self.file.display(), self.line, self.message.en)
    }
}

impl ExerciseError {
    /// The learner's (or author's) view.
    pub fn view(&self) -> ErrorView {
        let place = format!("{}:{}", self.file.display(), self.line);
        let field = self.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
        ErrorView::new(
            "invalid-exercise",
            Text::new(format!("{place}{field}: {}", self.message.en), format!("{place}{field}：{}", self.message.zh)),
        )
        .with_hint(Text::new(
            "Fix the exercise file (docs/exercises.md describes every field), then run `gitops-lab exercises validate`.",
            "请修改练习文件（docs/exercises.md 说明了每个字段），然后运行 `gitops-lab exercises validate`。",
        ))
    }
}

/// Every exercise under `dir` (one folder each), in chapter order, and the problems of those that
/// could not be loaded (which are left out).
pub fn load_all(dir: &Path) -> (Vec<Exercise>, Vec<ExerciseError>) {
    let mut exercises = Vec::new();
    let mut errors = Vec::new();
    let mut folders: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join(FILE_NAME).is_file()).collect()
        }
        Err(error) => {
            errors.push(ExerciseError {
                file: dir.to_path_buf(),
                line: 1,
                field: None,
                message: Text::new(
                    format!("cannot read the exercises folder: {error}"),
                    format!("无法读取练习目录：{error}"),
                ),
            });
            return (exercises, errors);
        }
    };
    folders.sort();
    for folder in folders {
        match load(&folder) {
            Ok(exercise) => exercises.push(exercise),
            Err(mut found) => errors.append(&mut found),
        }
    }
    exercises.sort_by(|a, b| {
        section_key(&a.file.section)
            .cmp(&section_key(&b.file.section))
            .then(a.file.order.cmp(&b.file.order))
            .then(a.file.id.cmp(&b.file.id))
    });
    let mut seen = BTreeSet::new();
    exercises.retain(|e| {
        let fresh = seen.insert(e.file.id.clone());
        if !fresh {
            errors.push(ExerciseError {
                file: e.dir.join(FILE_NAME),
                line: 1,
                field: Some("id".into()),
                message: Text::new(
                    format!("the id {} is used twice", e.file.id),
                    format!("id {} 被重复使用", e.file.id),
                ),
            });
        }
        fresh
    });
    (exercises, errors)
}

/// `2.3.3` sorts after `2.3` and before `2.10`.
fn section_key(section: &str) -> Vec<u32> {
    section.split('.').map(|p| p.parse().unwrap_or(u32::MAX)).collect()
}

/// Loads and validates one exercise folder.
pub fn load(folder: &Path) -> Result<Exercise, Vec<ExerciseError>> {
    let path = folder.join(FILE_NAME);
    let text = std::fs::read_to_string(&path).map_err(|error| {
        vec![ExerciseError {
            file: path.clone(),
            line: 1,
            field: None,
            message: Text::new(format!("cannot read the file: {error}"), format!("无法读取该文件：{error}")),
        }]
    })?;
    let file: ExerciseFile = serde_norway::from_str(&text).map_err(|error| {
        let line = error.location().map(|l| l.line()).unwrap_or(1);
        let said = error.to_string();
        vec![ExerciseError {
            file: path.clone(),
            line,
            field: None,
            message: Text::new(
                format!("the file does not match the exercise schema: {said}"),
                format!("该文件不符合练习格式：{said}"),
            ),
        }]
    })?;
    let errors = Validator { path: &path, text: &text, folder }.validate(&file);
    if errors.is_empty() { Ok(Exercise { file, dir: folder.to_path_buf() }) } else { Err(errors) }
}

struct Validator<'a> {
    path: &'a Path,
    text: &'a str,
    folder: &'a Path,
}

impl Validator<'_> {
    /// The first line at or after `from` that contains `needle` (1-based), or `from`.
    fn line_of(&self, needle: &str, from: usize) -> usize {
        self.text
            .lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find(|(_, l)| l.contains(needle))
            .map(|(i, _)| i + 1)
            .unwrap_or(from.max(1))
    }

    fn error(&self, line: usize, field: String, en: String, zh: String) -> ExerciseError {
        ExerciseError { file: self.path.to_path_buf(), line, field: Some(field), message: Text::new(en, zh) }
    }

    fn validate(&self, file: &ExerciseFile) -> Vec<ExerciseError> {
        let mut errors = Vec::new();
        if file.schema != SCHEMA {
            errors.push(self.error(
                self.line_of("schema:", 1),
                "schema".into(),
                format!("schema {} is not supported; this lab reads schema {SCHEMA}", file.schema),
                format!("不支持格式版本 {}；本实验室读取的是版本 {SCHEMA}", file.schema),
            ));
        }
        let folder_name = self.folder.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if file.id != folder_name {
            errors.push(self.error(
                self.line_of("id:", 1),
                "id".into(),
                format!("the id \"{}\" must equal the folder's name \"{folder_name}\"", file.id),
                format!("id“{}”必须与所在目录名“{folder_name}”相同", file.id),
            ));
        }
        for (field, text) in [("title", &file.title), ("summary", &file.summary), ("intro", &file.intro)] {
            self.both_languages(text, field, 1, &mut errors);
        }
        if file.steps.is_empty() {
            errors.push(self.error(
                self.line_of("steps:", 1),
                "steps".into(),
                "an exercise needs at least one step".into(),
                "练习至少需要一个步骤".into(),
            ));
        }
        let mut ids = BTreeSet::new();
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for (index, step) in file.steps.iter().enumerate() {
            let line = self.line_of(&format!("id: {}", step.id), 1);
            let field = format!("steps[{index}]");
            if !ids.insert(step.id.clone()) {
                errors.push(self.error(
                    line,
                    format!("{field}.id"),
                    format!("the step id {} is used twice", step.id),
                    format!("步骤 id {} 被重复使用", step.id),
                ));
            }
            self.step(step, &field, line, &mut files, &mut errors);
        }
        for (index, check) in file.verify.iter().enumerate() {
            self.check(check, &format!("verify[{index}]"), self.line_of("verify:", 1), &mut errors);
        }
        errors
    }

    fn both_languages(&self, text: &Bilingual, field: &str, line: usize, errors: &mut Vec<ExerciseError>) {
        if text.en.trim().is_empty() || text.zh.trim().is_empty() {
            errors.push(self.error(
                line,
                field.into(),
                "both languages are needed: write en and zh-CN".into(),
                "需要两种语言：请同时填写 en 和 zh-CN".into(),
            ));
        }
    }

    fn step(
        &self,
        step: &Step,
        field: &str,
        line: usize,
        files: &mut BTreeMap<String, String>,
        errors: &mut Vec<ExerciseError>,
    ) {
        self.both_languages(&step.title, &format!("{field}.title"), line, errors);
        self.both_languages(&step.text, &format!("{field}.text"), line, errors);
        for (name, text) in [("hint", &step.hint), ("solution", &step.solution)] {
            if let Some(text) = text {
                self.both_languages(text, &format!("{field}.{name}"), line, errors);
            }
        }
        if let Some(predict) = &step.predict {
            let at = self.line_of("predict:", line);
            if predict.choices.len() < 2 {
                errors.push(self.error(
                    at,
                    format!("{field}.predict.choices"),
                    "a prediction needs at least two choices".into(),
                    "预测题至少需要两个选项".into(),
                ));
            }
            if predict.answer >= predict.choices.len() {
                errors.push(self.error(
                    at,
                    format!("{field}.predict.answer"),
                    format!(
                        "the answer {} is not one of the {} choices (they count from 0)",
                        predict.answer,
                        predict.choices.len()
                    ),
                    format!("答案 {} 不在 {} 个选项之中（从 0 开始计数）", predict.answer, predict.choices.len()),
                ));
            }
        }
        if let Some(action) = &step.action {
            self.action(action, &format!("{field}.action"), self.line_of("action:", line), files, errors);
        }
        // `commands` are shown, not run: any kubectl line is fine there (describe, edit, …).
        for (index, check) in step.checks.iter().enumerate() {
            self.check(check, &format!("{field}.checks[{index}]"), self.line_of("checks:", line), errors);
        }
    }

    fn action(
        &self,
        action: &Action,
        field: &str,
        line: usize,
        files: &mut BTreeMap<String, String>,
        errors: &mut Vec<ExerciseError>,
    ) {
        let kinds = [
            !action.kubectl.is_empty(),
            action.terminal.is_some(),
            action.diff.is_some(),
            action.edit.is_some(),
            action.operator.is_some(),
            action.git.is_some(),
            action.sync.is_some(),
            action.ci_bump.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            errors.push(self.error(
                line,
                field.into(),
                "an action needs exactly one of kubectl, terminal, diff, edit, operator, git, sync, ciBump".into(),
                "一个 action 必须且只能包含 kubectl、terminal、diff、edit、operator、git、sync、ciBump 之一".into(),
            ));
        }
        self.operator_and_git(action, field, line, files, errors);
        for command in &action.kubectl {
            let at = self.line_of(command, line);
            match parse_command_line(command) {
                Err(error) => {
                    let view = error.view();
                    errors.push(self.error(at, format!("{field}.kubectl"), view.message.en, view.message.zh));
                }
                Ok(parsed) => {
                    for name in referenced_files(&parsed.verb) {
                        self.file_exists(&name, at, &format!("{field}.kubectl"), files, errors);
                    }
                }
            }
        }
        if let Some(diff) = &action.diff {
            self.file_exists(diff, line, &format!("{field}.diff"), files, errors);
        }
        if let Some(edit) = &action.edit {
            let at = self.line_of("edit:", line);
            if self.file_exists(&edit.file, at, &format!("{field}.edit.file"), files, errors) {
                let current = files.get(&edit.file).cloned().unwrap_or_default();
                let count = current.matches(edit.replace.as_str()).count();
                if count != 1 {
                    errors.push(self.error(
                        at,
                        format!("{field}.edit.replace"),
                        format!(
                            "\"{}\" must occur exactly once in {} at this step (it occurs {count} times)",
                            edit.replace, edit.file
                        ),
                        format!(
                            "在这一步时，“{}”必须在 {} 中恰好出现一次（实际出现 {count} 次）",
                            edit.replace, edit.file
                        ),
                    ));
                } else {
                    let edited = current.replacen(edit.replace.as_str(), &edit.with, 1);
                    if (edit.file.ends_with(".yaml") || edit.file.ends_with(".yml"))
                        && let Err(problem) = manifest::parse(&edit.file, &edited)
                    {
                        errors.push(self.error(
                            at,
                            format!("{field}.edit.with"),
                            format!("after the edit, {problem}"),
                            format!("修改之后：{problem}"),
                        ));
                    }
                    files.insert(edit.file.clone(), edited);
                }
            }
        }
    }

    fn operator_and_git(
        &self,
        action: &Action,
        field: &str,
        line: usize,
        files: &mut BTreeMap<String, String>,
        errors: &mut Vec<ExerciseError>,
    ) {
        if let Some(operator) = &action.operator {
            let named = [operator.start.as_deref(), operator.stop.as_deref()];
            if named.iter().flatten().count() != 1 || named.iter().flatten().any(|n| *n != "nginx") {
                errors.push(self.error(
                    self.line_of("operator:", line),
                    format!("{field}.operator"),
                    "write {start: nginx} or {stop: nginx} (nginx is the lab's operator)".into(),
                    "请写 {start: nginx} 或 {stop: nginx}（nginx 是实验室的操作符）".into(),
                ));
            }
        }
        let Some(git) = &action.git else { return };
        let at = self.line_of("git:", line);
        let repos = crate::gitops::templates::NAMES;
        if !repos.contains(&git.repo.as_str()) {
            errors.push(self.error(
                at,
                format!("{field}.git.repo"),
                format!("the lab keeps the repositories {}, not \"{}\"", repos.join(", "), git.repo),
                format!("实验室只有这些仓库：{}，没有“{}”", repos.join("、"), git.repo),
            ));
        }
        let ways = [!git.files.is_empty() || git.edit.is_some(), git.revert];
        if ways.iter().filter(|w| **w).count() != 1 {
            errors.push(self.error(
                at,
                format!("{field}.git"),
                "a git action needs files and/or edit, or revert: true".into(),
                "git 操作需要 files 和/或 edit，或者 revert: true".into(),
            ));
        }
        for source in git.files.values() {
            self.file_exists(source, at, &format!("{field}.git.files"), files, errors);
        }
    }

    /// Checks that a file exists beside the exercise and, for a manifest, reads; keeps its text for edits.
    fn file_exists(
        &self,
        name: &str,
        line: usize,
        field: &str,
        files: &mut BTreeMap<String, String>,
        errors: &mut Vec<ExerciseError>,
    ) -> bool {
        if files.contains_key(name) {
            return true;
        }
        let path = self.folder.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            errors.push(self.error(
                line,
                field.into(),
                format!("the file {name} is not in the exercise's folder"),
                format!("练习目录中没有文件 {name}"),
            ));
            return false;
        };
        if (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
            && let Err(problem) = manifest::parse(name, &text)
        {
            errors.push(self.error(
                line,
                field.into(),
                problem.to_string(),
                format!("{}:{}：{}", problem.source_name, problem.line, problem.message_zh),
            ));
        }
        files.insert(name.to_string(), text);
        true
    }

    fn check(&self, check: &Check, field: &str, line: usize, errors: &mut Vec<ExerciseError>) {
        let kinds = [
            check.exists.is_some(),
            check.absent.is_some(),
            check.field.is_some(),
            check.pod_phase.is_some(),
            check.ready_replicas.is_some(),
            check.annotation.is_some(),
            check.http.is_some(),
            check.event.is_some(),
            check.output.is_some(),
            check.git_head.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            errors.push(self.error(line, field.into(),
                "a check needs exactly one of exists, absent, field, podPhase, readyReplicas, annotation, http, event, output, gitHead".into(),
                "一个检查必须且只能包含 exists、absent、field、podPhase、readyReplicas、annotation、http、event、output、gitHead 之一".into()));
        }
        if let Some(description) = &check.description {
            self.both_languages(description, &format!("{field}.description"), line, errors);
        }
        if let Some(f) = &check.field {
            if let Err(why) = parse_path(&f.path) {
                errors.push(self.error(self.line_of(&f.path, line), format!("{field}.field.path"), why.clone(), why));
            }
            let tests = [f.equals.is_some(), f.at_least.is_some(), f.contains.is_some(), f.absent.is_some()];
            if tests.iter().filter(|t| **t).count() != 1 {
                errors.push(self.error(
                    line,
                    format!("{field}.field"),
                    "a field check needs exactly one of equals, atLeast, contains, absent".into(),
                    "字段检查必须且只能包含 equals、atLeast、contains、absent 之一".into(),
                ));
            }
        }
        let named = [check.exists.as_ref(), check.absent.as_ref()];
        for spec in named.into_iter().flatten() {
            if spec.kind.is_empty() || (spec.name.is_empty() && spec.selector.is_none()) {
                errors.push(self.error(
                    line,
                    field.into(),
                    "name the object with kind and name (or a selector)".into(),
                    "请用 kind 和 name（或 selector）指明对象".into(),
                ));
            }
        }
    }
}

/// The files a command line reads (`-f`, `--from-file`).
pub fn referenced_files(verb: &Verb) -> Vec<String> {
    match verb {
        Verb::Apply { files, .. }
        | Verb::Diff { files, .. }
        | Verb::Replace { files, .. }
        | Verb::Delete { files, .. } => files.clone(),
        Verb::Create { files, what, .. } => {
            let mut all = files.clone();
            if let Some(Generator::Configmap { files: sources, .. }) = what {
                all.extend(
                    sources.iter().map(|s| s.split_once('=').map(|(_, p)| p.to_string()).unwrap_or_else(|| s.clone())),
                );
            }
            all
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_with(id: &str, text: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), text).unwrap();
        for (name, body) in files {
            std::fs::write(dir.join(name), body).unwrap();
        }
        root
    }

    const GOOD: &str = r#"schema: 1
id: demo
section: "9.9"
title: {en: Demo, zh-CN: 演示}
summary: {en: A demo, zh-CN: 一个演示}
intro: {en: Hello, zh-CN: 你好}
steps:
  - id: create
    title: {en: Create, zh-CN: 创建}
    text: {en: Create it, zh-CN: 创建它}
    action:
      kubectl: [kubectl apply -f cm.yaml]
    checks:
      - exists: {kind: ConfigMap, name: demo}
"#;

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n";

    #[test]
    fn a_good_exercise_loads() {
        let root = folder_with("demo", GOOD, &[("cm.yaml", CM)]);
        let (exercises, errors) = load_all(root.path());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(exercises[0].file.steps[0].id, "create");
    }

    #[test]
    fn a_missing_field_is_reported_with_its_line() {
        let root = folder_with("demo", &GOOD.replace("    title: {en: Create, zh-CN: 创建}\n", ""), &[("cm.yaml", CM)]);
        let (_, errors) = load_all(root.path());
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.en.contains("missing field `title`"), "{}", errors[0].message.en);
        assert!(errors[0].line >= 8, "line {}", errors[0].line);
    }

    #[test]
    fn a_missing_manifest_and_a_bad_command_are_named_with_line_and_field() {
        let text = GOOD.replace("kubectl apply -f cm.yaml", "kubectl apply -f nope.yaml").replace("steps:\n", "steps:\n  - id: broken\n    title: {en: B, zh-CN: 乙}\n    text: {en: B, zh-CN: 乙}\n    action:\n      kubectl: [kubectl scale deployment/x]\n");
        let root = folder_with("demo", &text, &[]);
        let (_, errors) = load_all(root.path());
        let fields: Vec<_> = errors.iter().map(|e| e.field.clone().unwrap_or_default()).collect();
        assert!(fields.contains(&"steps[0].action.kubectl".to_string()), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.message.en.contains("nope.yaml") && e.field.as_deref() == Some("steps[1].action.kubectl")),
            "{errors:?}"
        );
        assert!(errors.iter().all(|e| e.line > 1));
    }

    #[test]
    fn a_missing_translation_and_a_check_without_condition_are_refused() {
        let text = GOOD
            .replace("text: {en: Create it, zh-CN: 创建它}", "text: {en: Create it, zh-CN: \"\"}")
            .replace("- exists: {kind: ConfigMap, name: demo}", "- id: nothing");
        let root = folder_with("demo", &text, &[("cm.yaml", CM)]);
        let (_, errors) = load_all(root.path());
        assert!(errors.iter().any(|e| e.field.as_deref() == Some("steps[0].text")), "{errors:?}");
        assert!(errors.iter().any(|e| e.field.as_deref() == Some("steps[0].checks[0]")), "{errors:?}");
    }
}

//! Carries out a parsed command line. Verbs that need the live model (a port-forward, an
//! interactive terminal) or the diff come back as an [`Outcome`] for the engine to finish.

use super::Kubectl;
use super::apply::ApplyOptions;
use super::command_line::{CommandLine, Generator, Rollout, Verb, parse_duration};
use super::get::GetFormat;
use super::imperative::MetaField;
use super::manifest::{Manifest, parse};
use super::objects::usage;
use super::output::CommandOutput;
use super::rest::{PatchType, Target};
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where `-f` files come from: an exercise's folder, or the learner's working directory.
pub trait FileSource: Send + Sync {
    /// The manifests of a file or directory as the learner named it.
    fn manifests(&self, name: &str) -> Result<Vec<Manifest>>;
    /// A file's text (`create configmap --from-file`).
    fn text(&self, name: &str) -> Result<String>;
}

/// Files under a directory (relative names resolve against it), with `{{name}}` placeholders
/// replaced by their values as the files are read.
#[derive(Clone, Debug, Default)]
pub struct DirectoryFiles {
    /// The directory.
    pub root: PathBuf,
    /// Placeholder values (`git:config` → the config repository's clone URL).
    pub vars: std::collections::BTreeMap<String, String>,
}

impl DirectoryFiles {
    /// Files under `root`, without placeholders.
    pub fn new(root: impl Into<PathBuf>) -> DirectoryFiles {
        DirectoryFiles { root: root.into(), vars: Default::default() }
    }

    /// `text` with every `{{name}}` whose name is known replaced.
    pub fn substitute(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (name, value) in &self.vars {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        text
    }

    fn path(&self, name: &str) -> PathBuf {
        let path = Path::new(name);
        if path.is_absolute() { path.to_path_buf() } else { self.root.join(path) }
    }
}

impl FileSource for DirectoryFiles {
    fn manifests(&self, name: &str) -> Result<Vec<Manifest>> {
        let path = self.path(name);
        let mut files = Vec::new();
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json"))
                .collect();
            entries.sort();
            for entry in entries {
                let shown = Path::new(name).join(entry.file_name().unwrap_or_default()).display().to_string();
                files.push((shown, entry));
            }
        } else {
            files.push((name.to_string(), path));
        }
        let mut manifests = Vec::new();
        for (shown, path) in files {
            let text = std::fs::read_to_string(&path).map_err(|_| missing_file(&shown))?;
            manifests.extend(parse(&shown, &self.substitute(&text)).map_err(|e| Error::from(e.view()))?);
        }
        Ok(manifests)
    }

    fn text(&self, name: &str) -> Result<String> {
        std::fs::read_to_string(self.path(name)).map(|t| self.substitute(&t)).map_err(|_| missing_file(name))
    }
}

fn missing_file(name: &str) -> Error {
    let mut error = usage(&format!("the path \"{name}\" does not exist"), &format!("路径“{name}”不存在"));
    if let Error::Explained(view) = &mut error {
        view.code = "no-file".into();
    }
    error
}

/// What a command line came to.
#[derive(Debug)]
pub enum Outcome {
    /// Done: what kubectl would print.
    Output(CommandOutput),
    /// `kubectl diff`: the engine computes the diff of these manifests.
    Diff(Vec<Manifest>),
    /// `kubectl port-forward`: the engine starts a port-forward.
    PortForward {
        /// The pod or owner.
        target: Target,
        /// The local port, if one was asked for.
        local: Option<u16>,
        /// The container port.
        remote: u16,
    },
    /// `kubectl exec -it`: the engine opens a terminal.
    Terminal {
        /// The pod.
        pod: String,
        /// The namespace.
        namespace: String,
        /// The container.
        container: Option<String>,
        /// The command.
        command: Vec<String>,
    },
}

/// Options for running a line on the learner's behalf.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Labels added to every object the line creates (the exercise's label, for reset).
    pub labels: Map<String, Value>,
}

impl Kubectl {
    /// Runs one parsed command line.
    pub async fn run(&self, line: &CommandLine, files: &dyn FileSource, options: &RunOptions) -> Result<Outcome> {
        let output = match &line.verb {
            Verb::Apply { files: names, dry_run, scope } => {
                let kubectl = self.in_namespace(scope.namespace.as_deref());
                let manifests = read_all(files, names)?;
                let extra_labels =
                    options.labels.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
                let dry_run = dry_run.as_deref().is_some_and(|d| d == "server");
                kubectl.apply_all(&manifests, &ApplyOptions { extra_labels, dry_run }).await.1
            }
            Verb::Diff { files: names, scope } => {
                let _ = scope;
                return Ok(Outcome::Diff(read_all(files, names)?));
            }
            Verb::Create { files: names, what, scope } => {
                self.run_create(names, what.as_ref(), scope.namespace.as_deref(), files, options).await?
            }
            Verb::Replace { files: names, scope } => {
                self.in_namespace(scope.namespace.as_deref()).replace_from(&read_all(files, names)?).await
            }
            Verb::Delete { resources, files: names, cascade, wait, scope } => {
                let ns = scope.namespace.as_deref();
                let targets = if names.is_empty() {
                    self.targets(resources, ns).await?
                } else {
                    let kubectl = self.in_namespace(ns);
                    let mut targets = Vec::new();
                    for manifest in read_all(files, names)? {
                        targets.push(kubectl.target_of_manifest(&manifest).await?);
                    }
                    targets
                };
                let propagation = propagation(cascade)?;
                self.delete(&targets, propagation, wait != "false").await
            }
            Verb::Scale { resources, replicas, scope } => {
                self.scale(&self.targets(resources, scope.namespace.as_deref()).await?, *replicas).await
            }
            Verb::Annotate(args) | Verb::Label(args) => {
                let field =
                    if matches!(line.verb, Verb::Annotate(_)) { MetaField::Annotations } else { MetaField::Labels };
                let (objects, pairs) = args.split();
                let targets = self.targets(&objects, args.scope.namespace.as_deref()).await?;
                self.set_meta(field, &targets, &pairs, args.overwrite).await
            }
            Verb::Patch { resources, patch, kind, scope } => {
                let targets = self.targets(resources, scope.namespace.as_deref()).await?;
                self.patch(&targets, &parse_patch(patch)?, patch_type(kind)?).await
            }
            Verb::Rollout { action } => self.run_rollout(action).await?,
            Verb::Get { args, output, all_namespaces, scope } => {
                let format = get_format(output.as_deref())?;
                self.get(&args[0], &args[1..], scope.namespace.as_deref(), *all_namespaces, format).await
            }
            Verb::Logs { pod, container, scope, .. } => {
                self.logs(pod.trim_start_matches("pod/"), container.as_deref(), scope.namespace.as_deref()).await
            }
            Verb::Exec { pod, container, stdin, tty, command, scope } => {
                let pod = pod.trim_start_matches("pod/").to_string();
                if *stdin && *tty {
                    let namespace = scope.namespace.clone().unwrap_or_else(|| self.default_namespace.clone());
                    return Ok(Outcome::Terminal {
                        pod,
                        namespace,
                        container: container.clone(),
                        command: command.clone(),
                    });
                }
                if command.is_empty() {
                    return Err(usage(
                        "you must specify at least one command for the container",
                        "必须为容器指定至少一条命令",
                    ));
                }
                self.exec(&pod, container.as_deref(), scope.namespace.as_deref(), command).await
            }
            Verb::PortForward { target, ports, scope } => {
                let (kind, name) = target.split_once('/').unwrap_or(("pod", target));
                let target = self.target_of(kind, name, scope.namespace.as_deref()).await?;
                let (local, remote) = port_pair(&ports[0])?;
                return Ok(Outcome::PortForward { target, local, remote });
            }
        };
        Ok(Outcome::Output(output))
    }

    /// This runner with another default namespace (`-n`).
    pub fn in_namespace(&self, namespace: Option<&str>) -> Kubectl {
        match namespace {
            Some(ns) => Kubectl { default_namespace: ns.to_string(), ..self.clone() },
            None => self.clone(),
        }
    }

    async fn run_create(
        &self,
        names: &[String],
        what: Option<&Generator>,
        namespace: Option<&str>,
        files: &dyn FileSource,
        options: &RunOptions,
    ) -> Result<CommandOutput> {
        let labels = &options.labels;
        Ok(match what {
            None if names.is_empty() => {
                return Err(usage(
                    "must specify one of -f and -k, or a resource to create",
                    "必须指定 -f，或要创建的资源类型",
                ));
            }
            None => self.in_namespace(namespace).create_from(&read_all(files, names)?, labels).await,
            Some(Generator::Deployment { name, image, replicas, port }) => {
                self.create_deployment(name, image, *replicas, *port, namespace, labels).await
            }
            Some(Generator::Namespace { name }) => self.create_namespace(name, labels).await,
            Some(Generator::Configmap { name, literals, files: sources }) => {
                let mut data = Vec::new();
                for literal in literals {
                    let (k, v) = literal.split_once('=').ok_or_else(|| {
                        usage(
                            &format!("invalid literal source {literal}, expected key=value"),
                            &format!("字面量 {literal} 无效，应为 key=value"),
                        )
                    })?;
                    data.push((k.to_string(), v.to_string()));
                }
                for source in sources {
                    let (key, path) = match source.split_once('=') {
                        Some((k, p)) => (k.to_string(), p.to_string()),
                        None => (
                            Path::new(source).file_name().unwrap_or_default().to_string_lossy().to_string(),
                            source.clone(),
                        ),
                    };
                    data.push((key, files.text(&path)?));
                }
                self.create_configmap(name, data, namespace, labels).await
            }
        })
    }

    async fn run_rollout(&self, action: &Rollout) -> Result<CommandOutput> {
        Ok(match action {
            Rollout::Restart { resources, scope } => {
                self.rollout_restart(&self.targets(resources, scope.namespace.as_deref()).await?).await
            }
            Rollout::Undo { resources, to_revision, scope } => {
                self.rollout_undo(&self.targets(resources, scope.namespace.as_deref()).await?, *to_revision).await
            }
            Rollout::Status { resources, timeout, scope } => {
                let timeout = parse_duration(timeout).unwrap_or(Duration::from_secs(300));
                let targets = self.targets(resources, scope.namespace.as_deref()).await?;
                let mut output = CommandOutput::default();
                for target in &targets {
                    output.extend(self.rollout_status(target, timeout).await);
                }
                output
            }
        })
    }
}

fn read_all(files: &dyn FileSource, names: &[String]) -> Result<Vec<Manifest>> {
    let mut manifests = Vec::new();
    for name in names {
        manifests.extend(files.manifests(name)?);
    }
    Ok(manifests)
}

fn propagation(cascade: &str) -> Result<&'static str> {
    match cascade {
        "background" | "true" => Ok("Background"),
        "foreground" => Ok("Foreground"),
        "orphan" | "false" => Ok("Orphan"),
        other => Err(usage(
            &format!("invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""),
            &format!("cascade 的值（{other}）无效，应为 background、foreground 或 orphan"),
        )),
    }
}

fn patch_type(kind: &str) -> Result<PatchType> {
    match kind {
        "strategic" => Ok(PatchType::Strategic),
        "merge" => Ok(PatchType::Merge),
        "json" => Ok(PatchType::Json),
        other => Err(usage(
            &format!("--type must be one of [json merge strategic], not \"{other}\""),
            &format!("--type 必须是 json、merge 或 strategic 之一，而不是“{other}”"),
        )),
    }
}

fn parse_patch(text: &str) -> Result<Value> {
    serde_json::from_str(text)
        .or_else(|_| serde_norway::from_str::<Value>(text))
        .map_err(|e| usage(&format!("unable to parse \"{text}\": {e}"), &format!("无法解析补丁“{text}”：{e}")))
}

fn get_format(output: Option<&str>) -> Result<GetFormat> {
    match output {
        None => Ok(GetFormat::Table),
        Some("wide") => Ok(GetFormat::Wide),
        Some("yaml") => Ok(GetFormat::Yaml),
        Some("json") => Ok(GetFormat::Json),
        Some("name") => Ok(GetFormat::Name),
        Some(other) => Err(usage(
            &format!(
                "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,name,wide,yaml"
            ),
            &format!("不支持输出格式“{other}”，可用的有：json、name、wide、yaml"),
        )),
    }
}

fn port_pair(text: &str) -> Result<(Option<u16>, u16)> {
    let bad = || usage(&format!("invalid port \"{text}\""), &format!("端口“{text}”无效"));
    match text.split_once(':') {
        Some(("", remote)) => Ok((None, remote.parse().map_err(|_| bad())?)),
        Some((local, remote)) => Ok((Some(local.parse().map_err(|_| bad())?), remote.parse().map_err(|_| bad())?)),
        None => {
            let port: u16 = text.parse().map_err(|_| bad())?;
            Ok((Some(port), port))
        }
    }
}

//! The kubectl command lines the lab understands, as one table of clap definitions: the exercise
//! files' actions and the learner's typed commands are parsed here, and every parsed line is shown
//! to the learner exactly as written, so it is also what they could type themselves.

use super::objects::usage;
use super::words::split_words;
use crate::error::Result;
use clap::{Args, Parser, Subcommand};

/// A parsed kubectl command line.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(name = "kubectl", disable_help_subcommand = true, disable_version_flag = true, disable_help_flag = true)]
pub struct CommandLine {
    /// The verb and its arguments.
    #[command(subcommand)]
    pub verb: Verb,
}

/// Flags most verbs share.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// `-n`.
    #[arg(short = 'n', long = "namespace", global = true)]
    pub namespace: Option<String>,
}

/// The verbs.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// `apply -f FILE…`
    Apply {
        /// Files or directories.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
        /// `--dry-run=server`.
        #[arg(long = "dry-run")]
        dry_run: Option<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `diff -f FILE…`
    Diff {
        /// Files or directories.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `create -f FILE…` or `create deployment|namespace|configmap …`
    #[command(args_conflicts_with_subcommands = true)]
    Create {
        /// Files or directories.
        #[arg(short = 'f', long = "filename")]
        files: Vec<String>,
        /// A generator.
        #[command(subcommand)]
        what: Option<Generator>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `replace -f FILE…`
    Replace {
        /// Files.
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `delete TYPE/NAME…`, `delete TYPE NAME…` or `delete -f FILE…`
    Delete {
        /// Objects.
        resources: Vec<String>,
        /// Files.
        #[arg(short = 'f', long = "filename")]
        files: Vec<String>,
        /// `background`, `foreground` or `orphan`.
        #[arg(long, default_value = "background")]
        cascade: String,
        /// Wait until the objects are gone.
        #[arg(long, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
        wait: String,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `scale TYPE/NAME --replicas=N`
    Scale {
        /// Objects.
        #[arg(required = true)]
        resources: Vec<String>,
        /// The new count.
        #[arg(long, required = true)]
        replicas: i64,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `annotate TYPE/NAME KEY=VALUE… [--overwrite]`
    Annotate(MetaArgs),
    /// `label TYPE/NAME KEY=VALUE… [--overwrite]`
    Label(MetaArgs),
    /// `patch TYPE/NAME -p PATCH [--type strategic|merge|json]`
    Patch {
        /// Objects.
        #[arg(required = true)]
        resources: Vec<String>,
        /// The patch (JSON or YAML).
        #[arg(short = 'p', long = "patch", required = true)]
        patch: String,
        /// Its type.
        #[arg(long = "type", default_value = "strategic")]
        kind: String,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `rollout restart|undo|status TYPE/NAME`
    Rollout {
        /// What to do.
        #[command(subcommand)]
        action: Rollout,
    },
    /// `get TYPE [NAME…] [-o wide|yaml|json|name] [-A]`
    Get {
        /// The type, then names.
        #[arg(required = true)]
        args: Vec<String>,
        /// Output format.
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
        /// Every namespace.
        #[arg(short = 'A', long = "all-namespaces")]
        all_namespaces: bool,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `logs POD [-c CONTAINER]`
    Logs {
        /// The pod (or `pod/NAME`).
        pod: String,
        /// The container.
        #[arg(short = 'c', long = "container")]
        container: Option<String>,
        /// Follow (the lab's log view follows; here the log so far is printed).
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `exec [-it] POD [-c CONTAINER] -- COMMAND…`
    Exec {
        /// The pod (or `pod/NAME`).
        pod: String,
        /// The container.
        #[arg(short = 'c', long = "container")]
        container: Option<String>,
        /// Keep standard input open.
        #[arg(short = 'i', long = "stdin")]
        stdin: bool,
        /// Allocate a terminal.
        #[arg(short = 't', long = "tty")]
        tty: bool,
        /// The command.
        #[arg(last = true)]
        command: Vec<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// `port-forward TYPE/NAME [LOCAL:]REMOTE`
    PortForward {
        /// The pod or owner.
        target: String,
        /// Port pairs.
        #[arg(required = true)]
        ports: Vec<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
}

/// `annotate` / `label` arguments: objects first, then `KEY=VALUE` or `KEY-`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct MetaArgs {
    /// Objects and pairs, mixed as kubectl allows.
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Replace existing values.
    #[arg(long)]
    pub overwrite: bool,
    /// `-n`.
    #[command(flatten)]
    pub scope: Scope,
}

impl MetaArgs {
    /// Splits the arguments into objects and pairs.
    pub fn split(&self) -> (Vec<String>, Vec<String>) {
        self.args.iter().cloned().partition(|a| !(a.contains('=') || a.ends_with('-')))
    }
}

/// The `create` generators.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Generator {
    /// `create deployment NAME --image=IMAGE`
    Deployment {
        /// Its name.
        name: String,
        /// The image.
        #[arg(long, required = true)]
        image: String,
        /// Replicas.
        #[arg(long, default_value_t = 1)]
        replicas: i64,
        /// A container port.
        #[arg(long)]
        port: Option<i64>,
    },
    /// `create namespace NAME`
    #[command(alias = "ns")]
    Namespace {
        /// Its name.
        name: String,
    },
    /// `create configmap NAME --from-literal=K=V --from-file=[K=]PATH`
    #[command(alias = "cm")]
    Configmap {
        /// Its name.
        name: String,
        /// Literal entries.
        #[arg(long = "from-literal")]
        literals: Vec<String>,
        /// File entries.
        #[arg(long = "from-file")]
        files: Vec<String>,
    },
}

/// `rollout` actions.
#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// New pods from the same template.
    Restart {
        /// Objects.
        #[arg(required = true)]
        resources: Vec<String>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// Back to a previous revision.
    Undo {
        /// Objects.
        #[arg(required = true)]
        resources: Vec<String>,
        /// The revision (the previous one when absent).
        #[arg(long = "to-revision")]
        to_revision: Option<i64>,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
    /// Wait for the rollout.
    Status {
        /// The object.
        #[arg(required = true)]
        resources: Vec<String>,
        /// Give up after this long (`60s`, `5m`).
        #[arg(long, default_value = "5m")]
        timeout: String,
        /// `-n`.
        #[command(flatten)]
        scope: Scope,
    },
}

/// Parses one command line starting with `kubectl`.
pub fn parse_command_line(line: &str) -> Result<CommandLine> {
    let words = split_words(line.trim())
        .map_err(|why| usage(&format!("cannot read the command line: {why}"), &format!("无法解析命令行：{why}")))?;
    if words.first().map(String::as_str) != Some("kubectl") {
        return Err(usage(
            &format!("the command must start with kubectl: {line}"),
            &format!("命令必须以 kubectl 开头：{line}"),
        ));
    }
    CommandLine::try_parse_from(&words).map_err(|error| {
        let said = error.to_string();
        // clap's message runs until the first blank line (its usage and help follow).
        let first = said
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("error: ")
            .to_string();
        usage(&format!("{first} (in: {line})"), &format!("{first}（命令：{line}）"))
    })
}

/// Parses `30s`, `5m`, `1h` (kubectl's durations for `--timeout`).
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chapters_commands_parse() {
        for line in [
            "kubectl apply -f nginx-pod.yaml",
            "kubectl create deployment nginx-imperative --image=nginx:latest",
            "kubectl scale deployment/nginx-imperative --replicas 3",
            "kubectl annotate deployment/nginx-imperative environment=prod",
            "kubectl annotate deployment nginx-imperative organization=sales --overwrite",
            "kubectl exec -it nginx -c nginx -- sh",
            "kubectl exec nginx -- kill 1",
            "kubectl port-forward pod/nginx 8080:80",
            "kubectl rollout restart deployment/sample-app -n sample-app",
            "kubectl get pods -o wide",
            "kubectl delete pod nginx",
            "kubectl create namespace gitops",
            "kubectl patch deployment web -p '{\"spec\":{\"replicas\":2}}' --type merge",
            "kubectl diff -f declarative-deployment.yaml",
        ] {
            parse_command_line(line).unwrap_or_else(|e| panic!("{line}: {}", e.view().message.en));
        }
    }

    #[test]
    fn a_bad_line_names_the_problem() {
        let error = parse_command_line("kubectl scale deployment/web").unwrap_err().view();
        assert!(error.message.en.contains("--replicas"), "{}", error.message.en);
        assert!(parse_command_line("ls -l").is_err());
    }

    #[test]
    fn meta_arguments_split_into_objects_and_pairs() {
        let CommandLine { verb: Verb::Annotate(args) } =
            parse_command_line("kubectl annotate deployment web a=b c-").unwrap()
        else {
            panic!("annotate")
        };
        assert_eq!(
            args.split(),
            (vec!["deployment".to_string(), "web".to_string()], vec!["a=b".to_string(), "c-".to_string()])
        );
    }
}

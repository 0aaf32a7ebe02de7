//! What a kubectl command prints: standard output, standard error, the exit status, and the first
//! failure explained for the learner.

use crate::cluster::diagnose::{Failure, classify, explain_kube_error};
use crate::error::Error;
use gitops_lab_protocol::ErrorView;

/// The result of one kubectl-like command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// What kubectl would print on standard output.
    pub stdout: String,
    /// What kubectl would print on standard error.
    pub stderr: String,
    /// The first failure, explained; `None` when the command succeeded (kubectl's exit code 0).
    pub error: Option<ErrorView>,
}

impl CommandOutput {
    /// Whether the command succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// A line on standard output.
    pub fn out(&mut self, line: impl AsRef<str>) {
        self.stdout.push_str(line.as_ref());
        self.stdout.push('\n');
    }

    /// A line on standard error (warnings), without failing.
    pub fn warn(&mut self, line: impl AsRef<str>) {
        self.stderr.push_str(line.as_ref());
        if !line.as_ref().ends_with('\n') {
            self.stderr.push('\n');
        }
    }

    /// Records a failure: kubectl's error line on standard error, and the explanation if it is the first.
    pub fn fail(&mut self, line: impl AsRef<str>, view: ErrorView) {
        self.warn(line);
        if self.error.is_none() {
            self.error = Some(view);
        }
    }

    /// Records an engine error the way kubectl would print it.
    pub fn fail_with(&mut self, error: &Error) {
        let view = error.view();
        let line = match error {
            Error::Kube(kube) => kubectl_error_line(kube, None),
            _ => view.detail.clone().unwrap_or_else(|| format!("error: {}", view.message.en)),
        };
        self.fail(line, view);
    }

    /// Appends another command's output.
    pub fn extend(&mut self, other: CommandOutput) {
        self.stdout.push_str(&other.stdout);
        self.stderr.push_str(&other.stderr);
        if self.error.is_none() {
            self.error = other.error;
        }
    }

    /// Standard output then standard error, as a terminal shows them.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// How kubectl prints a failed request; `context` is e.g. `("creating", "pod.yaml")` for
/// `error when creating "pod.yaml": …`.
pub fn kubectl_error_line(error: &kube::Error, context: Option<(&str, &str)>) -> String {
    match error {
        kube::Error::Api(status) => {
            let message = match context {
                Some((verb, source)) => format!("error when {verb} \"{source}\": {}", status.message),
                None => status.message.clone(),
            };
            if status.reason.is_empty() {
                format!("Error from server: {message}")
            } else {
                format!("Error from server ({}): {message}", status.reason)
            }
        }
        other if classify(other) == Failure::Unreachable => {
            "The connection to the server was refused - did you specify the right host or port?".to_string()
        }
        other => format!("error: {}", explain_kube_error(other).detail.unwrap_or_default()),
    }
}

/// An API failure with kubectl's line and the learner's explanation, recorded on `output`.
pub fn record_kube_error(output: &mut CommandOutput, error: &kube::Error, context: Option<(&str, &str)>) {
    output.fail(kubectl_error_line(error, context), explain_kube_error(error));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_reads_like_kubectl() {
        let status = kube::core::Status::failure("pods \"nginx\" already exists", "AlreadyExists").with_code(409);
        let error = kube::Error::Api(Box::new(status));
        assert_eq!(
            kubectl_error_line(&error, Some(("creating", "nginx-pod.yaml"))),
            "Error from server (AlreadyExists): error when creating \"nginx-pod.yaml\": pods \"nginx\" already exists"
        );
    }

    #[test]
    fn the_first_failure_is_kept_and_the_output_goes_on() {
        let mut output = CommandOutput::default();
        output.out("pod/a created");
        output.fail("error: one", ErrorView::new("x", gitops_lab_protocol::Text::same("one")));
        output.fail("error: two", ErrorView::new("y", gitops_lab_protocol::Text::same("two")));
        assert!(!output.ok());
        assert_eq!(output.error.unwrap().code, "x");
        assert_eq!(output.stderr, "error: one\nerror: two\n");
        assert_eq!(output.stdout, "pod/a created\n");
    }
}

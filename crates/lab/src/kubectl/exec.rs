//! `kubectl exec POD -- COMMAND` without a terminal: the command's output and kubectl's line for a
//! non-zero exit. (Interactive terminals are the live model's exec sessions.)

use super::Kubectl;
use super::output::{CommandOutput, record_kube_error};
use gitops_lab_protocol::{ErrorView, Text};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use tokio::io::AsyncReadExt;

impl Kubectl {
    /// Runs `command` in a container and collects what it prints.
    pub async fn exec(
        &self,
        pod: &str,
        container: Option<&str>,
        namespace: Option<&str>,
        command: &[String],
    ) -> CommandOutput {
        let mut output = CommandOutput::default();
        let ns = namespace.unwrap_or(&self.default_namespace);
        let api: kube::Api<Pod> = kube::Api::namespaced(self.client.clone(), ns);
        let mut params = AttachParams::default().stdin(false).stdout(true).stderr(true);
        if let Some(container) = container {
            params = params.container(container);
        }
        let mut process = match api.exec(pod, command.to_vec(), &params).await {
            Ok(process) => process,
            Err(error) => {
                record_kube_error(&mut output, &error, None);
                return output;
            }
        };
        let mut stdout = process.stdout();
        let mut stderr = process.stderr();
        let status = process.take_status();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let read_out = async {
            if let Some(s) = stdout.as_mut() {
                let _ = s.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(s) = stderr.as_mut() {
                let _ = s.read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        output.stdout.push_str(&String::from_utf8_lossy(&out));
        output.stderr.push_str(&String::from_utf8_lossy(&err));
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        let _ = process.join().await;
        if let Some(code) = status.as_ref().and_then(exit_code).filter(|code| *code != 0) {
            output.fail(
                format!("command terminated with exit code {code}"),
                ErrorView::new(
                    "exit-code",
                    Text::new(format!("The command exited with code {code}."), format!("命令以退出码 {code} 结束。")),
                ),
            );
        }
        output
    }
}

fn exit_code(status: &Status) -> Option<i32> {
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    let from_causes = status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| causes.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref()?.parse().ok());
    from_causes.or(Some(1))
}

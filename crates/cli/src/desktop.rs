//! `gitops-lab desktop`: the lab in a native window, by running the Tauri shell
//! (`gitops-lab-desktop`) that is built beside this binary.
//!
//! The shell links the webview libraries; keeping it a separate program keeps them out of
//! `gitops-lab`, which must run on machines without a display.

use crate::cluster_args::ClusterArgs;
use crate::messages::Messages;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `desktop`, passed on to the shell.
#[derive(clap::Args, Debug)]
pub struct DesktopArgs {
    /// The cluster and the data directory.
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs the desktop shell and returns its exit status.
pub fn run(args: DesktopArgs, messages: &Messages) -> anyhow::Result<ExitCode> {
    let Some(shell) = find_shell() else {
        anyhow::bail!(messages.say(
            "the desktop window (gitops-lab-desktop) is not built next to gitops-lab; run scripts/lab, or `gitops-lab web` for the browser",
            "桌面窗口程序（gitops-lab-desktop）没有和 gitops-lab 放在一起；请运行 scripts/lab，或用 `gitops-lab web` 在浏览器中使用",
        ));
    };
    let config = args.cluster.engine_config().context(messages.no_data_dir())?;
    let mut command = std::process::Command::new(&shell);
    command.arg("--cluster").arg(config.cluster.to_arg());
    command.arg("--data-dir").arg(&config.data_dir);
    command.arg("--exercises").arg(&config.exercises_dir);
    let status = command.status().with_context(|| format!("cannot start {}", shell.display()))?;
    Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
}

/// `gitops-lab-desktop` beside this program.
fn find_shell() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let shell = exe.parent()?.join(format!("gitops-lab-desktop{}", std::env::consts::EXE_SUFFIX));
    shell.is_file().then_some(shell)
}

//! `gitops-lab apply -f PATH` and `gitops-lab diff -f PATH`: the engine's kubectl-identical apply and
//! its explained three-way diff, from the command line.

use crate::cluster_args::ClusterArgs;
use crate::connect::{explain, start_connected};
use crate::messages::Messages;
use anyhow::Context;
use gitops_lab::kubectl::{DirectoryFiles, FileSource, Kubectl};
use gitops_lab::protocol::{FieldOutcome, ObjectDiffState, Text};
use std::process::ExitCode;

/// `apply` / `diff` flags.
#[derive(clap::Args, Debug)]
pub struct FileArgs {
    /// A manifest file or a folder of them.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<String>,
    /// The namespace for objects that name none.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// Applies the files; exit 1 when any object failed.
pub fn apply(args: FileArgs, messages: &Messages) -> anyhow::Result<ExitCode> {
    let config = args.cluster.engine_config().context(messages.no_data_dir())?;
    runtime()?.block_on(async {
        let engine = start_connected(config, messages).await?;
        let result = async {
            let handle = engine.connection().require().map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?;
            let kubectl = Kubectl::new(&handle).in_namespace(args.namespace.as_deref());
            let files = DirectoryFiles::new(std::env::current_dir()?);
            let mut manifests = Vec::new();
            for name in &args.files {
                manifests.extend(files.manifests(name).map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?);
            }
            let (_, output) = kubectl.apply_all(&manifests, &Default::default()).await;
            print!("{}", output.stdout);
            eprint!("{}", output.stderr);
            Ok(if output.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        .await;
        engine.shutdown().await;
        result
    })
}

/// Prints the diff and the three-way view; exit 0 without differences, 1 with, 2 on failure (as kubectl diff).
pub fn diff(args: FileArgs, messages: &Messages) -> anyhow::Result<ExitCode> {
    let config = args.cluster.engine_config().context(messages.no_data_dir())?;
    runtime()?.block_on(async {
        let engine = start_connected(config, messages).await?;
        let result = async {
            let handle = engine.connection().require().map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?;
            let kubectl = Kubectl::new(&handle).in_namespace(args.namespace.as_deref());
            let files = DirectoryFiles::new(std::env::current_dir()?);
            let mut differs = false;
            let mut failed = false;
            for name in &args.files {
                let manifests = files.manifests(name).map_err(|e| anyhow::anyhow!(explain(&e.view(), messages)))?;
                let view = gitops_lab::diff::diff_manifests(&kubectl, name, &manifests).await;
                for object in &view.objects {
                    print_object(object, messages);
                    differs |= matches!(object.state, ObjectDiffState::New | ObjectDiffState::Changed);
                    failed |= object.state == ObjectDiffState::Error;
                }
            }
            Ok(ExitCode::from(if failed {
                2
            } else if differs {
                1
            } else {
                0
            }))
        }
        .await;
        engine.shutdown().await;
        result
    })
}

fn print_object(object: &gitops_lab::protocol::ObjectDiff, messages: &Messages) {
    let state = match object.state {
        ObjectDiffState::New => Text::new("new: apply creates it", "新对象：apply 会创建它"),
        ObjectDiffState::Changed => Text::new("changed: apply configures it", "有变化：apply 会更新它"),
        ObjectDiffState::Unchanged => Text::new("unchanged", "无变化"),
        ObjectDiffState::Error => Text::new("cannot compare", "无法比较"),
    };
    println!("# {} — {}", object.object.kubectl_name(), messages.text(&state));
    if let Some(error) = &object.error {
        println!("  {}", explain(error, messages));
        return;
    }
    if let Some(note) = &object.note {
        println!("  {}", messages.text(note));
    }
    print!("{}", object.unified);
    for field in object.fields.iter().filter(|f| f.outcome != FieldOutcome::Unchanged) {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        println!(
            "  {}: last-applied {} | live {} | file {} → {}",
            field.path,
            show(&field.last_applied),
            show(&field.live),
            show(&field.file),
            messages.text(&field.reason)
        );
    }
}

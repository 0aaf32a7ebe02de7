//! `gitops-lab sync`: the lab's own GitOps sync loop from the command line — once, or on every new
//! commit with `--watch` — printing each resource's apply line and state, and every manifest that
//! cannot be read with its file and line.

use crate::cluster_args::ClusterArgs;
use anyhow::{Context, bail};
use gitops_lab::Engine;
use gitops_lab::protocol::{
    ClusterPhase, Command, ErrorView, Event, Language, Reply, ResourceSyncState, SyncRunView, Text,
};
use std::collections::HashMap;

/// Flags of `sync`.
#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// The repository: the lab's `config`, a path to a git repository, or a URL (http://, file://).
    #[arg(long)]
    repo: String,
    /// The directory of manifests inside the repository.
    #[arg(long, default_value = ".")]
    path: String,
    /// Delete objects this loop created that were removed from git.
    #[arg(long)]
    prune: bool,
    /// Keep running and sync every new commit (Ctrl+C stops).
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// Runs the sync; fails (non-zero exit) when a resource or a manifest failed.
pub fn run(args: SyncArgs) -> anyhow::Result<()> {
    let tag = std::env::var("GITOPS_LAB_LANG").or_else(|_| std::env::var("LANG")).unwrap_or_default();
    let language = Language::from_tag(&tag);
    let say = |text: &Text| text.get(language).to_string();
    let config = args.cluster.engine_config().context(say(&Text::new(
        "cannot find a data directory for this user; pass --data-dir DIR or set GITOPS_LAB_DATA",
        "找不到当前用户的数据目录；请使用 --data-dir DIR 或设置 GITOPS_LAB_DATA",
    )))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let engine = Engine::start(config).await;
        let result = sync(&engine, &args, language).await;
        engine.shutdown().await;
        result
    })
}

async fn sync(engine: &Engine, args: &SyncArgs, language: Language) -> anyhow::Result<()> {
    let status = engine.connection().status();
    if status.phase != ClusterPhase::Connected {
        bail!(explain(&status.error.unwrap_or_else(|| ErrorView::new("cluster", status.message)), language));
    }
    let mut events = engine.subscribe();
    let configure = Command::SyncConfigure {
        repo: args.repo.clone(),
        path: args.path.clone(),
        prune: args.prune,
        auto: args.watch,
    };
    engine.handle(configure).await.map_err(|e| anyhow::anyhow!(explain(&e, language)))?;
    if !args.watch {
        let run = match engine.handle(Command::SyncNow).await {
            Ok(Reply::SyncRun(run)) => run,
            Ok(_) => bail!("unexpected answer"),
            Err(error) => bail!(explain(&error, language)),
        };
        return if print_run(&run, language) { Ok(()) } else { Err(anyhow::anyhow!(failed(&run, language))) };
    }
    println!(
        "{}",
        Text::new(
            format!("Watching {} for new commits (Ctrl+C stops).", args.repo),
            format!("正在监视 {} 的新提交（按 Ctrl+C 停止）。", args.repo),
        )
        .get(language)
    );
    follow(&mut events, language).await;
    Ok(())
}

/// Prints every new run and every change of a resource's state until SIGINT or SIGTERM.
async fn follow(events: &mut gitops_lab::Subscription, language: Language) {
    let mut printed: Option<String> = None;
    let mut states: HashMap<usize, ResourceSyncState> = HashMap::new();
    let stop = crate::shutdown::signals();
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            _ = &mut stop => return,
            event = events.next() => event,
        };
        let view = match event {
            Some(Event::Sync(view)) => view,
            Some(Event::Notice { level, message }) => {
                eprintln!("{level}: {}", message.get(language));
                continue;
            }
            Some(_) => continue,
            None => return,
        };
        let Some(run) = view.last else { continue };
        let key = format!("{}@{}", run.commit, run.started);
        if printed.as_ref() != Some(&key) {
            print_run(&run, language);
            printed = Some(key);
            states = run.resources.iter().enumerate().map(|(i, r)| (i, r.state)).collect();
            continue;
        }
        for (index, resource) in run.resources.iter().enumerate() {
            if states.insert(index, resource.state) != Some(resource.state) {
                println!("{}  {}", state_word(resource.state), resource.message);
            }
        }
    }
}

/// Prints a run; `true` when nothing failed.
fn print_run(run: &SyncRunView, language: Language) -> bool {
    for resource in &run.resources {
        let source = if resource.source.is_empty() { String::new() } else { format!("  ({})", resource.source) };
        println!("{}  {}{source}", state_word(resource.state), resource.message);
    }
    for error in &run.errors {
        eprintln!("error: {}", explain(error, language));
    }
    println!("{}", run.message.get(language));
    run.errors.is_empty() && run.resources.iter().all(|r| r.state != ResourceSyncState::Failed)
}

fn state_word(state: ResourceSyncState) -> &'static str {
    match state {
        ResourceSyncState::Synced => "Synced    ",
        ResourceSyncState::OutOfSync => "OutOfSync ",
        ResourceSyncState::Failed => "Failed    ",
        ResourceSyncState::Pruned => "Pruned    ",
        ResourceSyncState::Orphaned => "Orphaned  ",
    }
}

fn failed(run: &SyncRunView, language: Language) -> String {
    let short: String = run.commit.chars().take(7).collect();
    Text::new(
        format!("the sync of commit {short} did not fully succeed (see above)"),
        format!("提交 {short} 的同步没有完全成功（见上文）"),
    )
    .get(language)
    .to_string()
}

/// An error as the learner reads it: the message, then what to try.
fn explain(error: &ErrorView, language: Language) -> String {
    let mut text = error.message.get(language).to_string();
    if let Some(hint) = &error.hint {
        text.push_str(&format!("\n  {}", hint.get(language)));
    }
    text
}

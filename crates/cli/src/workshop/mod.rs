//! `gitops-lab workshop`: one server for a class. Each learner joins with a display name and gets
//! a personal link to their own lab (web mode's UI and API over their own engine, sandbox,
//! progress and repositories); the instructor's link opens the board.
//!
//! Layout: [`state`] (the workshop, joining, the saved class list via [`learners`]), [`provider`]
//! (where a learner's cluster comes from), [`capacity`] (the class size and memory checks),
//! [`tracker`] (each learner's board line from their engine's events), [`server`] (routes and who
//! may reach them), [`board`] (the instructor's API), [`pages`] (the join pages). Web mode's guard,
//! sessions, API and assets are reused, not copied.
//!
//! Plain HTTP only for now: beyond loopback, tokens cross the network unencrypted (a warning says
//! so); HTTPS with the lab's own CA is planned.

mod board;
mod capacity;
mod learners;
mod pages;
mod provider;
mod server;
mod state;
mod tracker;

use crate::messages::Messages;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Flags of `workshop`.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkshopArgs {
    /// Address to listen on (loopback by default; another address is reachable by the room and
    /// prints a warning); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7430")]
    listen: SocketAddr,
    /// At most this many learners; later ones are asked to wait.
    #[arg(long, default_value_t = 50)]
    max_learners: usize,
    /// The workshop's data: the class list and each learner's folder (default: `workshop/` in the
    /// lab's data directory, or $GITOPS_LAB_DATA/workshop).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Only these exercises, by id (comma-separated); all of them when absent.
    #[arg(long, value_delimiter = ',')]
    exercises: Vec<String>,
    /// Another host name learners reach the server by (besides its address and loopback names).
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Stop a learner's sandbox after this many seconds without a page open or a command (their
    /// data is kept; it starts again when they return).
    #[arg(long, default_value_t = 1200)]
    idle_stop: u64,
    /// Flag a learner on the board after this many seconds on one step with unmet checks.
    #[arg(long, default_value_t = 600)]
    stuck_after: u64,
    /// Memory to keep free for the machine, in MiB; a join that would eat into it is asked to wait.
    #[arg(long, default_value_t = 256)]
    reserve_mib: u64,
}

/// Runs the workshop until SIGINT or SIGTERM, then stops every learner's engine and sandbox.
pub fn run(args: WorkshopArgs, messages: &Messages) -> anyhow::Result<()> {
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => crate::sandbox_serve::default_data_dir().context(messages.no_data_dir())?.join("workshop"),
    };
    std::fs::create_dir_all(&data_dir).with_context(|| {
        format!("cannot create the workshop's data directory {0} / 无法创建工作坊数据目录 {0}", data_dir.display())
    })?;
    let exercises_dir = select_exercises(&crate::cluster_args::exercises_dir(), &data_dir, &args.exercises)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args, data_dir, exercises_dir, messages))
}

async fn serve(
    args: WorkshopArgs,
    data_dir: PathBuf,
    exercises_dir: PathBuf,
    messages: &Messages,
) -> anyhow::Result<()> {
    let (listener, addr) = crate::listener::bind(args.listen, messages).await?;
    if !addr.ip().is_loopback() {
        eprintln!("{}", plain_http_warning(messages));
    }
    let host = match (addr.ip(), args.allow_hosts.first()) {
        (_, Some(name)) => name.clone(),
        (ip, None) if ip.is_unspecified() || ip.is_loopback() => "127.0.0.1".to_string(),
        (std::net::IpAddr::V6(ip), None) => format!("[{ip}]"),
        (ip, None) => ip.to_string(),
    };
    let base_url = format!("http://{host}:{}", addr.port());
    let settings = state::Settings {
        limits: capacity::Limits { max_learners: args.max_learners, reserve: args.reserve_mib << 20, per_learner: 0 },
        idle_stop: Duration::from_secs(args.idle_stop),
        stuck_after: Duration::from_secs(args.stuck_after),
        base_url: base_url.clone(),
    };
    let guard = crate::web::guard::Guard::new(addr.port(), addr.ip(), &args.allow_hosts);
    let provider = Arc::new(provider::LocalSandboxes { data_dir: data_dir.clone(), exercises_dir });
    let (workshop, wake) = state::Workshop::open(guard, settings, learners::RosterFile::in_dir(&data_dir), provider)?;
    let saver = tokio::spawn(save_on_change(workshop.clone(), wake));
    let sweeper = tokio::spawn(stop_idle(workshop.clone()));
    let serving = tokio::spawn(server::run(listener, workshop.clone(), crate::shutdown::signals()));
    println!("instructor: {base_url}/board?token={}", workshop.instructor_token());
    println!("join: {base_url}/join");
    eprintln!("{}", ready(messages, workshop.learners().len()));
    let served = serving.await.context("the workshop server stopped unexpectedly")?;
    sweeper.abort();
    workshop.shutdown().await;
    saver.abort();
    workshop.save()?;
    served.context("the workshop server failed")?;
    eprintln!(
        "{}",
        messages.say("The workshop stopped; its learners and progress are kept.", "工作坊已停止；学员和进度均已保存。")
    );
    Ok(())
}

/// Saves the class list after a join or a progress change, at most once a second.
async fn save_on_change(workshop: Arc<state::Workshop>, mut wake: tokio::sync::mpsc::UnboundedReceiver<()>) {
    while wake.recv().await.is_some() {
        while wake.try_recv().is_ok() {}
        if let Err(error) = workshop.save() {
            eprintln!("{error:#}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Looks for idle learners a few times per idle period (at least once a second, at most every 30 s).
async fn stop_idle(workshop: Arc<state::Workshop>) {
    let period = (workshop.settings.idle_stop / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        workshop.stop_idle().await;
    }
}

/// The exercises folder the learners see: all of `source`, or a folder under the data directory
/// that links only the chosen ones. An unknown id stops the start with the list of known ones.
fn select_exercises(source: &Path, data_dir: &Path, ids: &[String]) -> anyhow::Result<PathBuf> {
    if ids.is_empty() {
        return Ok(source.to_path_buf());
    }
    let (catalog, _) = gitops_lab::exercises::load_all(source);
    let chosen = data_dir.join("exercises");
    if chosen.exists() {
        std::fs::remove_dir_all(&chosen).with_context(|| format!("cannot clear {}", chosen.display()))?;
    }
    std::fs::create_dir_all(&chosen)?;
    for id in ids.iter().map(|id| id.trim()) {
        let Some(exercise) = catalog.iter().find(|e| e.file.id == id) else {
            let known: Vec<&str> = catalog.iter().map(|e| e.file.id.as_str()).collect();
            anyhow::bail!(
                "--exercises: there is no exercise \"{id}\"; the exercises are {} / 没有练习“{id}”；可用的练习有 {}",
                known.join(", "),
                known.join(", ")
            );
        };
        let target = std::fs::canonicalize(&exercise.dir)?;
        link_dir(&target, &chosen.join(id))?;
    }
    Ok(chosen)
}

#[cfg(unix)]
fn link_dir(target: &Path, link: &Path) -> anyhow::Result<()> {
    std::os::unix::fs::symlink(target, link).with_context(|| format!("cannot link {}", link.display()))
}

#[cfg(not(unix))]
fn link_dir(_target: &Path, _link: &Path) -> anyhow::Result<()> {
    anyhow::bail!("--exercises needs symbolic links, available on Linux and macOS")
}

fn plain_http_warning(messages: &Messages) -> String {
    messages.say(
        "The workshop speaks plain HTTP: learners' links and tokens cross the network unencrypted. Use it only on a network you trust (HTTPS is not built yet; see docs/workshop.md).",
        "工作坊使用明文 HTTP：学员的链接和令牌以未加密的方式在网络上传输。请只在可信网络中使用（HTTPS 尚未实现，见 docs/workshop.md）。",
    )
}

fn ready(messages: &Messages, learners: usize) -> String {
    messages.say(
        &format!("The workshop is ready ({learners} learners so far): open the instructor url above (keep it private) and give the class the join url. Press Ctrl+C to stop."),
        &format!("工作坊已就绪（目前 {learners} 名学员）：打开上面的 instructor 地址（请勿分享），把 join 地址发给学员。按 Ctrl+C 停止。"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_exercises_are_linked_and_unknown_ids_refused() {
        let source = crate::cluster_args::exercises_dir();
        let data = tempfile::tempdir().unwrap();
        let chosen = select_exercises(&source, data.path(), &["2.1-nginx-pod".into()]).unwrap();
        let (catalog, problems) = gitops_lab::exercises::load_all(&chosen);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(catalog.iter().map(|e| e.file.id.as_str()).collect::<Vec<_>>(), ["2.1-nginx-pod"]);
        let error = select_exercises(&source, data.path(), &["9.9-nope".into()]).unwrap_err().to_string();
        assert!(error.contains("no exercise \"9.9-nope\"") && error.contains("2.1-nginx-pod"), "{error}");
    }
}

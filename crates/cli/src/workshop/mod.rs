//! `gitops-lab workshop`: one server for a class. Each learner joins with a display name and gets
//! a personal link to their own lab (web mode's UI and API over their own engine, sandbox,
//! progress and repositories); the instructor's link opens the board.
//!
//! Layout: [`state`] (the workshop, joining, the saved class list via [`learners`]), [`provider`]
//! (where a learner's cluster comes from: a local child, or a Pod per learner with
//! [`kubernetes`]), [`capacity`] (the class size and memory checks),
//! [`tracker`] (each learner's board line from their engine's events), [`rate`] (each learner's
//! command rate), [`tls`] (the workshop's CA and HTTPS certificate), [`server`] (routes and who
//! may reach them), [`board`] (the instructor's API), [`pages`] (the join pages), [`kube_proxy`]
//! (each learner's own kubectl through the server, over [`upstream`]'s kept connections), [`limits`] (per-sandbox object and CPU limits). Web mode's guard,
//! sessions, API and assets are reused, not copied.
//!
//! Beyond loopback the server speaks HTTPS with the lab's own CA ([`tls`]), unless `--public-url`
//! says a reverse proxy or Ingress in front terminates TLS; `--tls` asks for HTTPS on loopback too.

mod board;
mod capacity;
mod kube_proxy;
mod kubernetes;
mod learners;
mod limits;
mod pages;
mod provider;
mod rate;
mod server;
mod state;
mod tls;
mod tracker;
mod upstream;

use crate::messages::Messages;
use anyhow::Context;
use std::net::{IpAddr, SocketAddr};
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
    /// Ping each open page this often, in seconds; a page silent for two periods (a closed laptop,
    /// a lost network) counts as gone, so its learner can become idle.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    heartbeat: u64,
    /// Commands a second each learner may send on average (bursts of twice that); more are
    /// answered 429 "slow down", so a runaway loop slows only its own learner.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    command_rate: u32,
    /// Refuse a learner's creates once their sandbox holds this many objects (events aside): a
    /// runaway loop of creates meets "exceeded quota" instead of filling the machine; 0: no limit.
    #[arg(long, default_value_t = 1000)]
    max_objects: usize,
    /// Flag a learner on the board after this many seconds on one step with unmet checks.
    #[arg(long, default_value_t = 600)]
    stuck_after: u64,
    /// Memory to keep free for the machine, in MiB; a join that would eat into it is asked to wait.
    #[arg(long, default_value_t = 256)]
    reserve_mib: u64,
    /// Serve HTTPS with the lab's own CA (kept in DATA_DIR/tls) even on loopback; beyond loopback
    /// it is on unless --public-url is given.
    #[arg(long)]
    tls: bool,
    /// The address learners open when a TLS-terminating reverse proxy or Ingress is in front
    /// (`https://lab.example.org`): the printed links use it and its Host and Origin are accepted.
    #[arg(long)]
    public_url: Option<String>,
    /// Where the learners' sandboxes run (`--sandboxes`, `--namespace`, `--sandbox-image`, …).
    #[command(flatten)]
    sandboxes: kubernetes::KubernetesArgs,
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
    limits::lower_sandboxes();
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
    let Addressing { https, names, base_url, guard } = addressing(&args, addr)?;
    let tls = match https {
        true => Some(tls::prepare(&data_dir.join("tls"), &certificate_names(addr.ip(), &names))?),
        false => None,
    };
    let settings = state::Settings {
        limits: capacity::Limits { max_learners: args.max_learners, reserve: args.reserve_mib << 20, per_learner: 0 },
        idle_stop: Duration::from_secs(args.idle_stop),
        stuck_after: Duration::from_secs(args.stuck_after),
        heartbeat: Duration::from_secs(args.heartbeat),
        command_rate: args.command_rate,
        base_url: base_url.clone(),
        ca_pem: tls.as_ref().and_then(|tls| std::fs::read_to_string(&tls.ca_path).ok()),
    };
    let provider: Arc<dyn provider::SandboxProvider> = match args.sandboxes.sandboxes {
        kubernetes::SandboxKind::Local => Arc::new(provider::LocalSandboxes {
            data_dir: data_dir.clone(),
            exercises_dir,
            max_objects: args.max_objects,
        }),
        kubernetes::SandboxKind::Kubernetes => {
            let cluster =
                kubernetes::KubernetesSandboxes::connect(&args.sandboxes, args.max_objects, &data_dir, &exercises_dir)
                    .await?;
            println!("sandboxes: kubernetes, namespace {}", cluster.namespace());
            Arc::new(cluster)
        }
    };
    let (workshop, wake) = state::Workshop::open(guard, settings, learners::RosterFile::in_dir(&data_dir), provider)?;
    let saver = tokio::spawn(save_on_change(workshop.clone(), wake));
    let sweeper = tokio::spawn(stop_idle(workshop.clone()));
    let serving = if let Some(tls) = tls {
        println!("ca: {}", tls.ca_path.display());
        println!("ca-sha256: {}", tls.fingerprint);
        eprintln!("{}", import_the_ca(messages, &tls.ca_path, &tls.fingerprint));
        let acceptor = gitops_sandbox::tls::acceptor(&tls.certificates)?;
        let listener = gitops_sandbox::tls::TlsListener::new(listener, acceptor)?;
        tokio::spawn(server::run(listener, workshop.clone(), crate::shutdown::signals()))
    } else {
        if !addr.ip().is_loopback() && !base_url.starts_with("https://") {
            eprintln!("{}", plain_http_warning(messages));
        }
        tokio::spawn(server::run(listener, workshop.clone(), crate::shutdown::signals()))
    };
    println!("listening: {addr}");
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

/// How the server is reached: over HTTPS or not, the names learners use, the links' start, and the
/// guard that accepts exactly those.
struct Addressing {
    https: bool,
    names: Vec<String>,
    base_url: String,
    guard: crate::web::guard::Guard,
}

fn addressing(args: &WorkshopArgs, addr: SocketAddr) -> anyhow::Result<Addressing> {
    let https = args.tls || (!addr.ip().is_loopback() && args.public_url.is_none());
    let mut names = args.allow_hosts.clone();
    if addr.ip().is_unspecified() {
        // Learners need an address that reaches this machine, not 0.0.0.0.
        names.extend(outbound_ip().map(|ip| ip.to_string()));
    }
    let host = match (addr.ip(), names.first()) {
        (_, Some(name)) if name.contains(':') => format!("[{name}]"),
        (_, Some(name)) => name.clone(),
        (ip, None) if ip.is_unspecified() || ip.is_loopback() => "127.0.0.1".to_string(),
        (std::net::IpAddr::V6(ip), None) => format!("[{ip}]"),
        (ip, None) => ip.to_string(),
    };
    let scheme = if https { "https" } else { "http" };
    let base_url = match &args.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("{scheme}://{host}:{}", addr.port()),
    };
    let guard_names: Vec<String> =
        names.iter().map(|n| if n.contains(':') { format!("[{n}]") } else { n.clone() }).collect();
    let mut guard = crate::web::guard::Guard::new(addr.port(), addr.ip(), &guard_names);
    if https {
        guard = guard.over_https();
    }
    if let Some(url) = &args.public_url {
        guard = guard.with_public_url(url).map_err(|why| bad_public_url(url, &why))?;
    }
    Ok(Addressing { https, names, base_url, guard })
}

/// The names the serving certificate covers: loopback, the listen address, and the names given.
fn certificate_names(listen: IpAddr, names: &[String]) -> Vec<String> {
    let mut all: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
    if !listen.is_unspecified() {
        all.push(listen.to_string());
    }
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    all
}

/// The address this machine would use to reach the wider network (no packet is sent: connecting a
/// UDP socket only picks the route), so links printed for `0.0.0.0` name a reachable address.
fn outbound_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|addr| addr.ip()).filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
}

fn bad_public_url(url: &str, why: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "--public-url {url}: {why} (the address learners open, e.g. https://lab.example.org) / --public-url {url} 无效：{why}（应为学员打开的地址，例如 https://lab.example.org）"
    )
}

fn import_the_ca(messages: &Messages, ca: &Path, fingerprint: &str) -> String {
    let ca = ca.display();
    messages.say(
        &format!("The workshop speaks HTTPS with the lab's own certificate authority. Have learners import {ca} into their browser (or accept the warning) after checking that its SHA-256 fingerprint is {fingerprint}."),
        &format!("工作坊使用实验室自己的证书颁发机构提供 HTTPS。请学员先核对 {ca} 的 SHA-256 指纹为 {fingerprint}，再把它导入浏览器（或接受浏览器的警告）。"),
    )
}

fn plain_http_warning(messages: &Messages) -> String {
    messages.say(
        "The workshop's public address is plain http://: learners' links and tokens cross the network unencrypted. Give an https:// --public-url served by a TLS-terminating proxy, or drop --public-url so the workshop serves HTTPS itself (see docs/workshop.md).",
        "工作坊的公开地址是明文 http://：学员的链接和令牌以未加密的方式在网络上传输。请使用由终止 TLS 的代理提供的 https:// --public-url，或去掉 --public-url 让工作坊自己提供 HTTPS（见 docs/workshop.md）。",
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

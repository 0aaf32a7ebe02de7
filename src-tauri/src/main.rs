//! The GitOps Lab desktop shell: the lab's UI (`ui/dist`) in a Tauri 2 window, talking to an engine
//! running in this process.
//!
//! The shell is thin: three commands and nothing else. `command` hands a protocol command to the
//! engine and returns its answer; `subscribe` forwards the engine's events through a Tauri channel;
//! `open_url` opens a port-forward's page (only `http://127.0.0.1` or `localhost` addresses) in the
//! system browser. The capability file allows exactly these, and the page runs under a strict CSP.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use gitops_lab::protocol::{ClusterChoice, Command, Event, Response};
use gitops_lab::{Engine, EngineConfig};
use std::path::PathBuf;
use std::sync::Arc;
use tauri::ipc::Channel;
use tauri::{Manager, RunEvent, State};
use tokio::sync::OnceCell;

mod memory;
mod webkit;

/// The window's session: one engine, started once, shared by the commands.
struct Shell {
    config: EngineConfig,
    engine: Arc<OnceCell<Engine>>,
}

impl Shell {
    async fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| Engine::start(self.config.clone())).await
    }
}

/// The engine's answer, sent as a value (Tauri would turn a bare `Result` into a rejected promise).
#[derive(serde::Serialize)]
struct Answer(Response);

#[tauri::command]
async fn command(shell: State<'_, Shell>, command: Command) -> Result<Answer, String> {
    Ok(Answer(shell.engine().await.handle(command).await))
}

#[tauri::command]
async fn subscribe(shell: State<'_, Shell>, events: Channel<Event>) -> Result<(), String> {
    let mut subscription = shell.engine().await.subscribe();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = subscription.next().await {
            if events.send(event).is_err() {
                break;
            }
        }
    });
    Ok(())
}

#[tauri::command]
fn open_url(url: String) -> Result<(), String> {
    let local = ["http://127.0.0.1:", "http://localhost:"].iter().any(|prefix| url.starts_with(prefix));
    if !local || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("only local port-forward addresses can be opened, not {url}"));
    }
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let mut child =
        std::process::Command::new(opener).arg(&url).spawn().map_err(|e| format!("cannot start {opener}: {e}"))?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts (see `memory`).
    memory::limit_arenas();
    let config = engine_config(std::env::args().skip(1).collect())?;
    let engine = Arc::new(OnceCell::new());
    let app = tauri::Builder::default()
        .manage(Shell { config, engine: engine.clone() })
        .invoke_handler(tauri::generate_handler![command, subscribe, open_url])
        .setup(|app| {
            if let Some(window) = app.get_webview_window("main") {
                webkit::lean(&window);
            }
            memory::trim_when_idle();
            // Start the engine (and the sandbox) while the window loads the page.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<Shell>().engine().await;
            });
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(move |_, event| {
        if let RunEvent::Exit = event
            && let Some(engine) = engine.get()
        {
            tauri::async_runtime::block_on(engine.shutdown());
        }
    });
    Ok(())
}

/// The engine's settings from the flags `--cluster`, `--data-dir` and `--exercises`.
fn engine_config(args: Vec<String>) -> anyhow::Result<EngineConfig> {
    let mut cluster = ClusterChoice::Sandbox;
    let mut data_dir = None;
    let mut exercises = std::env::var_os("GITOPS_LAB_EXERCISES").filter(|d| !d.is_empty()).map(PathBuf::from);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--cluster" => {
                let text = value()?;
                cluster = ClusterChoice::from_arg(&text).ok_or_else(|| {
                    anyhow::anyhow!("`{text}` is not a cluster: use sandbox, minikube or context:NAME")
                })?;
            }
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--exercises" => exercises = Some(PathBuf::from(value()?)),
            other => anyhow::bail!("unknown flag {other} (flags: --cluster, --data-dir, --exercises)"),
        }
    }
    let data_dir =
        match data_dir.or_else(|| std::env::var_os("GITOPS_LAB_DATA").filter(|d| !d.is_empty()).map(PathBuf::from)) {
            Some(dir) => dir,
            None => directories::ProjectDirs::from("dev", "gitops-lab", "gitops-lab")
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| anyhow::anyhow!("cannot find a data directory for this user; pass --data-dir DIR"))?,
        };
    let exercises = exercises.unwrap_or_else(|| find_exercises().unwrap_or_else(|| data_dir.join("exercises")));
    let mut config = EngineConfig::new(data_dir, exercises);
    config.cluster = cluster;
    Ok(config)
}

/// `exercises/` in the working directory or above the program (a source checkout).
fn find_exercises() -> Option<PathBuf> {
    [std::env::current_dir().ok(), std::env::current_exe().ok()]
        .into_iter()
        .flatten()
        .flat_map(|start| start.ancestors().map(|dir| dir.join("exercises")).collect::<Vec<_>>())
        .find(|dir| dir.is_dir())
}

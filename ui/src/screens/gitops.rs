//! The GitOps screen: the learner's repositories and commits, a small editor that commits a file
//! (the engine checks manifests before anything is written), and the sync loop's status, history
//! and settings.

use crate::i18n::S;
use crate::model::labels;
use crate::protocol::{Command, CommitView, ErrorView, FileChange, Reply, RepoView, SyncRunView};
use crate::state::lab;
use crate::widgets::{Busy, ErrorBox};
use leptos::prelude::*;

/// The screen.
#[component]
pub fn GitOpsScreen() -> impl IntoView {
    let lab = lab();
    let repos = RwSignal::new(Vec::<RepoView>::new());
    let chosen = RwSignal::new(None::<String>);
    let error = RwSignal::new(None);
    leptos::task::spawn_local(async move {
        match lab.call(Command::Repos).await {
            Ok(Reply::Repos(list)) => {
                chosen.set(list.first().map(|r| r.name.clone()));
                repos.set(list);
            }
            Ok(_) => {}
            Err(e) => error.set(Some(e)),
        }
    });
    view! {
        <section class="gitops">
            <h2>{move || lab.t(S::ScreenGitOps)}</h2>
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
            <Show when=move || !repos.with(Vec::is_empty)>
                <label>{move || lab.t(S::Repo)}
                    <select on:change=move |ev| chosen.set(Some(event_target_value(&ev))) prop:value=move || chosen.get().unwrap_or_default()>
                        {move || repos.get().into_iter().map(|r| view! { <option value=r.name.clone()>{format!("{} — {}", r.name, r.url)}</option> }).collect_view()}
                    </select>
                </label>
            </Show>
            {move || chosen.get().map(|name| {
                let repo = repos.with(|list| list.iter().find(|r| r.name == name).cloned());
                repo.map(|repo| view! { <Repository repo /> })
            })}
            <Sync />
        </section>
    }
}

/// One repository: history and the editor.
#[component]
fn Repository(repo: RepoView) -> impl IntoView {
    let lab = lab();
    let commits = RwSignal::new(Vec::<CommitView>::new());
    let error = RwSignal::new(None);
    let name = repo.name.clone();
    let load = move |name: String| {
        leptos::task::spawn_local(async move {
            match lab.call(Command::RepoLog { repo: name, limit: 30 }).await {
                Ok(Reply::Commits(list)) => commits.set(list),
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
        })
    };
    load(name.clone());
    view! {
        <div class="repository">
            <h3>{move || lab.t(S::Commits)}</h3>
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
            <ol class="commits">
                {move || commits.get().into_iter().map(|c| view! {
                    <li><code>{c.sha.chars().take(7).collect::<String>()}</code>" "{c.summary}<span class="muted small">{format!(" — {}, {}", c.author, c.time)}</span></li>
                }).collect_view()}
            </ol>
            <Editor repo=name.clone() files=repo.files.clone() on_commit=move || load(name.clone()) />
        </div>
    }
}

/// Edit one file and commit it.
#[component]
fn Editor(repo: String, files: Vec<String>, on_commit: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let lab = lab();
    let path = RwSignal::new(files.first().cloned().unwrap_or_default());
    let content = RwSignal::new(String::new());
    let message = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<CommitView, ErrorView>>);
    let busy = RwSignal::new(false);
    let repo_for_load = repo.clone();
    Effect::new(move |_| {
        let (repo, path) = (repo_for_load.clone(), path.get());
        if path.is_empty() {
            return;
        }
        leptos::task::spawn_local(async move {
            if let Ok(Reply::File(text)) = lab.call(Command::RepoFile { repo, path }).await {
                content.set(text);
            }
        });
    });
    let commit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (repo, on_commit) = (repo.clone(), on_commit.clone());
        let changes = vec![FileChange { path: path.get_untracked(), content: Some(content.get_untracked()) }];
        let message = message.get_untracked();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = lab.call(Command::RepoCommit { repo, changes, message }).await;
            busy.set(false);
            result.set(Some(match answer {
                Ok(Reply::Commit(commit)) => {
                    on_commit();
                    Ok(commit)
                }
                Ok(_) => return,
                Err(e) => Err(e),
            }));
        });
    };
    view! {
        <form class="editor-form" on:submit=commit>
            <h3>{move || lab.t(S::Editor)}</h3>
            <label class="block">{move || lab.t(S::Path)}
                <input type="text" class="mono" list="repo-files" bind:value=path />
                <datalist id="repo-files">{files.into_iter().map(|f| view! { <option value=f /> }).collect_view()}</datalist>
            </label>
            <label class="block">{move || lab.t(S::Content)}<textarea class="mono editor" rows="14" spellcheck="false" bind:value=content></textarea></label>
            <label class="block">{move || lab.t(S::CommitMessage)}<input type="text" bind:value=message required /></label>
            <button type="submit" class="primary" disabled=move || busy.get()>{move || lab.t(S::CommitButton)}</button>
            {move || busy.get().then(|| view! { <Busy /> })}
            {move || result.get().map(|r| match r {
                Ok(c) => view! { <p class="ok">{S::Committed.fill(lab.language.get(), &[&c.sha.chars().take(7).collect::<String>()])}</p> }.into_any(),
                Err(error) => view! { <ErrorBox error /> }.into_any(),
            })}
        </form>
    }
}

/// The sync loop: settings, sync now, the last run and the history.
#[component]
fn Sync() -> impl IntoView {
    let lab = lab();
    let error = RwSignal::new(None);
    let history = RwSignal::new(Vec::<SyncRunView>::new());
    // Filled from the engine's view: the running loop's settings, or the chapter's suggestion.
    let (repo, path, prune, auto) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(false), RwSignal::new(false));
    let refresh = move || {
        leptos::task::spawn_local(async move {
            match lab.call(Command::SyncStatus).await {
                Ok(Reply::Sync(view)) => {
                    repo.set(view.repo.clone());
                    path.set(view.path.clone());
                    prune.set(view.prune);
                    auto.set(view.auto);
                    lab.sync.set(Some(view));
                }
                Ok(_) => {}
                Err(e) => error.set(Some(e)),
            }
            if let Ok(Reply::SyncHistory(list)) = lab.call(Command::SyncHistory).await {
                history.set(list);
            }
        })
    };
    refresh();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let command = Command::SyncConfigure {
            repo: repo.get_untracked(),
            path: path.get_untracked(),
            prune: prune.get_untracked(),
            auto: auto.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match lab.call(command).await {
                Ok(_) => refresh(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let busy = RwSignal::new(false);
    let sync_now = move |_| {
        busy.set(true);
        leptos::task::spawn_local(async move {
            match lab.call(Command::SyncNow).await {
                Ok(_) => refresh(),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <div class="sync">
            <h3>{move || lab.t(S::SyncSettings)}</h3>
            <form class="row-form wrap" on:submit=save>
                <label>{move || lab.t(S::Repo)}<input type="text" class="mono" bind:value=repo /></label>
                <label>{move || lab.t(S::Directory)}<input type="text" class="mono" bind:value=path /></label>
                <label><input type="checkbox" bind:checked=prune />{move || lab.t(S::Prune)}</label>
                <label><input type="checkbox" bind:checked=auto />{move || lab.t(S::AutoSync)}</label>
                <button type="submit">{move || lab.t(S::Save)}</button>
            </form>
            <button class="primary" on:click=sync_now disabled=move || busy.get()>{move || lab.t(S::SyncNow)}</button>
            {move || busy.get().then(|| view! { <Busy /> })}
            {move || error.get().map(|error| view! { <ErrorBox error /> })}
            <h3>{move || lab.t(S::SyncStatus)}</h3>
            {move || match lab.sync.get().and_then(|s| s.last) {
                Some(run) => view! { <SyncRun run /> }.into_any(),
                None => view! { <p class="muted">{move || lab.t(S::NoSyncYet)}</p> }.into_any(),
            }}
            <h3>{move || lab.t(S::SyncHistory)}</h3>
            <ol class="sync-history">
                {move || history.get().into_iter().map(|run| view! {
                    <li><code>{run.commit.chars().take(7).collect::<String>()}</code>" "{run.started.clone()}" · "{format!("{} ms", run.duration_ms)}" · "{move || lab.text(&run.message)}</li>
                }).collect_view()}
            </ol>
        </div>
    }
}

/// One sync run: each resource's state.
#[component]
fn SyncRun(run: SyncRunView) -> impl IntoView {
    let lab = lab();
    let message = run.message.clone();
    view! {
        <p>{move || lab.text(&message)}</p>
        {run.errors.into_iter().map(|error| view! { <ErrorBox error /> }).collect_view()}
        <table class="sync-resources">
            <tbody>
                {run.resources.into_iter().map(|r| {
                    let (state, class) = labels::sync_state(r.state);
                    view! {
                        <tr>
                            <th scope="row" class="mono">{r.object.kubectl_name()}</th>
                            <td><span class=format!("badge {class}")>{move || lab.t(state)}</span></td>
                            <td class="mono small">{r.source.clone()}</td>
                            <td class="mono small">{r.message.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

//! The session's state as signals, shared through context, and the router of engine events.
//!
//! [`Lab`] is `Copy` (it holds only signal handles), so every component takes it from context and
//! reads just the signals it renders. Events from the transport pass through [`Lab::receive`], the
//! one place that decides which signal an event changes.

use crate::dom;
use crate::i18n::S;
use crate::model::exercise::{apply_check, apply_progress};
use crate::model::text_buffer::TextBuffer;
use crate::protocol::{
    CiRunView, ClusterStatus, Command, ErrorView, Event, ExerciseStatus, ExerciseSummary, ExerciseView, KubeEventView,
    Language, ObjectRef, OperationId, OperationOutcome, PortForwardView, Reply, Response, StreamId, SyncView, Text,
};
use crate::screens::tree::TreeState;
use crate::transport::{Incoming, Link, Transport};
use leptos::prelude::*;
use std::collections::VecDeque;
use std::rc::Rc;

/// The screens of the main area (the part of the URL after `#/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The welcome page.
    Home,
    /// An exercise's step view.
    Exercise(String),
    /// The diff and apply screen.
    Diff,
    /// Repositories and sync.
    GitOps,
    /// The CI pipeline.
    Ci,
}

impl Route {
    /// Reads a location hash such as `#/exercise/2.1-nginx-pod`.
    pub fn from_hash(hash: &str) -> Route {
        let path = hash.trim_start_matches('#').trim_start_matches('/');
        match path.split_once('/') {
            Some(("exercise", id)) if !id.is_empty() => Route::Exercise(id.to_string()),
            _ => match path {
                "diff" => Route::Diff,
                "gitops" => Route::GitOps,
                "ci" => Route::Ci,
                _ => Route::Home,
            },
        }
    }

    /// The hash for the route.
    pub fn to_hash(&self) -> String {
        match self {
            Route::Home => "#/".into(),
            Route::Exercise(id) => format!("#/exercise/{id}"),
            Route::Diff => "#/diff".into(),
            Route::GitOps => "#/gitops".into(),
            Route::Ci => "#/ci".into(),
        }
    }
}

/// The tabs of the live panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveTab {
    /// The resource tree.
    Tree,
    /// The events feed.
    Events,
    /// A followed log.
    Logs,
    /// An object's YAML.
    Yaml,
    /// An exec terminal.
    Terminal,
    /// Port-forwards.
    Ports,
}

/// A long operation's progress (minikube start, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Its id.
    pub id: OperationId,
    /// Output lines so far.
    pub lines: Vec<String>,
    /// How it ended, once it has.
    pub outcome: Option<OperationOutcome>,
}

/// A followed log.
#[derive(Clone, Debug)]
pub struct LogView {
    /// The stream.
    pub stream: StreamId,
    /// The pod.
    pub pod: ObjectRef,
    /// The text so far.
    pub buffer: TextBuffer,
    /// Why it ended, once it has.
    pub ended: Option<Text>,
}

/// The terminal's exec session.
#[derive(Clone, Debug, PartialEq)]
pub struct TerminalSession {
    /// The stream.
    pub stream: StreamId,
    /// The pod.
    pub pod: ObjectRef,
    /// Why it ended, once it has.
    pub ended: Option<Text>,
}

/// Where terminal output goes (the terminal widget registers it).
pub type TerminalSink = Rc<dyn Fn(&str)>;

/// How many Kubernetes events the feed keeps.
const EVENTS_KEPT: usize = 300;

/// How many check events have arrived, and in which of them each check (exercise, step, check id)
/// last changed.
type CheckClock = (u64, std::collections::HashMap<(String, usize, String), u64>);

/// The session's state; cheap to copy.
#[derive(Clone, Copy)]
pub struct Lab {
    transport: StoredValue<Rc<dyn Transport>, LocalStorage>,
    /// The language the UI speaks.
    pub language: RwSignal<Language>,
    /// Whether the event stream is up; `None` before it first connects.
    pub link: RwSignal<Option<Link>>,
    /// The first screen's error (the engine could not be reached at all).
    pub hello_error: RwSignal<Option<ErrorView>>,
    /// The lab's version.
    pub version: RwSignal<String>,
    /// The cluster connection.
    pub cluster: RwSignal<Option<ClusterStatus>>,
    /// The navigator's exercises.
    pub exercises: RwSignal<Vec<ExerciseSummary>>,
    /// Where the learner left off.
    pub resume: RwSignal<Option<(String, usize)>>,
    /// The main area's screen.
    pub route: RwSignal<Route>,
    /// The open exercise.
    pub exercise: RwSignal<Option<ExerciseView>>,
    /// The live panel's tab.
    pub live_tab: RwSignal<LiveTab>,
    /// The object picked in the tree.
    pub selected: RwSignal<Option<ObjectRef>>,
    /// The resource tree.
    pub tree: TreeState,
    /// The events feed, newest last.
    pub events: RwSignal<VecDeque<KubeEventView>>,
    /// The followed log.
    pub logs: RwSignal<Option<LogView>>,
    /// The terminal's session.
    pub terminal: RwSignal<Option<TerminalSession>>,
    terminal_sink: StoredValue<Option<TerminalSink>, LocalStorage>,
    /// Output of streams no view has claimed yet: it can arrive before the reply that names the stream.
    unclaimed: StoredValue<Vec<(StreamId, String)>, LocalStorage>,
    /// How many check events have arrived, and when each check last changed (in that count).
    check_clock: StoredValue<CheckClock, LocalStorage>,
    /// Terminal output that arrived before the terminal opened.
    terminal_pending: StoredValue<String, LocalStorage>,
    /// Port-forwards.
    pub port_forwards: RwSignal<Vec<PortForwardView>>,
    /// Long operations.
    pub operations: RwSignal<Vec<Operation>>,
    /// The sync loop.
    pub sync: RwSignal<Option<SyncView>>,
    /// The latest CI run.
    pub ci: RwSignal<Option<CiRunView>>,
    /// Notices from the engine: level and text.
    pub notices: RwSignal<Vec<(String, Text)>>,
}

impl Lab {
    /// Fresh state around a transport, in the remembered (or the browser's) language.
    pub fn new(transport: Rc<dyn Transport>) -> Lab {
        let language = dom::stored("gitops-lab.language")
            .or_else(dom::browser_language)
            .map(|tag| Language::from_tag(&tag))
            .unwrap_or_default();
        dom::set_root_attribute("lang", language.tag());
        Lab {
            transport: StoredValue::new_local(transport),
            language: RwSignal::new(language),
            link: RwSignal::new(None),
            hello_error: RwSignal::new(None),
            version: RwSignal::new(String::new()),
            cluster: RwSignal::new(None),
            exercises: RwSignal::new(Vec::new()),
            resume: RwSignal::new(None),
            route: RwSignal::new(Route::from_hash(&dom::hash())),
            exercise: RwSignal::new(None),
            live_tab: RwSignal::new(LiveTab::Tree),
            selected: RwSignal::new(None),
            tree: TreeState::new(),
            events: RwSignal::new(VecDeque::new()),
            logs: RwSignal::new(None),
            terminal: RwSignal::new(None),
            terminal_sink: StoredValue::new_local(None),
            terminal_pending: StoredValue::new_local(String::new()),
            check_clock: StoredValue::new_local((0, std::collections::HashMap::new())),
            unclaimed: StoredValue::new_local(Vec::new()),
            port_forwards: RwSignal::new(Vec::new()),
            operations: RwSignal::new(Vec::new()),
            sync: RwSignal::new(None),
            ci: RwSignal::new(None),
            notices: RwSignal::new(Vec::new()),
        }
    }

    /// The string in the current language (reactive: re-read when the language changes).
    pub fn t(&self, key: S) -> &'static str {
        key.get(self.language.get())
    }

    /// Engine text in the current language (reactive).
    pub fn text(&self, text: &Text) -> String {
        text.get(self.language.get()).to_string()
    }

    /// Switches language and remembers the choice.
    pub fn set_language(&self, language: Language) {
        self.language.set(language);
        dom::store("gitops-lab.language", language.tag());
        dom::set_root_attribute("lang", language.tag());
    }

    /// Sends a command to the engine.
    pub async fn call(&self, command: Command) -> Response {
        let transport = self.transport.with_value(|transport| transport.clone());
        transport.call(command).await
    }

    /// Opens a URL outside the page.
    pub fn open_external(&self, url: &str) {
        self.transport.with_value(|transport| transport.open_external(url));
    }

    /// Moves the main area to a screen.
    pub fn go(&self, route: Route) {
        dom::set_hash(&route.to_hash());
        if self.route.with_untracked(|now| *now != route) {
            self.route.set(route);
        }
    }

    /// Connects the event stream and loads the first screen.
    pub fn start(self) {
        let sink = Rc::new(move |incoming: Incoming| self.receive(incoming));
        self.transport.with_value(|transport| transport.listen(sink));
        // Only a different route re-renders the main area: `go` sets the hash and the route, and the
        // hash change that follows must not rebuild the screen (a rebuilt step loses the learner's
        // chosen prediction and the outcome it shows).
        dom::on_hash_change(move || {
            let hash = dom::hash();
            // An in-page anchor (`#main`) is not a screen.
            if !hash.is_empty() && !hash.starts_with("#/") {
                return;
            }
            let route = Route::from_hash(&hash);
            if self.route.with_untracked(|now| *now != route) {
                self.route.set(route);
            }
        });
        let tree = self.tree;
        dom::expose_metric("treeLatencies", move || tree.latencies());
        leptos::task::spawn_local(async move { self.load().await });
    }

    /// Fetches the state to render: the first screen, the graph, the port-forwards.
    pub async fn load(self) {
        match self.call(Command::Hello).await {
            Ok(Reply::Hello { cluster, exercises, resume, version }) => {
                self.hello_error.set(None);
                self.cluster.set(Some(cluster));
                self.exercises.set(exercises);
                self.resume.set(resume);
                self.version.set(version);
                dom::mark("gitops-lab:ready");
            }
            Ok(_) => {}
            Err(error) => self.hello_error.set(Some(error)),
        }
        self.tree.refresh(self).await;
        if let Ok(Reply::PortForwards(list)) = self.call(Command::PortForwards).await {
            self.port_forwards.set(list);
        }
    }

    /// The check-event clock now (taken before sending an action).
    pub fn check_time(&self) -> u64 {
        self.check_clock.with_value(|(now, _)| *now)
    }

    /// Whether a check event for this check arrived after `since`.
    pub fn check_changed_since(&self, exercise: &str, step: usize, check: &str, since: u64) -> bool {
        self.check_clock.with_value(|(_, last)| {
            last.get(&(exercise.to_string(), step, check.to_string())).is_some_and(|at| *at > since)
        })
    }

    /// Registers where terminal output goes, and hands it what arrived before.
    pub fn set_terminal_sink(&self, sink: Option<TerminalSink>) {
        if let Some(sink) = &sink {
            let pending = std::mem::take(&mut *self.terminal_pending.write_value());
            if !pending.is_empty() {
                sink(&pending);
            }
        }
        self.terminal_sink.set_value(sink);
    }

    /// Routes what the transport delivers to the signals it changes.
    pub fn receive(self, incoming: Incoming) {
        match incoming {
            Incoming::Link(link) => {
                let was_down = self.link.get_untracked() == Some(Link::Down);
                self.link.set(Some(link));
                if link == Link::Up && was_down {
                    leptos::task::spawn_local(async move { self.load().await });
                }
            }
            Incoming::Event(event) => self.event(event),
        }
    }

    fn event(self, event: Event) {
        match event {
            Event::Cluster(status) => self.cluster.set(Some(status)),
            Event::OperationProgress { id, line } => self.operation(id, |op| op.lines.push(line)),
            Event::OperationFinished { id, outcome } => self.operation(id, |op| op.outcome = Some(outcome)),
            Event::GraphReset(snapshot) => self.tree.reset(snapshot),
            Event::Graph(delta) => self.tree.push(self, delta),
            Event::KubeEvent(view) => self.events.update(|events| {
                events.push_back(view);
                while events.len() > EVENTS_KEPT {
                    events.pop_front();
                }
            }),
            Event::Check { exercise, step, check } => self.exercise.update(|open| {
                self.check_clock.update_value(|(now, last)| {
                    *now += 1;
                    last.insert((exercise.clone(), step, check.id.clone()), *now);
                });
                if let Some(view) = open {
                    apply_check(view, &exercise, step, check);
                }
            }),
            Event::Progress(summary) => {
                // Progress only grows, except when the exercise is reset (here, on another screen,
                // or from the instructor's board): its live checks stopped, so the open view is
                // opened again, from its first step.
                let reset = summary.status == ExerciseStatus::NotStarted
                    && self.route.with_untracked(|route| *route == Route::Exercise(summary.id.clone()));
                self.exercise.update(|open| self.exercises.update(|list| apply_progress(open.as_mut(), list, summary)));
                if reset {
                    self.exercise.set(None);
                    self.route.update(|_| {});
                }
            }
            Event::Stream(data) => self.stream_data(data.stream, &data.data),
            Event::StreamEnded { stream, message } => self.stream_ended(stream, message),
            Event::PortForward(view) => {
                self.port_forwards.update(|list| match list.iter_mut().find(|pf| pf.id == view.id) {
                    Some(slot) => *slot = view,
                    None => list.push(view),
                })
            }
            Event::Sync(view) => self.sync.set(Some(view)),
            Event::Ci(run) => self.ci.set(Some(run)),
            Event::Notice { level, message } => self.notices.update(|list| list.push((level, message))),
            Event::Resync => leptos::task::spawn_local(async move { self.load().await }),
        }
    }

    fn operation(self, id: OperationId, change: impl FnOnce(&mut Operation)) {
        self.operations.update(|list| {
            if !list.iter().any(|op| op.id == id) {
                list.push(Operation { id, lines: Vec::new(), outcome: None });
            }
            if let Some(op) = list.iter_mut().find(|op| op.id == id) {
                change(op);
            }
        });
    }

    /// Shows an exec session in the terminal, with whatever it printed before this was known.
    pub fn open_terminal(&self, session: TerminalSession) {
        let early = self.claim(session.stream);
        self.terminal.set(Some(session));
        if !early.is_empty() {
            match self.terminal_sink.get_value() {
                Some(sink) => sink(&early),
                None => self.terminal_pending.update_value(|pending| pending.push_str(&early)),
            }
        }
    }

    /// Follows a log in the logs tab, with whatever it printed before this was known.
    pub fn open_logs(&self, mut view: LogView) {
        view.buffer.push(&self.claim(view.stream));
        self.logs.set(Some(view));
    }

    fn claim(&self, stream: StreamId) -> String {
        self.unclaimed
            .try_update_value(|list| {
                let position = list.iter().position(|(id, _)| *id == stream)?;
                Some(list.remove(position).1)
            })
            .flatten()
            .unwrap_or_default()
    }

    fn stream_data(self, stream: StreamId, data: &str) {
        let terminal = self.terminal.with_untracked(|t| t.as_ref().is_some_and(|t| t.stream == stream));
        let logs = self.logs.with_untracked(|l| l.as_ref().is_some_and(|l| l.stream == stream));
        if !terminal && !logs {
            // Kept for a view about to claim it; bounded (8 streams, 64 KiB each).
            self.unclaimed.update_value(|list| {
                match list.iter_mut().find(|(id, _)| *id == stream) {
                    Some((_, text)) if text.len() < 65_536 => text.push_str(data),
                    Some(_) => {}
                    None => list.push((stream, data.to_string())),
                }
                if list.len() > 8 {
                    list.remove(0);
                }
            });
            return;
        }
        if terminal {
            match self.terminal_sink.get_value() {
                Some(sink) => sink(data),
                None => self.terminal_pending.update_value(|pending| pending.push_str(data)),
            }
        }
        if logs {
            self.logs.update(|logs| {
                if let Some(logs) = logs {
                    logs.buffer.push(data)
                }
            });
        }
    }

    fn stream_ended(self, stream: StreamId, message: Text) {
        self.terminal.update(|terminal| {
            if let Some(t) = terminal.as_mut().filter(|t| t.stream == stream) {
                t.ended = Some(message.clone());
            }
        });
        self.logs.update(|logs| {
            if let Some(l) = logs.as_mut().filter(|l| l.stream == stream) {
                l.ended = Some(message);
            }
        });
    }
}

/// The session's state from context.
pub fn lab() -> Lab {
    expect_context::<Lab>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_the_hash() {
        for route in [Route::Home, Route::Exercise("2.1-nginx-pod".into()), Route::Diff, Route::GitOps, Route::Ci] {
            assert_eq!(Route::from_hash(&route.to_hash()), route);
        }
        assert_eq!(Route::from_hash(""), Route::Home);
        assert_eq!(Route::from_hash("#/exercise/"), Route::Home);
        assert_eq!(Route::from_hash("#/nonsense"), Route::Home);
    }
}

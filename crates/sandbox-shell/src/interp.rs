//! The interpreter: walks the syntax tree with the shell's state (variables, cwd, last status).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::ast::{AndOr, Command, Compound, Connector, Pipeline, Script, Simple};
use super::builtins::{self, Call};
use super::io::{Input, Sink, Streams};
use super::procs::{self, ProcessGuard};
use super::{Invocation, Io, ShellContext};

/// Loop iterations allowed without a pause (a `sleep` or a read) before the shell stops the loop.
pub(super) const LOOP_LIMIT: u64 = 10_000;

/// A pending `break N` or `continue N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Jump {
    /// Leave this many loops.
    Break(u32),
    /// Go to the next iteration of the N-th enclosing loop.
    Continue(u32),
}

/// A shell: its context and state. One per container process; subshells are copies.
pub struct Shell {
    pub(super) ctx: ShellContext,
    pub(super) vars: BTreeMap<String, String>,
    pub(super) exported: BTreeSet<String>,
    pub(super) cwd: String,
    pub(super) status: i32,
    /// `$0`, `$1`, …
    pub(super) args: Vec<String>,
    pub(super) pid: u32,
    pub(super) tty: bool,
    pub(super) exiting: Option<i32>,
    pub(super) jump: Option<Jump>,
    pub(super) errexit: bool,
    pub(super) in_condition: u32,
    /// The status of the last command substitution, for a command that is only assignments.
    pub(super) subst_status: Option<i32>,
    /// Counts pauses (sleeps, reads) so that loops that wait are never stopped.
    pub(super) pauses: u64,
    pub(super) last_job: u32,
    pub(super) jobs: Vec<tokio::task::JoinHandle<i32>>,
    /// Where expansion errors go (the stderr the shell was started with).
    pub(super) diagnostics: Sink,
    hinted: Arc<AtomicBool>,
    signals: Option<watch::Receiver<Option<i32>>>,
    guard: Option<Arc<ProcessGuard>>,
}

impl Shell {
    /// A shell over `ctx`; it starts in `$PWD` when the environment names one, else in `/`.
    pub fn new(ctx: ShellContext) -> Self {
        let mut vars = ctx.env.clone();
        vars.entry("PATH".into())
            .or_insert_with(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        vars.entry("HOME".into()).or_insert_with(|| "/root".into());
        vars.entry("HOSTNAME".into()).or_insert_with(|| ctx.hostname.clone());
        let cwd = vars.get("PWD").filter(|p| p.starts_with('/')).cloned().unwrap_or_else(|| "/".into());
        vars.insert("PWD".into(), cwd.clone());
        let exported = vars.keys().cloned().collect();
        let pid = ctx.pid.unwrap_or(0);
        let signals = ctx.pid.and_then(|p| ctx.processes.watch(p));
        Self {
            ctx,
            vars,
            exported,
            cwd,
            status: 0,
            args: vec!["sh".into()],
            pid,
            tty: false,
            exiting: None,
            jump: None,
            errexit: false,
            in_condition: 0,
            subst_status: None,
            pauses: 0,
            last_job: 0,
            jobs: Vec::new(),
            diagnostics: Sink::Null,
            hinted: Arc::default(),
            signals,
            guard: None,
        }
    }

    /// Runs a script or an argument vector to the end (or until a signal to the shell's process)
    /// and returns the exit code.
    pub async fn run(&mut self, what: Invocation, io: Io) -> i32 {
        self.tty = io.tty;
        let streams = Streams {
            stdin: io.stdin.map(Input::stream).unwrap_or_default(),
            stdout: Sink::Channel { tx: io.output.clone(), stderr: false, crlf: io.tty },
            stderr: Sink::Channel { tx: io.output, stderr: true, crlf: io.tty },
        };
        if self.ctx.pid.is_none() && self.guard.is_none() {
            let shown = match &what {
                Invocation::Argv(argv) => argv.join(" "),
                Invocation::Script(_) => "sh".into(),
            };
            let guard = self.ctx.processes.start(1, &shown);
            self.pid = guard.pid;
            self.signals = self.ctx.processes.watch(guard.pid);
            self.guard = Some(Arc::new(guard));
        }
        self.diagnostics = streams.stderr.clone();
        let mut signals = self.signals.clone();
        let code = tokio::select! {
            code = self.run_invocation(what, &streams) => code,
            sig = procs::signalled(&mut signals) => 128 + sig,
        };
        for job in self.jobs.drain(..) {
            job.abort();
        }
        // Hold no sender of the caller's channel past the run, so that its reader sees the end.
        self.diagnostics = Sink::Null;
        code
    }

    async fn run_invocation(&mut self, what: Invocation, io: &Streams) -> i32 {
        let code = match what {
            Invocation::Script(src) => self.run_source(&src, io).await,
            Invocation::Argv(argv) if argv.is_empty() => self.exec_argv(vec!["sh".into()], io).await,
            Invocation::Argv(argv) => self.exec_argv(argv, io).await,
        };
        self.exiting.unwrap_or(code)
    }

    /// Parses and runs source text; a syntax error is reported as busybox does, with status 2.
    pub(super) async fn run_source(&mut self, src: &str, io: &Streams) -> i32 {
        match super::parser::parse(src) {
            Ok(script) => {
                let status = self.run_script(&script, io).await;
                self.exiting.unwrap_or(status)
            }
            Err(err) => {
                io.stderr.write(format!("sh: {err}\n").as_bytes()).await;
                self.status = 2;
                2
            }
        }
    }

    /// A copy of this shell for `( … )`, `$( … )` and pipeline stages: same process, own state.
    pub(super) fn subshell(&self) -> Shell {
        Shell {
            ctx: self.ctx.clone(),
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            cwd: self.cwd.clone(),
            status: self.status,
            args: self.args.clone(),
            pid: self.pid,
            tty: self.tty,
            exiting: None,
            jump: None,
            errexit: self.errexit,
            in_condition: self.in_condition,
            subst_status: None,
            pauses: self.pauses,
            last_job: self.last_job,
            jobs: Vec::new(),
            diagnostics: self.diagnostics.clone(),
            hinted: self.hinted.clone(),
            signals: self.signals.clone(),
            guard: self.guard.clone(),
        }
    }

    /// A new shell process (`sh -c …`): it inherits exported variables and the directory only.
    pub(super) fn child(&self, command: &str) -> Shell {
        let mut ctx = self.ctx.clone();
        ctx.env = self.exported.iter().filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone()))).collect();
        ctx.env.insert("PWD".into(), self.cwd.clone());
        ctx.pid = None;
        let mut child = Shell::new(ctx);
        let guard = self.ctx.processes.start(self.pid, command);
        child.pid = guard.pid;
        child.guard = Some(Arc::new(guard));
        child.tty = self.tty;
        child.hinted = self.hinted.clone();
        child.diagnostics = self.diagnostics.clone();
        child
    }

    /// Runs a list; returns the last status.
    pub(super) fn run_script<'a>(&'a mut self, script: &'a Script, io: &'a Streams) -> BoxFuture<'a, i32> {
        Box::pin(async move {
            for item in &script.items {
                if item.background {
                    self.spawn_job(&item.chain, io);
                    continue;
                }
                let status = self.run_and_or(&item.chain, io).await;
                if self.errexit && status != 0 && self.in_condition == 0 && self.exiting.is_none() {
                    self.exiting = Some(status);
                }
                if self.exiting.is_some() || self.jump.is_some() {
                    break;
                }
            }
            self.status
        })
    }

    /// `cmd &`: runs in a subshell on its own task; `wait` collects it.
    fn spawn_job(&mut self, chain: &AndOr, io: &Streams) {
        let mut sub = self.subshell();
        let chain = chain.clone();
        let io = io.clone();
        self.jobs.push(tokio::spawn(async move { sub.run_and_or(&chain, &io).await }));
        self.last_job = self.pid + 100 + self.jobs.len() as u32;
        self.status = 0;
    }

    async fn run_and_or(&mut self, chain: &AndOr, io: &Streams) -> i32 {
        let guarded = !chain.rest.is_empty();
        self.in_condition += u32::from(guarded);
        let mut status = self.run_pipeline(&chain.first, io).await;
        for (i, (connector, pipeline)) in chain.rest.iter().enumerate() {
            if self.exiting.is_some() || self.jump.is_some() {
                break;
            }
            if (*connector == Connector::And) == (status == 0) {
                if i + 1 == chain.rest.len() {
                    self.in_condition -= 1;
                    status = self.run_pipeline(pipeline, io).await;
                    self.in_condition += 1;
                } else {
                    status = self.run_pipeline(pipeline, io).await;
                }
            }
        }
        self.in_condition -= u32::from(guarded);
        status
    }

    async fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Streams) -> i32 {
        let status = match pipeline.commands.as_slice() {
            [one] => self.run_command(one, io).await,
            stages => {
                // Stages run one after another, each on the output of the one before: enough for
                // the filters a learner pipes through, and it never leaves a stage running.
                let mut input = io.stdin.clone();
                let mut status = 0;
                for (i, command) in stages.iter().enumerate() {
                    let out = if i + 1 == stages.len() { io.stdout.clone() } else { Sink::buffer() };
                    let stage = Streams { stdin: input, stdout: out.clone(), stderr: io.stderr.clone() };
                    let mut sub = self.subshell();
                    status = sub.run_command(command, &stage).await;
                    status = sub.exiting.unwrap_or(status);
                    input = Input::bytes(out.contents());
                }
                status
            }
        };
        let status = if pipeline.negate { i32::from(status == 0) } else { status };
        self.status = status;
        status
    }

    async fn run_command(&mut self, command: &Command, io: &Streams) -> i32 {
        match command {
            Command::Simple(simple) => self.run_simple(simple, io).await,
            Command::Compound(compound, redirs) => {
                let io = match self.redirect(redirs, io).await {
                    Ok(io) => io,
                    Err(message) => {
                        io.stderr.write(message.as_bytes()).await;
                        self.status = 1;
                        return 1;
                    }
                };
                let status = self.run_compound(compound, &io).await;
                self.status = status;
                status
            }
        }
    }

    async fn run_compound(&mut self, compound: &Compound, io: &Streams) -> i32 {
        match compound {
            Compound::If { branches, otherwise } => {
                for (cond, body) in branches {
                    self.in_condition += 1;
                    let status = self.run_script(cond, io).await;
                    self.in_condition -= 1;
                    if self.exiting.is_some() || self.jump.is_some() {
                        return status;
                    }
                    if status == 0 {
                        return self.run_script(body, io).await;
                    }
                }
                match otherwise {
                    Some(body) => self.run_script(body, io).await,
                    None => 0,
                }
            }
            Compound::For { var, items, body } => {
                let values = match items {
                    Some(words) => self.expand_words(words).await,
                    None => self.args.iter().skip(1).cloned().collect(),
                };
                let mut status = 0;
                for value in values {
                    self.set_var(var, value);
                    status = self.run_script(body, io).await;
                    if self.end_of_iteration() {
                        break;
                    }
                }
                status
            }
            Compound::While { cond, body, until } => self.run_while(cond, body, *until, io).await,
            Compound::Case { word, arms } => {
                let value = self.expand_string(word).await;
                for (patterns, body) in arms {
                    for pattern in patterns {
                        let pattern = self.expand_pattern(pattern).await;
                        if super::expand::glob_match_name(&pattern, &value) {
                            return self.run_script(body, io).await;
                        }
                    }
                }
                0
            }
            Compound::Group(body) => self.run_script(body, io).await,
            Compound::Subshell(body) => {
                let mut sub = self.subshell();
                let status = sub.run_script(body, io).await;
                sub.exiting.unwrap_or(status)
            }
        }
    }

    /// Settles a `break`/`continue` at the end of a loop's body; true when the loop must stop.
    fn end_of_iteration(&mut self) -> bool {
        match self.jump {
            _ if self.exiting.is_some() => true,
            Some(Jump::Break(n)) => {
                self.jump = (n > 1).then(|| Jump::Break(n - 1));
                true
            }
            Some(Jump::Continue(n)) if n > 1 => {
                self.jump = Some(Jump::Continue(n - 1));
                true
            }
            Some(Jump::Continue(_)) => {
                self.jump = None;
                false
            }
            None => false,
        }
    }

    async fn run_while(&mut self, cond: &Script, body: &Script, until: bool, io: &Streams) -> i32 {
        let mut status = 0;
        let mut busy = 0u64;
        let mut pauses = self.pauses;
        loop {
            // Yield so that a runaway loop never starves the runtime and can always be cancelled.
            tokio::task::yield_now().await;
            busy = if self.pauses == pauses { busy + 1 } else { 0 };
            pauses = self.pauses;
            if busy > LOOP_LIMIT {
                let message = format!(
                    "sh: stopped a loop that ran {LOOP_LIMIT} times without pausing (the sandbox's guard against \
                        runaway loops)\n"
                );
                io.stderr.write(message.as_bytes()).await;
                return 1;
            }
            self.in_condition += 1;
            let ok = self.run_script(cond, io).await == 0;
            self.in_condition -= 1;
            if self.exiting.is_some() || ok == until {
                break;
            }
            status = self.run_script(body, io).await;
            if self.end_of_iteration() {
                break;
            }
        }
        status
    }

    async fn run_simple(&mut self, simple: &Simple, io: &Streams) -> i32 {
        self.subst_status = None;
        let argv = self.expand_words(&simple.words).await;
        let mut assigns = Vec::new();
        for (name, word) in &simple.assigns {
            assigns.push((name.clone(), self.expand_string(word).await));
        }
        let io = match self.redirect(&simple.redirs, io).await {
            Ok(io) => io,
            Err(message) => {
                io.stderr.write(message.as_bytes()).await;
                self.status = 1;
                return 1;
            }
        };
        if argv.is_empty() {
            for (name, value) in assigns {
                self.set_var(&name, value);
            }
            self.status = self.subst_status.take().unwrap_or(0);
            return self.status;
        }
        let saved: Vec<_> =
            assigns.iter().map(|(n, _)| (n.clone(), self.vars.get(n).cloned(), self.exported.contains(n))).collect();
        for (name, value) in assigns {
            self.vars.insert(name.clone(), value);
            self.exported.insert(name);
        }
        let status = self.exec_argv(argv, &io).await;
        for (name, value, exported) in saved.into_iter().rev() {
            match value {
                Some(v) => self.vars.insert(name.clone(), v),
                None => self.vars.remove(&name),
            };
            if !exported {
                self.exported.remove(&name);
            }
        }
        self.status = status;
        status
    }

    /// Runs one command by name: a builtin, a script file, or `not found`.
    pub(super) fn exec_argv<'a>(&'a mut self, argv: Vec<String>, io: &'a Streams) -> BoxFuture<'a, i32> {
        Box::pin(async move {
            let Some(name) = argv.first().cloned() else { return 0 };
            let base = name.rsplit('/').next().unwrap_or(&name).to_string();
            if let Some(builtin) = builtins::lookup(&base, self) {
                let mut call =
                    Call { args: argv, stdin: io.stdin.clone(), stdout: io.stdout.clone(), stderr: io.stderr.clone() };
                return builtin(self, &mut call).await;
            }
            if name.contains('/') {
                let path = self.abs(&name);
                if let Ok(bytes) = self.ctx.fs.read(&path) {
                    let mut child = self.child(&argv.join(" "));
                    child.args = argv;
                    return child.run_source(&String::from_utf8_lossy(&bytes), io).await;
                }
            }
            io.stderr.write(format!("sh: {name}: not found\n").as_bytes()).await;
            self.hint_once(io).await;
            127
        })
    }

    /// Once per container, says what the sandbox's shell supports and where to run the rest.
    async fn hint_once(&self, io: &Streams) {
        if self.hinted.swap(true, Ordering::Relaxed) {
            return;
        }
        let names = builtins::names(self).join(" ");
        let message = format!(
            "sh: note: this container runs in the GitOps Lab sandbox, whose simulated shell provides only: {names}\n\
             sh: note: to run other programs, use a real cluster (for example minikube) with the lab's --cluster \
             option\n"
        );
        io.stderr.write(message.as_bytes()).await;
    }

    /// Sets a shell variable (exported ones stay exported).
    pub(super) fn set_var(&mut self, name: &str, value: String) {
        self.vars.insert(name.to_string(), value);
    }

    /// The exported variables, as `env` lists them.
    pub(super) fn environment(&self) -> Vec<(String, String)> {
        self.exported.iter().filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone()))).collect()
    }

    /// An absolute, normalised path for `path` relative to the working directory.
    pub(super) fn abs(&self, path: &str) -> String {
        let joined = if path.starts_with('/') { path.to_string() } else { format!("{}/{path}", self.cwd) };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/"))
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        for job in &self.jobs {
            job.abort();
        }
    }
}

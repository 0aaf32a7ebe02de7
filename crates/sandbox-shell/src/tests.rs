//! End-to-end tests of the shell: scripts run over a virtual filesystem with captured output.

use super::*;
use crate::vfs::Volume;

pub(super) fn context() -> ShellContext {
    let mut fs = Filesystem::new(Volume::empty());
    fs.mount("/data", Volume::empty(), false);
    ShellContext {
        fs,
        env: BTreeMap::new(),
        hostname: "web".into(),
        processes: ProcessTable::new("sh"),
        pid: Some(1),
        cluster: None,
        git: false,
    }
}

/// Runs a script; returns the exit code, stdout and stderr.
pub(super) async fn run_in(ctx: ShellContext, what: Invocation, stdin: Option<&str>) -> (i32, String, String) {
    let (tx, mut rx) = mpsc::channel(1024);
    let stdin = stdin.map(|text| {
        let (in_tx, in_rx) = mpsc::channel(4);
        let bytes = Bytes::from(text.to_string());
        tokio::spawn(async move { in_tx.send(bytes).await });
        in_rx
    });
    let mut shell = Shell::new(ctx);
    let collector = tokio::spawn(async move {
        let (mut out, mut err) = (String::new(), String::new());
        while let Some(piece) = rx.recv().await {
            match piece {
                Output::Stdout(b) => out.push_str(&String::from_utf8_lossy(&b)),
                Output::Stderr(b) => err.push_str(&String::from_utf8_lossy(&b)),
            }
        }
        (out, err)
    });
    let code = shell.run(what, Io { stdin, output: tx, tty: false }).await;
    drop(shell);
    let (out, err) = collector.await.unwrap_or_default();
    (code, out, err)
}

async fn run(script: &str) -> (i32, String, String) {
    run_in(context(), Invocation::Script(script.into()), None).await
}

#[tokio::test]
async fn the_chapters_init_container_writes_the_cowsay_page() {
    let ctx = context();
    let fs = ctx.fs.clone();
    let argv = vec![
        "sh".into(),
        "-c".into(),
        r#"echo "<pre>$(cowsay -b 'Hello Kubernetes')</pre>" > /data/index.html"#.into(),
    ];
    let (code, out, err) = run_in(ctx, Invocation::Argv(argv), None).await;
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let page = String::from_utf8(fs.read("/data/index.html").unwrap()).unwrap();
    assert!(page.starts_with("<pre> __________________\n< Hello Kubernetes >"), "{page}");
    assert!(page.contains("(==)") && page.ends_with("</pre>\n"), "{page}");
}

#[tokio::test]
async fn and_or_and_semicolons_follow_exit_statuses() {
    let (code, out, _) =
        run("true && echo a; false && echo b; false || echo c; false; echo $?; (exit 3); echo $?").await;
    assert_eq!((code, out.as_str()), (0, "a\nc\n1\n3\n"));
    let (code, _, _) = run("echo x; exit 4; echo never").await;
    assert_eq!(code, 4);
}

#[tokio::test]
async fn pipes_feed_each_stage_and_redirections_append() {
    let (code, out, _) = run("printf 'b\\na\\nb\\n' | sort | uniq -c | tr -s ' ' | head -n 1").await;
    assert_eq!((code, out.as_str()), (0, " 1 a\n"));
    let ctx = context();
    let fs = ctx.fs.clone();
    let script = "echo one > /data/log; echo two >> /data/log; ls /nope 2>> /data/log; cat /data/log | wc -l; echo \
        err 1>&2 2>/dev/null";
    let (code, out, err) = run_in(ctx, Invocation::Script(script.into()), None).await;
    assert_eq!((code, out.as_str(), err.as_str()), (0, "3\n", "err\n"));
    assert_eq!(fs.read("/data/log").unwrap(), b"one\ntwo\nls: /nope: No such file or directory\n");
}

#[tokio::test]
async fn stderr_joins_stdout_with_2_and_1() {
    let (_, out, err) = run("cat /missing 2>&1 | sed 's/missing/gone/'").await;
    assert_eq!((out.as_str(), err.as_str()), ("cat: /gone: No such file or directory\n", ""));
}

#[tokio::test]
async fn positional_parameters_come_from_sh_c_arguments() {
    let argv = ["sh", "-c", "echo $0 $# $1; for a in \"$@\"; do echo \"[$a]\"; done", "name", "x y", "z"]
        .map(String::from)
        .to_vec();
    let (code, out, _) = run_in(context(), Invocation::Argv(argv), None).await;
    assert_eq!((code, out.as_str()), (0, "name 2 x y\n[x y]\n[z]\n"));
}

#[tokio::test]
async fn syntax_errors_exit_2_with_busybox_wording() {
    let (code, out, err) = run("echo before; if true; then echo x; fi; fi").await;
    assert_eq!((code, out.as_str(), err.as_str()), (2, "", "sh: syntax error: unexpected \"fi\"\n"));
    let (code, _, err) = run("echo 'open").await;
    assert_eq!((code, err.as_str()), (2, "sh: syntax error: unterminated quoted string\n"));
}

#[tokio::test]
async fn unknown_commands_exit_127_and_hint_once() {
    let (code, _, err) = run("nginx -v; python3; echo $?").await;
    assert_eq!(code, 0);
    assert!(err.starts_with("sh: nginx: not found\nsh: note:"), "{err}");
    assert_eq!(err.matches("minikube").count(), 1, "{err}");
    assert!(err.contains("sh: python3: not found\n"), "{err}");
    let (code, _, _) = run("nosuchthing").await;
    assert_eq!(code, 127);
}

/// One recorded kubectl call: its arguments and files.
type KubectlCall = (Vec<String>, Vec<(String, Vec<u8>)>);

/// Records every kubectl call; answers like a cluster that forbids everything.
struct Forbidding(std::sync::Mutex<Vec<KubectlCall>>);

impl ClusterClient for Forbidding {
    fn kubectl(&self, args: Vec<String>, files: Vec<(String, Vec<u8>)>) -> KubectlFuture<'_> {
        self.0.lock().unwrap().push((args, files));
        Box::pin(async {
            (1, String::new(), "Error from server (Forbidden): deployments.apps is forbidden\n".to_string())
        })
    }
}

#[tokio::test]
async fn find_exec_runs_kubectl_per_file_and_ignores_its_failures() {
    let client = Arc::new(Forbidding(Default::default()));
    let mut ctx = context();
    ctx.cluster = Some(client.clone());
    ctx.fs.write("/repo/app/deploy.yaml", b"kind: Deployment\n".to_vec(), false).unwrap();
    ctx.fs.write("/repo/app/svc.yaml", b"kind: Service\n".to_vec(), false).unwrap();
    ctx.fs.write("/repo/README.md", b"docs\n".to_vec(), false).unwrap();
    let (code, _, err) =
        run_in(ctx, Invocation::Script("find /repo -name '*.yaml' -exec kubectl apply -f {} \\;".into()), None).await;
    assert_eq!(code, 0);
    assert_eq!(err.matches("Forbidden").count(), 2);
    let calls = client.0.lock().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, ["apply", "-f", "/repo/app/deploy.yaml"]);
    assert_eq!(calls[0].1, vec![("/repo/app/deploy.yaml".to_string(), b"kind: Deployment\n".to_vec())]);
}

#[tokio::test]
async fn kubectl_apply_of_a_directory_sends_its_manifests() {
    let client = Arc::new(Forbidding(Default::default()));
    let mut ctx = context();
    ctx.cluster = Some(client.clone());
    ctx.fs.write("/m/a.yaml", b"a".to_vec(), false).unwrap();
    ctx.fs.write("/m/b.txt", b"b".to_vec(), false).unwrap();
    ctx.fs.write("/m/sub/c.yml", b"c".to_vec(), false).unwrap();
    let (code, _, _) = run_in(ctx, Invocation::Script("cd /m && kubectl apply -f .".into()), None).await;
    assert_eq!(code, 1);
    let sent: Vec<String> = client.0.lock().unwrap()[0].1.iter().map(|f| f.0.clone()).collect();
    assert_eq!(sent, ["./a.yaml"]);
    let (code, _, err) = run_in(context(), Invocation::Script("kubectl get pods".into()), None).await;
    assert_eq!(code, 127, "{err}");
}

#[tokio::test]
async fn git_clone_copies_a_local_repositorys_work_tree() {
    let host = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(host.path()).unwrap();
    std::fs::create_dir_all(host.path().join("apps")).unwrap();
    std::fs::write(host.path().join("apps/guestbook.yaml"), "kind: Deployment\n").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(std::path::Path::new("apps/guestbook.yaml")).unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let me = git2::Signature::now("Lab", "lab@example.com").unwrap();
    repo.commit(Some("HEAD"), &me, &me, "first", &tree, &[]).unwrap();

    let mut ctx = context();
    ctx.git = true;
    let fs = ctx.fs.clone();
    let url = format!("file://{}", host.path().display());
    let (code, _, err) =
        run_in(ctx, Invocation::Script(format!("git clone {url} /tmp/config && ls /tmp/config/apps")), None).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "Cloning into '/tmp/config'...\n");
    assert_eq!(fs.read("/tmp/config/apps/guestbook.yaml").unwrap(), b"kind: Deployment\n");
    assert_eq!(fs.is_dir("/tmp/config/.git"), None);

    let mut ctx = context();
    ctx.git = true;
    let (code, _, err) = run_in(ctx, Invocation::Script("git clone https://github.com/x/y.git".into()), None).await;
    assert_eq!(code, 128);
    assert!(err.contains("Could not resolve host: github.com"), "{err}");
}

#[tokio::test]
async fn kill_1_signals_the_containers_main_process() {
    let mut ctx = context();
    ctx.pid = None;
    let processes = ProcessTable::new("nginx: master process nginx -g daemon off;");
    ctx.processes = processes.clone();
    let mut pid1 = processes.watch(1);
    let (code, out, _) =
        run_in(ctx, Invocation::Script("ps -ef | grep -c nginx; kill 1; kill -9 4242".into()), None).await;
    assert_eq!(code, 1);
    assert_eq!(out, "1\n");
    assert_eq!(procs::signalled(&mut pid1).await, 15);
}

#[tokio::test]
async fn ps_lists_pid_1_with_its_command() {
    let mut ctx = context();
    ctx.pid = None;
    ctx.processes = ProcessTable::new("nginx: master process nginx -g daemon off;");
    let (_, out, _) = run_in(ctx, Invocation::Argv(vec!["ps".into(), "-ef".into()]), None).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "UID          PID    PPID  C STIME TTY          TIME CMD");
    assert!(
        lines[1].starts_with("root           1       0  0 ")
            && lines[1].ends_with(" ?        00:00:00 nginx: master process nginx -g daemon off;"),
        "{}",
        lines[1]
    );
    assert!(lines.iter().any(|l| l.ends_with(" ps -ef")), "{out}");
}

#[tokio::test]
async fn sleep_ends_early_when_its_shell_is_killed() {
    let ctx = context();
    let processes = ctx.processes.clone();
    let started = std::time::Instant::now();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        processes.signal(1, 9).unwrap();
    });
    let (code, out, _) = run_in(ctx, Invocation::Script("echo start; sleep 3600; echo never".into()), None).await;
    killer.await.unwrap();
    assert_eq!((code, out.as_str()), (137, "start\n"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn a_sleep_is_cancelled_by_dropping_the_run() {
    let result = tokio::time::timeout(std::time::Duration::from_millis(50), run("sleep 10")).await;
    assert!(result.is_err());
}

#[tokio::test]
async fn busy_loops_are_stopped_but_pausing_loops_are_not() {
    let (code, _, err) = run("while true; do :; done; echo after").await;
    assert_eq!(code, 0);
    assert!(err.contains("runaway loops"), "{err}");
    let (code, out, _) = run("i=0; while [ $i -lt 3 ]; do sleep 0.001; i=$((i+1)); done; echo $i").await;
    assert_eq!((code, out.as_str()), (0, "3\n"));
}

#[tokio::test]
async fn stdin_without_a_tty_runs_line_by_line() {
    let (code, out, _) = run_in(
        context(),
        Invocation::Argv(vec!["sh".into()]),
        Some("echo a\nif true\nthen echo b; fi\nexit 5\necho c\n"),
    )
    .await;
    assert_eq!((code, out.as_str()), (5, "a\nb\n"));
}

#[tokio::test]
async fn a_tty_session_prompts_echoes_and_edits_the_line() {
    let (tx, mut rx) = mpsc::channel(64);
    let (in_tx, in_rx) = mpsc::channel(8);
    in_tx.send(Bytes::from_static(b"\x7fcd /data\r")).await.unwrap();
    in_tx.send(Bytes::from_static(b"echx\x7fo hi\r")).await.unwrap();
    in_tx.send(Bytes::from_static(b"\x04")).await.unwrap();
    let mut shell = Shell::new(context());
    let code = shell.run(Invocation::Argv(vec!["sh".into()]), Io { stdin: Some(in_rx), output: tx, tty: true }).await;
    drop(shell);
    let mut screen = String::new();
    while let Some(Output::Stdout(b) | Output::Stderr(b)) = rx.recv().await {
        screen.push_str(&String::from_utf8_lossy(&b));
    }
    assert_eq!(code, 0);
    assert_eq!(screen, "/ # cd /data\r\n/data # echx\x08 \x08o hi\r\nhi\r\n/data # ");
}

#[tokio::test]
async fn background_jobs_run_concurrently_and_wait_collects_them() {
    let (code, out, _) = run("(sleep 0.05; echo late) & echo early; wait; echo done").await;
    assert_eq!((code, out.as_str()), (0, "early\nlate\ndone\n"));
}

/// Golden scripts: `testdata/NAME.sh` runs over a small filesystem; its stdout and stderr, then
/// `exit: N`, must equal `testdata/NAME.out`. `UPDATE_GOLDEN=1` rewrites the expectations.
#[tokio::test]
async fn golden_scripts_print_what_their_out_files_say() {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("src/testdata");
    let mut scripts: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty());
    for script in scripts {
        let ctx = context();
        ctx.fs.write("/etc/hostname", b"web\n".to_vec(), false).unwrap();
        ctx.fs.write("/usr/share/nginx/html/index.html", b"<h1>Welcome to nginx!</h1>\n".to_vec(), false).unwrap();
        let source = std::fs::read_to_string(&script).unwrap();
        let (code, out, err) = run_in(ctx, Invocation::Script(source), None).await;
        let actual = format!("{out}--- stderr\n{err}--- exit: {code}\n");
        let expected_path = script.with_extension("out");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(actual, expected, "{}", script.display());
    }
}

#[tokio::test]
async fn date_prints_utc_and_seconds_since_the_epoch() {
    let (code, out, _) = run("date; date +%s").await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(code, 0);
    assert!(lines[0].contains(" UTC "), "{out}");
    let seconds: i64 = lines[1].parse().unwrap();
    assert!((seconds - jiff::Timestamp::now().as_second()).abs() < 60);
}

#[tokio::test]
async fn the_callers_channel_closes_when_the_run_ends_even_if_the_shell_lives_on() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut shell = Shell::new(context());
    let code = shell.run(Invocation::Script("echo hi".into()), Io { stdin: None, output: tx, tty: false }).await;
    assert_eq!(code, 0);
    assert_eq!(rx.recv().await, Some(Output::Stdout(Bytes::from_static(b"hi\n"))));
    assert_eq!(rx.recv().await, None);
}

#[tokio::test]
async fn odd_scripts_fail_cleanly() {
    for script in [
        "echo ${",
        "echo $((1 +",
        "echo $(",
        "cat <<EOF\nno end",
        "echo $((1/0))",
        "printf '%'",
        "for x in; do echo; done",
        "[ 1 -lt ]",
        "[ x",
        "kill -BOGUS 1",
        "sed 's/a/b'",
        "cut",
        "cd /a/b/c",
        "exit x",
        "echo é | cut -c 1 | sed 's/é/e/'",
    ] {
        let (code, _, _) = run(script).await;
        assert!((0..=2).contains(&code), "{script}: {code}");
    }
}

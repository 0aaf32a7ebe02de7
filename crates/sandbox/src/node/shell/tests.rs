//! End-to-end tests of the shell: scripts run over a virtual filesystem with captured output.

use super::*;
use crate::node::vfs::Volume;

pub(super) fn context() -> ShellContext {
    let mut fs = Filesystem::new(Volume::empty());
    fs.mount("/data", Volume::empty(), false);
    ShellContext { fs, env: BTreeMap::new(), hostname: "web".into(), processes: ProcessTable::new("sh"), pid: Some(1), cluster: None, git: false }
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
    let argv = vec!["sh".into(), "-c".into(), r#"echo "<pre>$(cowsay -b 'Hello Kubernetes')</pre>" > /data/index.html"#.into()];
    let (code, out, err) = run_in(ctx, Invocation::Argv(argv), None).await;
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let page = String::from_utf8(fs.read("/data/index.html").unwrap()).unwrap();
    assert!(page.starts_with("<pre> __________________\n< Hello Kubernetes >"), "{page}");
    assert!(page.contains("(==)") && page.ends_with("</pre>\n"), "{page}");
}

#[tokio::test]
async fn and_or_and_semicolons_follow_exit_statuses() {
    let (code, out, _) = run("true && echo a; false && echo b; false || echo c; false; echo $?; (exit 3); echo $?").await;
    assert_eq!((code, out.as_str()), (0, "a\nc\n1\n3\n"));
    let (code, _, _) = run("echo x; exit 4; echo never").await;
    assert_eq!(code, 4);
}

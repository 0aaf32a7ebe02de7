//! Exec sessions and followed logs through the engine against a real sandbox: output as text
//! chunks, standard input, a terminal with resize, exit codes, stop, and clear errors.

#[path = "engine_live_common.rs"]
mod common;

use common::{Lab, object, stream_of};
use gitops_lab::protocol::{Command, Reply, StreamId};

const SHELL: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  containers:
    - name: main
      image: busybox
      command: [sh, -c, "echo one; sleep 1; echo two; sleep 3600"]
"#;

async fn ready_shell() -> Lab {
    let lab = Lab::start().await;
    lab.apply(SHELL);
    lab.sandbox.kubectl_ok(&["wait", "--for=condition=Ready", "pod/shell", "--timeout=60s"]);
    lab
}

async fn exec(lab: &Lab, command: &[&str], tty: bool) -> StreamId {
    let reply = lab
        .ok(Command::ExecStart {
            pod: object("v1", "Pod", "shell"),
            container: None,
            command: command.iter().map(|s| s.to_string()).collect(),
            tty,
            cols: 80,
            rows: 24,
        })
        .await;
    let Reply::Stream(id) = reply else { panic!("ExecStart answered {reply:?}") };
    id
}

/// Waits for a stream to end; its text and ending message.
async fn ended(lab: &Lab, id: StreamId) -> (String, String) {
    lab.recorder
        .wait_for("the stream to end", |events| {
            let (text, ended) = stream_of(events, id);
            ended.map(|message| (text, message))
        })
        .await
}

/// Waits until a stream printed `expected`.
async fn printed(lab: &Lab, id: StreamId, expected: &str) {
    lab.recorder
        .wait_for(&format!("{expected:?} on the stream"), |events| {
            stream_of(events, id).0.contains(expected).then_some(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_print_their_output_and_report_their_exit_code() {
    let lab = ready_shell().await;
    let ls = exec(&lab, &["ls", "/"], false).await;
    let (text, message) = ended(&lab, ls).await;
    assert!(text.lines().any(|l| l == "bin") && text.lines().any(|l| l == "etc"), "{text:?}");
    assert!(message.contains("exit code 0"), "{message}");

    let failing = exec(&lab, &["sh", "-c", "echo oops >&2; exit 3"], false).await;
    let (text, message) = ended(&lab, failing).await;
    assert!(message.contains("exit code 3"), "{message}");
    assert!(text.contains("oops"), "{text:?}");
    let on_stderr = lab.recorder.all().iter().any(|e| {
        matches!(e, gitops_lab::protocol::Event::Stream(d) if d.stream == failing && d.stderr && d.data.contains("oops"))
    });
    assert!(on_stderr, "stderr is marked as such without a terminal");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_input_reaches_the_command_and_ctrl_d_closes_it() {
    let lab = ready_shell().await;
    let cat = exec(&lab, &["cat"], false).await;
    lab.ok(Command::ExecInput { stream: cat, data: "hello 世界\n".into() }).await;
    lab.ok(Command::ExecInput { stream: cat, data: "second line\n".into() }).await;
    let error = lab.send(Command::ExecResize { stream: cat, cols: 100, rows: 30 }).await.unwrap_err();
    assert_eq!(error.code, "no-terminal", "a session without a terminal cannot be resized");
    // The sandbox's cat answers once its input ends (a real one echoes line by line): Ctrl-D ends it.
    lab.ok(Command::ExecInput { stream: cat, data: "\u{4}".into() }).await;
    let (text, message) = ended(&lab, cat).await;
    assert_eq!(text, "hello 世界\nsecond line\n");
    assert!(message.contains("exit code 0"), "{message}");
    let late = lab.send(Command::ExecInput { stream: cat, data: "more".into() }).await.unwrap_err();
    assert_eq!(late.code, "no-such-stream");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_takes_keystrokes_and_resizes_until_exit() {
    let lab = ready_shell().await;
    let shell = exec(&lab, &[], true).await;
    assert_eq!(lab.ok(Command::ExecResize { stream: shell, cols: 120, rows: 40 }).await, Reply::Done);
    lab.ok(Command::ExecInput { stream: shell, data: "echo tty-$((40+2))\n".into() }).await;
    printed(&lab, shell, "tty-42").await;
    lab.ok(Command::ExecInput { stream: shell, data: "exit 4\n".into() }).await;
    let (_, message) = ended(&lab, shell).await;
    assert!(message.contains("exit code 4"), "{message}");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_log_streams_new_lines_until_stopped() {
    let lab = ready_shell().await;
    let Reply::Stream(log) =
        lab.ok(Command::FollowLogs { pod: object("v1", "Pod", "shell"), container: Some("main".into()) }).await
    else {
        panic!("a stream")
    };
    printed(&lab, log, "one\n").await;
    printed(&lab, log, "two\n").await;
    lab.ok(Command::StopStream { stream: log }).await;
    let (text, message) = ended(&lab, log).await;
    assert_eq!(text, "one\ntwo\n");
    assert_eq!(message, "Stopped.");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_to_missing_pods_or_containers_are_refused_with_the_reason() {
    let lab = ready_shell().await;
    let missing = lab
        .send(Command::ExecStart {
            pod: object("v1", "Pod", "nope"),
            container: None,
            command: vec!["ls".into()],
            tty: false,
            cols: 80,
            rows: 24,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code, "not-found");
    let container = lab
        .send(Command::FollowLogs { pod: object("v1", "Pod", "shell"), container: Some("web".into()) })
        .await
        .unwrap_err();
    assert_eq!(container.code, "no-such-container");
    assert!(container.message.en.contains("main"), "{}", container.message.en);
    let deployment = lab
        .send(Command::FollowLogs { pod: object("apps/v1", "Deployment", "web"), container: None })
        .await
        .unwrap_err();
    assert_eq!(deployment.code, "not-a-pod");
    lab.stop().await;
}

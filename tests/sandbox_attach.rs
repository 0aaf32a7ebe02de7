//! `kubectl attach -i` and `kubectl run -i` with the real kubectl: what is typed reaches the
//! container's main process (a shell runs the lines, `cat` echoes them as they come), a `stdinOnce`
//! container's input ends with the attach, and `kubectl run -i --rm` ends with the container's
//! exit code and upstream's `terminated (Error)` line.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use gitops_lab_e2e::{Sandbox, eventually, kubectl_available, text};

#[test]
fn kubectl_run_interactive_runs_the_piped_lines_and_ends_with_their_exit_code() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let mut command = sb.kubectl_command();
    command.args(["run", "t", "-i", "--rm", "--restart=Never", "--image=busybox", "--", "sh"]);
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"echo hello from stdin\nhostname\nexit 3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("hello from stdin\nt\n"), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(out.status.code(), Some(3), "the shell's exit code: {stderr}");
    assert!(stderr.contains("pod default/t terminated (Error)"), "{stderr}");
    assert!(stdout.contains("pod \"t\" deleted"), "--rm deleted it: {stdout}");
}

#[test]
fn attach_writes_to_a_running_containers_stdin_again_and_again() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: echo}\nspec:\n  containers:\n  \
               - {name: echo, image: busybox, stdin: true, command: [cat]}\n";
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], pod);
    eventually("the pod running", || {
        (sb.kubectl_ok(&["get", "pod", "echo", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(())
    });
    for word in ["first", "second"] {
        let mut command = sb.kubectl_command();
        command.args(["attach", "-i", "echo"]);
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdin = child.stdin.take().unwrap();
        // kubectl sends stdin once its streams are up; the line comes back through cat's stdout.
        stdin.write_all(format!("{word}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
        let echoed = lines.recv_timeout(Duration::from_secs(20));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(echoed.as_deref(), Ok(word), "cat echoed the typed line");
    }
    // Both attaches reached the same process: its input stays open between them.
    let log = sb.kubectl_ok(&["logs", "echo"]);
    assert_eq!(log, "first\nsecond\n");
    let restarts = sb.kubectl_ok(&["get", "pod", "echo", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]);
    assert_eq!(restarts, "0");
}

//! What happens to a learner between actions, against the real `gitops-lab workshop`: a page that
//! stops answering the server's pings (a closed laptop) is dropped and the idle sandbox stops; a
//! learner back from idle when memory is short is told to wait and nothing crashes; a learner's
//! sandbox killed mid-class is restarted and their open page told so; a learner the instructor
//! removes loses their sandbox, data and links (401 saying why), the others keep theirs.

mod workshop_common;

use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};
use workshop_common::{Workshop, wait_for};

/// A raw WebSocket client for the learner's event stream: reads frames, answers pings only when
/// asked to.
struct Events {
    stream: TcpStream,
}

impl Events {
    /// Opens `/api/events`; the status line of the answer when it is not 101.
    fn open(workshop: &Workshop, token: &str) -> Result<Events, String> {
        let mut stream = TcpStream::connect(&workshop.addr).unwrap();
        let request = format!(
            "GET /api/events HTTP/1.1\r\nHost: {0}\r\nOrigin: http://{0}\r\nAuthorization: Bearer {token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            workshop.addr
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        if head.starts_with("HTTP/1.1 101") { Ok(Events { stream }) } else { Err(head) }
    }

    /// The next frame's opcode and payload; `None` once the server closed the connection.
    fn frame(&mut self, answer_pings: bool) -> Option<(u8, Vec<u8>)> {
        let mut two = [0; 2];
        self.stream.read_exact(&mut two).ok()?;
        let length = match two[1] & 0x7f {
            126 => {
                let mut n = [0; 2];
                self.stream.read_exact(&mut n).ok()?;
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0; 8];
                self.stream.read_exact(&mut n).ok()?;
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; length];
        self.stream.read_exact(&mut payload).ok()?;
        let opcode = two[0] & 0x0f;
        if opcode == 0x9 && answer_pings {
            // A pong, masked (as every client frame must be) with a zero key, echoing the ping.
            let mut pong = vec![0x8a, 0x80 | payload.len() as u8, 0, 0, 0, 0];
            pong.extend_from_slice(&payload);
            self.stream.write_all(&pong).ok()?;
        }
        Some((opcode, payload))
    }
}

fn sandbox_state(workshop: &Workshop, id: &str) -> String {
    workshop.board_line(id)["sandbox"].as_str().unwrap_or_default().to_string()
}

fn join(workshop: &Workshop, name: &str) -> (String, String) {
    let (status, answer) = workshop.json("POST", "/api/join", None, Some(&json!({"name": name})));
    assert_eq!(status, 200, "{answer}");
    (answer["id"].as_str().unwrap().to_string(), answer["token"].as_str().unwrap().to_string())
}

#[test]
fn a_page_that_stops_answering_is_dropped_and_its_sandbox_stops() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--heartbeat", "1", "--idle-stop", "2"]);
    let (id, token) = join(&workshop, "Ada");
    assert!(workshop.kubectl(&token, "kubectl get namespaces").contains("default"));
    assert_eq!(sandbox_state(&workshop, &id), "running");

    // The page's socket stays connected but never answers: a laptop closed mid-step.
    let mut events = Events::open(&workshop, &token).expect("the event socket opens");
    let started = Instant::now();
    let mut pings = 0;
    while let Some((opcode, _)) = events.frame(false) {
        pings += usize::from(opcode == 0x9);
        assert!(started.elapsed() < Duration::from_secs(30), "the silent page is dropped within 30 s");
    }
    assert!(pings >= 1, "the server pinged the page before giving up on it");
    eprintln!("the silent page was dropped after {} ms and {pings} pings", started.elapsed().as_millis());
    wait_for("the idle learner's sandbox to stop", Duration::from_secs(30), || {
        sandbox_state(&workshop, &id) == "stopped"
    });
    // Back at the laptop: the next action starts it again where it was.
    assert!(workshop.kubectl(&token, "kubectl get namespaces").contains("default"));
    workshop.stop();
}

#[test]
fn a_page_that_answers_keeps_its_sandbox_running() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--heartbeat", "1", "--idle-stop", "2"]);
    let (id, token) = join(&workshop, "Bo");
    workshop.kubectl(&token, "kubectl get namespaces");
    let mut events = Events::open(&workshop, &token).expect("the event socket opens");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        events.frame(true).expect("the server keeps a page that answers its pings");
    }
    assert_eq!(sandbox_state(&workshop, &id), "running", "an open, answering page is not idle");
    workshop.stop();
}

#[test]
fn a_learner_back_from_idle_waits_when_memory_is_short() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &[]);
    let (id, token) = join(&workshop, "Cy");
    workshop.stop();
    // The same class, restarted on a machine that would have to keep 100 TiB free.
    let workshop = Workshop::start(dir.path(), &["--reserve-mib", "100000000"]);
    let (status, answer) = workshop.json(
        "POST",
        "/api/command",
        Some(&token),
        Some(&json!({"type": "kubectl", "line": "kubectl get ns"})),
    );
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["Err"]["code"], "please-wait", "{answer}");
    let message = answer["Err"]["message"]["en"].as_str().unwrap();
    assert!(message.contains("too little free memory") && message.contains("Please wait"), "{message}");
    let refused = Events::open(&workshop, &token).err().expect("no event stream without an engine");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert_eq!(sandbox_state(&workshop, &id), "stopped", "nothing was started");
    let (status, me) = workshop.json("GET", "/api/me", Some(&token), None);
    assert_eq!(status, 200, "the server is still up and knows the learner: {me}");
    workshop.stop();
}

#[test]
fn a_crashed_sandbox_is_restarted_and_the_learner_told() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &[]);
    let (_, token) = join(&workshop, "Dee");
    workshop.kubectl(&token, "kubectl create namespace kept");
    let mut events = Events::open(&workshop, &token).expect("the event socket opens");

    let children = Command::new("pgrep").args(["-P", &workshop.child.id().to_string(), "-f", "sandbox"]).output();
    let pids = String::from_utf8_lossy(&children.unwrap().stdout).to_string();
    let pid = pids.split_whitespace().next().expect("the learner's sandbox is a child of the server").to_string();
    assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());

    let started = Instant::now();
    let (mut told_stopped, mut told_back) = (false, false);
    while !told_back {
        let (_, payload) = events.frame(true).expect("the page stays connected through the crash");
        let text = String::from_utf8_lossy(&payload);
        told_stopped |= text.contains("stopped unexpectedly");
        told_back |= told_stopped && text.contains("running again");
        assert!(started.elapsed() < Duration::from_secs(60), "the learner is told within 60 s");
    }
    let output = workshop.kubectl(&token, "kubectl get namespace kept");
    assert!(output.contains("kept"), "the restarted sandbox kept the learner's objects: {output}");
    workshop.stop();
}

#[test]
fn a_runaway_loop_slows_only_its_own_learner() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--command-rate", "2"]);
    let (_, looping) = join(&workshop, "Eve");
    let (_, other) = join(&workshop, "Fay");
    let get = json!({"type": "kubectl", "line": "kubectl get namespaces"});
    let mut slowed = None;
    for _ in 0..20 {
        let (status, head, body) = workshop.call_with("POST", "/api/command", Some(&looping), &[], Some(&get));
        if status == 429 {
            slowed = Some((head, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (head, body) = slowed.expect("a loop of commands is slowed down");
    assert!(head.to_ascii_lowercase().contains("retry-after: 1"), "{head}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["Err"]["code"], "slow-down", "{answer}");
    assert!(answer["Err"]["message"]["en"].as_str().unwrap().contains("Too many commands"), "{answer}");
    assert!(!answer["Err"]["message"]["zh-CN"].as_str().unwrap().is_empty(), "{answer}");
    // Meanwhile another learner is served at once, and the looping one again after a pause.
    assert!(workshop.kubectl(&other, "kubectl get namespaces").contains("default"));
    std::thread::sleep(Duration::from_millis(1100));
    assert!(workshop.kubectl(&looping, "kubectl get namespaces").contains("default"));
    workshop.stop();
}

#[test]
fn the_instructor_sees_a_learners_live_tree_read_only() {
    let dir = tempfile::tempdir().unwrap();
    // Idle after 5 s: long enough for the tree to show the learner's object on a busy machine
    // (looking is no activity, so the sandbox may stop meanwhile), short enough to wait for below.
    let workshop = Workshop::start(dir.path(), &["--idle-stop", "5"]);
    let (id, token) = join(&workshop, "Gus");
    let (_, other) = join(&workshop, "Hal");
    let path = format!("/api/board/tree?learner={id}");
    let (status, answer) = workshop.json("GET", &path, Some(&workshop.instructor), None);
    assert_eq!((status, &answer["code"]), (409, &json!("sandbox-stopped")), "not started by looking: {answer}");
    assert_eq!(sandbox_state(&workshop, &id), "stopped");

    workshop.kubectl(&token, "kubectl create deployment gus-was-here --image=nginx");
    wait_for("the learner's own object in the tree the instructor sees", Duration::from_secs(30), || {
        let (status, tree) = workshop.call("GET", &path, Some(&workshop.instructor), None);
        assert_eq!(status, 200, "{tree}");
        tree.contains("gus-was-here")
    });
    let (status, _) = workshop.call("GET", &path, Some(&other), None);
    assert_eq!(status, 403, "a learner cannot look at another's tree");
    let (status, answer) = workshop.json("GET", "/api/board/tree?learner=learner-99", Some(&workshop.instructor), None);
    assert_eq!((status, &answer["code"]), (404, &json!("no-learner")), "{answer}");
    let (status, answer) = workshop.json("GET", "/api/board/tree", Some(&workshop.instructor), None);
    assert_eq!((status, &answer["code"]), (400, &json!("bad-request")), "{answer}");
    // Looking is not activity: the learner still goes idle while the instructor keeps looking.
    wait_for("the watched learner to go idle", Duration::from_secs(30), || {
        let _ = workshop.call("GET", &path, Some(&workshop.instructor), None);
        sandbox_state(&workshop, &id) == "stopped"
    });
    workshop.stop();
}

/// The pids of the server's children whose command line mentions `needle` (a learner's sandbox
/// names their data folder).
fn children_with(workshop: &Workshop, needle: &str) -> Vec<String> {
    let out = Command::new("pgrep").args(["-P", &workshop.child.id().to_string(), "-f", needle]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
}

#[test]
fn the_instructor_removes_a_learner_whose_sandbox_data_and_links_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--tls"]);
    let (ada_id, ada) = join(&workshop, "Ada");
    let (lei_id, lei) = join(&workshop, "Lei");
    workshop.kubectl(&ada, "kubectl create configmap mine");
    workshop.kubectl(&lei, "kubectl create configmap theirs");
    let (status, _, config) = workshop.call_with("GET", "/api/kubeconfig", Some(&ada), &[], None);
    assert_eq!(status, 200, "{config}");
    let door = config.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("a kubectl token").to_string();
    let sandbox_dir = dir.path().join("learners").join(&ada_id);
    assert!(sandbox_dir.is_dir());
    let ada_sandbox = format!("learners/{ada_id}/sandbox");
    assert_eq!(children_with(&workshop, &ada_sandbox).len(), 1, "Ada's sandbox runs");

    // Only the instructor may remove, with a body naming a learner who is there.
    let remove =
        |token: &str, body: serde_json::Value| workshop.json("POST", "/api/board/remove", Some(token), Some(&body));
    let (status, _) = workshop.call("POST", "/api/board/remove", Some(&lei), Some(&json!({"learner": ada_id})));
    assert_eq!(status, 403, "a learner cannot remove anyone");
    let (status, answer) = remove(&workshop.instructor, json!({"who": ada_id}));
    assert_eq!((status, &answer["code"]), (400, &json!("bad-request")), "{answer}");
    let (status, answer) = remove(&workshop.instructor, json!({"learner": ada_id}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["removed"], json!(ada_id));

    // Her links are refused with a message that says why, her sandbox stopped, her data gone.
    let (status, body) = workshop.call("GET", "/api/me", Some(&ada), None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("removed you from the workshop") && body.contains("移出"), "{body}");
    let (status, body) =
        workshop.call("GET", &format!("/k8s/{ada_id}/api/v1/namespaces/default/configmaps"), Some(&door), None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("removed you from the workshop"), "{body}");
    wait_for("Ada's sandbox to stop", Duration::from_secs(20), || children_with(&workshop, &ada_sandbox).is_empty());
    assert!(!sandbox_dir.exists(), "Ada's data is deleted");
    let (status, board) = workshop.json("GET", "/api/board", Some(&workshop.instructor), None);
    assert_eq!(status, 200);
    let ids: Vec<&str> = board["learners"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [lei_id.as_str()], "the board lists Lei only");
    // Lei is untouched; a second removal names the learner who is not there.
    assert!(workshop.kubectl(&lei, "kubectl get configmap theirs").contains("theirs"));
    let (status, answer) = remove(&workshop.instructor, json!({"learner": ada_id}));
    assert_eq!((status, &answer["code"]), (404, &json!("no-learner")), "{answer}");
    // A new learner gets a new id, and Ada may join again under her name.
    let (new_id, _) = join(&workshop, "Ada");
    assert!(new_id != ada_id && new_id != lei_id, "{new_id}");
    workshop.stop();
    // After a restart she is still out.
    let workshop = Workshop::start(dir.path(), &["--tls"]);
    let (status, body) = workshop.call("GET", "/api/me", Some(&ada), None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("removed you from the workshop"), "still told why after a restart: {body}");
    assert_eq!(workshop.call("GET", "/api/me", Some(&lei), None).0, 200);
    workshop.stop();
}

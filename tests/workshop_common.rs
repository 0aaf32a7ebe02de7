//! Shared by the workshop suites: the real `gitops-lab workshop` on a free port with its own data
//! directory, a small blocking HTTP client for its API, and waiting helpers.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running workshop server.
pub struct Workshop {
    pub child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub instructor: String,
    /// What the links start with: `http://127.0.0.1:PORT`, `https://…`, or the public URL.
    pub base: String,
    /// Every line printed before the join line (`ca: …`, `ca-sha256: …`, …).
    pub printed: Vec<String>,
    /// The CA to trust when the server speaks HTTPS (then every call goes over TLS).
    pub ca: Option<Vec<u8>>,
}

impl Workshop {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Workshop {
        Workshop::start_with(data_dir, extra, &[])
    }

    /// As [`Workshop::start`], with environment variables for the server (e.g. `KUBECONFIG`).
    pub fn start_with(data_dir: &Path, extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Workshop {
        let mut child = Command::new(gitops_lab_e2e::gitops_lab_bin())
            .args(["workshop", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("GITOPS_LAB_LANG", "en")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gitops-lab starts");
        let printed = gitops_lab_e2e::printed_until(&mut child, "join: ");
        let value = |prefix: &str| printed.iter().find_map(|l| l.strip_prefix(prefix)).map(str::to_string);
        let join = value("join: ").expect("a join url");
        let instructor = value("instructor: ").expect("an instructor url");
        let addr = value("listening: ").expect("the listening address");
        let base = join.trim_end_matches("/join").to_string();
        let token = instructor.split_once("?token=").expect("the instructor url carries a token").1.to_string();
        assert!(instructor.starts_with(&format!("{base}/board?token=")), "{instructor}");
        let ca = value("ca: ").map(|path| std::fs::read(path).expect("the printed CA file exists"));
        Workshop { child, addr, instructor: token, base, printed, ca }
    }

    /// The value of a printed line starting with `prefix`.
    pub fn printed(&self, prefix: &str) -> Option<String> {
        self.printed.iter().find_map(|l| l.strip_prefix(prefix)).map(str::to_string)
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let started = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(started.elapsed() < Duration::from_secs(20), "the workshop stops within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the workshop stopped {} ms after SIGTERM", started.elapsed().as_millis());
    }

    /// One request; `token` goes as a bearer token. Returns the status and the body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, String) {
        let (status, _, body) = self.call_with(method, path, token, &[], body);
        (status, body)
    }

    /// One request with extra headers (`Host` among them replaces the default): status, the
    /// answer's head and body. Over TLS when the server speaks HTTPS, trusting only its CA.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, String, String) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let host = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map_or(self.addr.as_str(), |h| h.1);
        let extra: String = headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if let Some(ca) = &self.ca {
            let mut client = gitops_lab_e2e::raw_https::RawClient::new(&format!("https://{}", self.addr), ca);
            let answer = client.send(request.as_bytes()).expect("an HTTPS answer");
            let head = answer.headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
            return (answer.status, head, String::from_utf8_lossy(&answer.body).to_string());
        }
        let mut stream = TcpStream::connect(&self.addr).expect("the workshop accepts connections");
        stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let mut buffer = [0; 8192];
        // A switched protocol (a WebSocket) keeps the connection open: its head is the answer.
        while !(raw.starts_with(b"HTTP/1.1 101") && raw.windows(4).any(|w| w == b"\r\n\r\n")) {
            match stream.read(&mut buffer).unwrap() {
                0 => break,
                n => raw.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            unchunk(rest)
        } else {
            rest.to_string()
        };
        (status, head.to_string(), body)
    }

    pub fn json(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let (status, text) = self.call(method, path, token, body);
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path} answers JSON, not {text}")))
    }

    /// A command on a learner's engine; the engine's `Ok` reply.
    pub fn command(&self, token: &str, command: Value) -> Value {
        let (status, answer) = self.json("POST", "/api/command", Some(token), Some(&command));
        assert_eq!(status, 200, "{command} → {answer}");
        answer.get("Ok").cloned().unwrap_or_else(|| panic!("{command} failed: {answer}"))
    }

    pub fn kubectl(&self, token: &str, line: &str) -> String {
        let reply = self.command(token, json!({"type": "kubectl", "line": line}));
        reply["data"]["output"].as_str().expect("kubectl output").to_string()
    }

    pub fn join(&self, name: &str) -> String {
        let (status, answer) = self.json("POST", "/api/join", None, Some(&json!({"name": name})));
        assert_eq!(status, 200, "{answer}");
        answer["token"].as_str().expect("a token").to_string()
    }

    pub fn board_line(&self, id: &str) -> Value {
        let (status, board) = self.json("GET", "/api/board", Some(&self.instructor), None);
        assert_eq!(status, 200, "{board}");
        board["learners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
            .expect("the learner is on the board")
    }
}

impl Drop for Workshop {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
            let _ = self.child.wait();
        }
    }
}

fn unchunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    gitops_lab_e2e::eventually_within(what, timeout, || ok().then_some(()))
}

pub fn done_steps(line: &Value, exercise: &str) -> u64 {
    line["progress"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == exercise)
        .map(|p| p["done_steps"].as_u64().unwrap())
        .unwrap_or(0)
}

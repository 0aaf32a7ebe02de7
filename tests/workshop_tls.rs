//! The workshop's HTTPS and its life behind a TLS-terminating proxy, against the real
//! `gitops-lab workshop`: a TLS client that trusts only the CA the server printed joins and plays,
//! the printed fingerprint is the CA file's (as `openssl` computes it), the CA survives a restart,
//! foreign origins stay refused; with `--public-url` the links use it and its Host and Origin are
//! accepted, the WebSocket included.

mod workshop_common;

use serde_json::json;
use std::process::Command;
use workshop_common::Workshop;

fn openssl_fingerprint(ca: &str) -> Option<String> {
    let out = Command::new("openssl").args(["x509", "-noout", "-fingerprint", "-sha256", "-in", ca]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some(text.trim().split_once('=')?.1.to_string())
}

fn set_cookie(head: &str) -> String {
    head.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_default().to_string()
}

#[test]
fn https_with_the_labs_own_ca() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--tls"]);
    assert!(workshop.base.starts_with("https://127.0.0.1:"), "{}", workshop.base);
    let ca = workshop.printed("ca: ").expect("the CA's path is printed");
    assert_eq!(std::path::Path::new(&ca), dir.path().join("tls/ca.crt"));
    let printed = workshop.printed("ca-sha256: ").expect("the CA's fingerprint is printed");
    if let Some(computed) = openssl_fingerprint(&ca) {
        assert_eq!(printed, computed, "the printed fingerprint is the CA file's");
    }

    // Every call below goes over TLS with the printed CA as the only trusted root.
    let (status, head, body) = workshop.call_with("POST", "/api/join", None, &[], Some(&json!({"name": "Ada"})));
    assert_eq!(status, 200, "{body}");
    assert!(set_cookie(&head).contains("; Secure"), "the cookie is kept off plain HTTP: {head}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(answer["link"].as_str().unwrap().starts_with(&format!("{}/?token=", workshop.base)), "{answer}");
    let token = answer["token"].as_str().unwrap().to_string();
    let (status, me) = workshop.json("GET", "/api/me", Some(&token), None);
    assert_eq!((status, me["name"].as_str()), (200, Some("Ada")), "{me}");

    let own = format!("https://{}", workshop.addr);
    let plain = format!("http://{}", workshop.addr);
    for (origin, expected) in [(own.as_str(), 200), (plain.as_str(), 403), ("https://evil.example", 403)] {
        let (status, _, body) = workshop.call_with("GET", "/api/me", Some(&token), &[("Origin", origin)], None);
        assert_eq!(status, expected, "Origin {origin}: {body}");
    }

    // A restarted server keeps its CA: learners import it once.
    workshop.stop();
    let again = Workshop::start(dir.path(), &["--tls"]);
    assert_eq!(again.printed("ca-sha256: ").as_deref(), Some(printed.as_str()));
    let (status, me) = again.json("GET", "/api/me", Some(&token), None);
    assert_eq!(status, 200, "the learner's link still works over HTTPS after a restart: {me}");
    again.stop();
}

#[test]
fn behind_a_proxy_the_public_url_is_used_and_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(dir.path(), &["--public-url", "https://Lab.Example.test/"]);
    assert_eq!(workshop.base, "https://Lab.Example.test", "the printed links use the public url");
    assert!(workshop.printed("ca: ").is_none(), "the proxy terminates TLS; the server speaks HTTP behind it");

    // What an Ingress passes on: the public host, and the browser's https origin.
    let proxied = [("Host", "lab.example.test"), ("Origin", "https://lab.example.test")];
    let (status, head, body) = workshop.call_with("POST", "/api/join", None, &proxied, Some(&json!({"name": "Bo"})));
    assert_eq!(status, 200, "a join through the proxy is accepted: {body}");
    assert!(set_cookie(&head).contains("; Secure"), "{head}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(answer["link"].as_str().unwrap().starts_with("https://Lab.Example.test/?token="), "{answer}");
    let token = answer["token"].as_str().unwrap().to_string();

    for origin in ["https://evil.example", "http://lab.example.test"] {
        let headers = [("Host", "lab.example.test"), ("Origin", origin)];
        let (status, _, body) = workshop.call_with("POST", "/api/join", None, &headers, Some(&json!({"name": "Cy"})));
        assert_eq!(status, 403, "Origin {origin} is refused: {body}");
    }
    let (status, _, _) = workshop.call_with("GET", "/join", None, &[("Host", "evil.example")], None);
    assert_eq!(status, 403, "a foreign Host is still refused");

    let upgrade = |origin: &str| {
        let headers = [
            ("Host", "lab.example.test"),
            ("Origin", origin),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        workshop.call_with("GET", "/api/events", Some(&token), &headers, None).0
    };
    assert_eq!(upgrade("https://evil.example"), 403, "a foreign page cannot open the learner's WebSocket");
    assert_eq!(upgrade("https://lab.example.test"), 101, "the learner's page behind the proxy opens its WebSocket");
    workshop.stop();
}

#[test]
fn an_unusable_public_url_stops_the_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(gitops_lab_e2e::gitops_lab_bin())
        .args(["workshop", "--listen", "127.0.0.1:0", "--public-url", "lab.example.test", "--data-dir"])
        .arg(dir.path())
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--public-url lab.example.test: it must start with http:// or https://"), "{stderr}");
}

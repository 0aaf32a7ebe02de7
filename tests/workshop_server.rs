//! `gitops-lab workshop` as a class meets it, over HTTP against the real binary: learners join by
//! name (bad names refused), each plays in their own engine and sandbox and sees nothing of the
//! other's, tokens reach only their own area, limits ask to wait, idle sandboxes stop and start
//! again, and a restarted server lets every learner resume.

mod workshop_common;

use serde_json::json;
use std::time::Duration;
use workshop_common::{Workshop, done_steps, wait_for};

/// Every workshop here serves this exercise only (`--exercises`).
const ONLY_21: [&str; 2] = ["--exercises", "2.1-nginx-pod"];

#[test]
fn names_are_checked_and_tokens_reach_only_their_own_area() {
    let data = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &[&ONLY_21[..], &["--max-learners", "2"]].concat());
    for (name, reason) in
        [("  ", "type your name"), (&"x".repeat(41) as &str, "at most 40"), ("a\u{7}b", "control character")]
    {
        let (status, answer) = workshop.json("POST", "/api/join", None, Some(&json!({"name": name})));
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"]["en"].as_str().unwrap().contains(reason), "{answer}");
        assert!(!answer["message"]["zh-CN"].as_str().unwrap().is_empty());
    }
    let ada = workshop.join("Ada");
    let (status, answer) = workshop.json("POST", "/api/join", None, Some(&json!({"name": "ada"})));
    assert_eq!((status, answer["code"].as_str()), (400, Some("bad-name")), "a taken name: {answer}");
    let lei = workshop.join("李雷");
    let (status, answer) = workshop.json("POST", "/api/join", None, Some(&json!({"name": "Grace"})));
    assert_eq!((status, answer["code"].as_str()), (503, Some("please-wait")), "{answer}");
    assert!(answer["message"]["en"].as_str().unwrap().contains("Please wait"), "{answer}");

    // Each token reaches only its own area; forged ones get a clear message.
    assert_eq!(workshop.call("GET", "/api/board", Some(&ada), None).0, 403);
    let (status, text) =
        workshop.call("POST", "/api/command", Some(&workshop.instructor), Some(&json!({"type": "hello"})));
    assert_eq!(status, 403);
    assert!(text.contains("opens the board"), "{text}");
    assert_eq!(workshop.call("GET", "/api/board", None, None).0, 401);
    let forged = "0".repeat(64);
    let (status, text) = workshop.call("GET", &format!("/?token={forged}"), None, None);
    assert_eq!(status, 401);
    assert!(text.contains("does not open a session of this workshop"), "{text}");
    assert_eq!(workshop.call("POST", "/api/command", Some(&forged), Some(&json!({"type": "hello"}))).0, 401);
    let (status, page) = workshop.call("GET", "/join", None, None);
    assert!(status == 200 && page.contains("加入工作坊"), "{page}");
    let (status, _) = workshop.call("GET", &format!("/?token={lei}"), None, None);
    assert_eq!(status, 303, "a personal link swaps its token for the cookie");
    workshop.stop();
}

#[test]
fn a_join_is_asked_to_wait_when_memory_is_short() {
    let data = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &[&ONLY_21[..], &["--reserve-mib", "100000000"]].concat());
    let (status, answer) = workshop.json("POST", "/api/join", None, Some(&json!({"name": "Ada"})));
    assert_eq!(status, 503, "{answer}");
    assert!(answer["message"]["en"].as_str().unwrap().contains("too little free memory"), "{answer}");
    let (status, page) = workshop.call("GET", "/join", None, None);
    assert_eq!(status, 200, "the server still answers: {page}");
    workshop.stop();
}

#[test]
fn two_learners_play_apart_and_resume_after_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let workshop = Workshop::start(data.path(), &[&ONLY_21[..], &["--idle-stop", "3"]].concat());
    let instructor = workshop.instructor.clone();
    let ada = workshop.join("Ada");
    let lei = workshop.join("李雷");
    const EXERCISE: &str = "2.1-nginx-pod";

    // Ada creates the exercise's Pod through her own session.
    workshop.command(&ada, json!({"type": "openExercise", "id": EXERCISE}));
    workshop.command(&ada, json!({"type": "predict", "exercise": EXERCISE, "step": 0, "choice": 1}));
    workshop.command(&ada, json!({"type": "runStep", "exercise": EXERCISE, "step": 0}));
    workshop.command(
        &lei,
        json!({"type": "apply", "source": "cm.yaml",
        "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lei-only\ndata:\n  a: b\n"}),
    );
    wait_for("Ada's first step on the board", Duration::from_secs(60), || {
        done_steps(&workshop.board_line("learner-1"), EXERCISE) >= 1
    });

    // Neither sees the other's objects or progress.
    let ada_pods = workshop.kubectl(&ada, "kubectl get pods");
    assert!(ada_pods.contains("nginx"), "{ada_pods}");
    assert!(!workshop.kubectl(&lei, "kubectl get pods").contains("nginx"));
    assert!(workshop.kubectl(&lei, "kubectl get configmaps").contains("lei-only"));
    assert!(!workshop.kubectl(&ada, "kubectl get configmaps").contains("lei-only"));
    assert_eq!(done_steps(&workshop.board_line("learner-2"), EXERCISE), 0);
    let hello = workshop.command(&lei, json!({"type": "hello"}));
    let lei_21 = hello["data"]["exercises"].as_array().unwrap().iter().find(|e| e["id"] == EXERCISE).cloned().unwrap();
    assert_eq!(lei_21["done_steps"], 0, "{hello}");

    // No page open and no command: the sandboxes stop, and start again on the next command.
    wait_for("idle sandboxes to stop", Duration::from_secs(30), || {
        workshop.board_line("learner-2")["sandbox"] == "stopped"
    });
    assert!(workshop.kubectl(&lei, "kubectl get configmaps").contains("lei-only"), "data kept over the idle stop");
    assert_eq!(workshop.board_line("learner-2")["sandbox"], "running");

    // The restarted server knows everyone: same links, same objects, same progress.
    workshop.stop();
    let workshop = Workshop::start(data.path(), &ONLY_21);
    assert_eq!(workshop.instructor, instructor, "the instructor's link survives the restart");
    assert!(done_steps(&workshop.board_line("learner-1"), EXERCISE) >= 1, "the board keeps the saved progress");
    assert!(workshop.kubectl(&ada, "kubectl get pods").contains("nginx"));
    let hello = workshop.command(&ada, json!({"type": "hello"}));
    let ada_21 = hello["data"]["exercises"].as_array().unwrap().iter().find(|e| e["id"] == EXERCISE).cloned().unwrap();
    assert!(ada_21["done_steps"].as_u64().unwrap() >= 1, "{hello}");

    // A reset from the board reaches Ada's engine.
    let (status, answer) = workshop.json(
        "POST",
        "/api/board/reset",
        Some(&instructor),
        Some(&json!({"learner": "learner-1", "exercise": EXERCISE})),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(done_steps(&workshop.board_line("learner-1"), EXERCISE), 0);
    wait_for("the reset Pod to go", Duration::from_secs(90), || {
        !workshop.kubectl(&ada, "kubectl get pods").contains("nginx")
    });
    let (status, csv) = workshop.call("GET", "/api/board/export.csv", Some(&instructor), None);
    assert_eq!(status, 200);
    assert!(csv.starts_with("learner,name,exercise") && csv.contains("learner-2,李雷,2.1-nginx-pod,0"), "{csv}");
    workshop.stop();
}

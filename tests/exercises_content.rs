//! The chapter's exercise content beyond what `exercises validate` checks: Chinese texts really are
//! Chinese and carry the same code blocks as the English ones; the variants for today's clusters
//! avoid what breaks there and work on the sandbox; the book's shell operators behave as the
//! exercise says (the naive one serves kube-root-ca.crt, the filtered one runs with its
//! least-privilege Role); the packaging exercise's files are the ones in deploy/; and the
//! instructor guide's example exercise validates and plays.

use gitops_lab::exercises::load_all;
use gitops_lab::exercises::model::Bilingual;
use gitops_lab_e2e::{Sandbox, gitops_lab_bin, kubectl_available, text};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    gitops_lab_e2e::tests_dir().join("..")
}

fn chapter() -> PathBuf {
    repo().join("exercises")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lab(args: &[&str], exercises: &Path) -> Output {
    Command::new(gitops_lab_bin())
        .args(args)
        .env("GITOPS_LAB_EXERCISES", exercises)
        .env("GITOPS_LAB_BIN", gitops_lab_bin())
        .env("GITOPS_LAB_LANG", "en")
        .output()
        .expect("gitops-lab runs")
}

/// Every text of every chapter exercise, with where it is.
fn texts() -> Vec<(String, Bilingual)> {
    let (exercises, problems) = load_all(&chapter());
    assert!(problems.is_empty(), "{problems:?}");
    let mut all = Vec::new();
    for exercise in &exercises {
        let f = &exercise.file;
        let at = |what: &str| format!("{} {what}", f.id);
        all.extend([
            (at("title"), f.title.clone()),
            (at("summary"), f.summary.clone()),
            (at("intro"), f.intro.clone()),
        ]);
        for step in &f.steps {
            let at = |what: &str| format!("{} step {} {what}", f.id, step.id);
            all.push((at("title"), step.title.clone()));
            all.push((at("text"), step.text.clone()));
            all.extend(step.hint.iter().map(|t| (at("hint"), t.clone())));
            all.extend(step.solution.iter().map(|t| (at("solution"), t.clone())));
            all.extend(step.action.iter().flat_map(|a| a.label.clone()).map(|t| (at("label"), t)));
            if let Some(p) = &step.predict {
                all.push((at("question"), p.question.clone()));
                all.push((at("explanation"), p.explanation.clone()));
                all.extend(p.choices.iter().map(|c| (at("choice"), c.clone())));
            }
            all.extend(step.checks.iter().filter_map(|c| c.description.clone()).map(|d| (at("check"), d)));
        }
        all.extend(f.verify.iter().filter_map(|c| c.description.clone()).map(|d| (at("verify"), d)));
    }
    all
}

/// Han characters, or the ideographic punctuation Chinese lists use (`、`).
fn is_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3000}'..='\u{303f}').contains(&c))
}

/// The `image:` values of a manifest or script.
fn images(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.split_once("image: ")).map(|(_, image)| image.trim().to_string()).collect()
}

/// The fenced code blocks of a Markdown text, in order.
fn code_blocks(markdown: &str) -> Vec<String> {
    markdown.split("```").skip(1).step_by(2).map(|b| b.trim().to_string()).collect()
}

#[test]
fn every_chinese_text_is_chinese_and_keeps_the_english_code_blocks() {
    let texts = texts();
    assert!(texts.len() > 300, "the chapter's texts were found: {}", texts.len());
    for (at, text) in &texts {
        // A text with no words to translate (a version, a command's output) may be the same in both.
        assert!(is_chinese(&text.zh) || text.zh == text.en, "{at}: zh-CN is not Chinese: {:?}", text.zh);
        assert_eq!(code_blocks(&text.en), code_blocks(&text.zh), "{at}: the code blocks differ between languages");
    }
}

#[test]
fn the_chapter_validates() {
    let out = lab(&["exercises", "validate", chapter().to_str().unwrap()], &chapter());
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn the_files_for_todays_clusters_avoid_what_breaks_there() {
    let today = read(&chapter().join("2.1-nginx-pod/nginx-pod-today.yaml"));
    let book = read(&chapter().join("2.1-nginx-pod/nginx-pod.yaml"));
    assert_eq!(images(&book), ["docker/whalesay", "nginx:1.11"], "the sandbox keeps the book's Pod");
    assert_eq!(images(&today), ["busybox:1.36", "nginx:1.27"]);
    let filtered = read(&chapter().join("2.3.3-nginx-operator/controller.sh"));
    let naive = read(&chapter().join("2.3.3-nginx-operator/controller-naive.sh"));
    assert_eq!(images(&naive), ["nginx:1.7.9"], "the naive script stays the book's");
    assert!(!naive.contains("--selector"), "{naive}");
    assert_eq!(images(&filtered), ["nginx:1.27"]);
    assert!(filtered.contains("--selector \"$site_label\""), "{filtered}");
    let cron = read(&chapter().join("2.5.1-gitops-cronjob/gitops-cron.yaml"));
    let exercise = read(&chapter().join("2.5.1-gitops-cronjob/exercise.yaml"));
    assert!(cron.contains("apiVersion: batch/v1beta1"), "the CronJob starts as the book prints it");
    assert!(exercise.contains("with: \"apiVersion: batch/v1\""), "and the exercise fixes it");
}

#[test]
fn the_packaging_exercise_uses_the_files_in_deploy() {
    for (copy, original) in [("operator-rbac.yaml", "rbac.yaml"), ("operator-deployment.yaml", "deployment.yaml")] {
        let copy = read(&chapter().join("2.3.3-operator-in-cluster").join(copy));
        let original = read(&repo().join("deploy/nginx-operator").join(original));
        assert_eq!(copy, original, "exercises/2.3.3-operator-in-cluster/{copy} drifted from deploy/nginx-operator");
    }
}

#[test]
fn the_pod_for_todays_clusters_serves_the_whale_on_the_sandbox() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let file = chapter().join("2.1-nginx-pod/nginx-pod-today.yaml");
    sandbox.kubectl_ok(&["create", "-f", file.to_str().unwrap()]);
    sandbox.kubectl_ok(&["wait", "--for=condition=Ready", "pod/nginx", "--timeout=60s"]);
    let page = sandbox.kubectl_ok(&["exec", "nginx", "-c", "nginx", "--", "cat", "/usr/share/nginx/html/index.html"]);
    assert!(page.contains("< Hello Kubernetes >") && page.contains("<pre>"), "{page}");
}

/// A shell script running with kubectl on PATH and `kubeconfig`, in a process group of its own so
/// that the whole pipeline (bash, kubectl --watch, read) stops together.
struct Script {
    child: Child,
    log: PathBuf,
}

impl Script {
    fn start(script: &Path, kubeconfig: &Path, log: PathBuf) -> Script {
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new("bash")
            .arg(script)
            .env("KUBECONFIG", kubeconfig)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("bash runs");
        Script { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}; the script said:\n{}", log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn deployments(sandbox: &Sandbox) -> String {
    sandbox.kubectl_ok(&["get", "deployments", "-o", "name"])
}

/// A kubeconfig for a ServiceAccount of `sandbox`: its server and CA, the account's token.
fn service_account_kubeconfig(sandbox: &Sandbox, account: &str, dir: &Path) -> PathBuf {
    let token = sandbox.kubectl_ok(&["create", "token", account]);
    let ca = sandbox.kubectl_ok(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let path = dir.join(format!("{account}.kubeconfig"));
    let body = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{}\", certificate-authority-data: \"{ca}\"}}}}]\n\
         users: [{{name: u, user: {{token: \"{}\"}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u, namespace: default}}}}]\n\
         current-context: x\n",
        sandbox.server,
        token.trim()
    );
    std::fs::write(&path, body).expect("the kubeconfig is written");
    path
}

#[test]
fn the_naive_operator_serves_the_root_ca_and_the_filtered_one_runs_with_its_least_privilege_role() {
    if !kubectl_available() || Command::new("bash").arg("-c").arg("true").status().is_err() {
        return;
    }
    let sandbox = Sandbox::start();
    let scratch = tempfile::tempdir().unwrap();
    let operator = chapter().join("2.3.3-nginx-operator");

    let naive = Script::start(&operator.join("controller-naive.sh"), &sandbox.kubeconfig, scratch.path().join("naive"));
    wait_for(
        "the naive operator's kube-root-ca.crt site",
        || deployments(&sandbox).contains("kube-root-ca.crt"),
        || naive.log(),
    );
    drop(naive);
    sandbox.kubectl_ok(&["delete", "deployment", "kube-root-ca.crt"]);

    let rbac = chapter().join("2.3.3-operator-in-cluster/shell-operator-rbac.yaml");
    sandbox.kubectl_ok(&["apply", "-f", rbac.to_str().unwrap()]);
    let as_operator = service_account_kubeconfig(&sandbox, "nginx-operator-sh", scratch.path());
    let filtered = Script::start(&operator.join("controller.sh"), &as_operator, scratch.path().join("filtered"));
    let sample = operator.join("sample.yaml");
    sandbox.kubectl_ok(&["apply", "-f", sample.to_str().unwrap()]);
    wait_for("the sample site", || deployments(&sandbox).contains("deployment.apps/sample"), || filtered.log());
    sandbox.kubectl_ok(&["delete", "-f", sample.to_str().unwrap()]);
    wait_for("the sample site to go", || !deployments(&sandbox).contains("sample"), || filtered.log());
    assert!(!deployments(&sandbox).contains("kube-root-ca.crt"), "{}", filtered.log());
    assert!(!filtered.log().contains("Forbidden"), "the Role covers every request:\n{}", filtered.log());
    drop(filtered);
}

#[test]
fn the_instructor_guides_example_validates_and_plays() {
    let guide = read(&repo().join("docs/instructors.md"));
    let block = |marker: &str| -> String {
        let after = guide.split(marker).nth(1).unwrap_or_else(|| panic!("{marker} is in docs/instructors.md"));
        code_blocks(after)
            .into_iter()
            .next()
            .expect("a code block follows the marker")
            .trim_start_matches("yaml")
            .to_string()
    };
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("9.1-hello-scale");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("exercise.yaml"), block("<!-- example: exercise.yaml -->")).unwrap();
    std::fs::write(folder.join("hello.yaml"), block("<!-- example: hello.yaml -->")).unwrap();
    let valid = lab(&["exercises", "validate", root.path().to_str().unwrap()], root.path());
    assert!(valid.status.success(), "{}\n{}", text(&valid.stdout), text(&valid.stderr));
    if !kubectl_available() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let data = data.path().to_str().unwrap();
    for command in ["run", "check"] {
        let out = lab(&["exercises", command, "9.1-hello-scale", "--data-dir", data], root.path());
        assert!(out.status.success(), "{command}:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    }
}

//! The chapter's two home-made operators against the sandbox with the real kubectl: the ConfigMap-watching
//! nginx operator of 2.3.3 (a bash script run on the host) and the CronJob GitOps operator of 2.5.1 that
//! clones a local git repository and applies it, Forbidden until its ClusterRoleBinding exists (and still
//! refused a Namespace when the binding is to `admin` instead of the book's `cluster-admin`).

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::get_json;
use gitops_lab_e2e::{Sandbox, kubectl_available, kubectl_path, text};

/// How long any one awaited state may take; generous for a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    gitops_lab_e2e::tests_dir().join("fixtures").join("operators").join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// kubectl's output for diagnostics (stdout and stderr, never failing).
fn show(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.kubectl(args);
    format!("$ kubectl {}\n{}{}", args.join(" "), text(&out.stdout), text(&out.stderr))
}

/// Polls `probe` until it yields a value, or panics after [`PATIENCE`] with the last reason and `diagnose()`.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>, diagnose: impl Fn() -> String) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(why) if Instant::now() > deadline => {
                panic!("timed out after {PATIENCE:?} waiting for {what}; last: {why}\n{}", diagnose())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The JSON of one object, or `None` when kubectl says it does not exist.
fn get_object(sb: &Sandbox, args: &[&str]) -> Option<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = sb.kubectl(&all);
    if !out.status.success() {
        let stderr = text(&out.stderr);
        assert!(stderr.contains("NotFound"), "kubectl {all:?} failed: {stderr}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("kubectl {all:?} printed no JSON: {e}")))
}

/// Waits until a Deployment has rolled out its latest template: one replica, updated, ready, and no old pods.
fn wait_rolled_out(sb: &Sandbox, namespace: &str, name: &str, diagnose: impl Fn() -> String) -> serde_json::Value {
    wait_for(
        &format!("deployment {namespace}/{name} to be READY 1/1 with its latest template"),
        || {
            let deploy = get_object(sb, &["get", "deployment", name, "-n", namespace]).ok_or("no deployment yet")?;
            let status = &deploy["status"];
            let current = status["observedGeneration"] == deploy["metadata"]["generation"];
            let counts = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"]
                .map(|k| status[k].as_i64().unwrap_or(0));
            if current && counts == [1, 1, 1, 1] { Ok(deploy) } else { Err(format!("status {status}")) }
        },
        || {
            format!(
                "{}\n{}\n{}",
                diagnose(),
                show(sb, &["describe", "deployment", name, "-n", namespace]),
                show(sb, &["get", "pods", "-n", namespace, "-o", "wide"])
            )
        },
    )
}

/// The lines a child prints on stdout and stderr, kept for failure messages.
#[derive(Clone, Default)]
struct Transcript(Arc<Mutex<Vec<String>>>);

impl Transcript {
    fn follow(&self, pipe: impl Read + Send + 'static, tag: &'static str) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().expect("an unpoisoned transcript").push(format!("{tag}{line}"));
            }
        });
    }

    fn dump(&self) -> String {
        self.0.lock().expect("an unpoisoned transcript").join("\n")
    }
}

/// The nginx operator script running on the host in its own process group (bash, the watching kubectl and
/// the applying ones), all of which are signalled and the script reaped when dropped.
struct NginxOperator {
    child: Child,
    transcript: Transcript,
    _bin: tempfile::TempDir,
}

impl NginxOperator {
    /// Starts the script with kubectl first on PATH and the sandbox's kubeconfig; `selector` filters ConfigMaps.
    fn start(sb: &Sandbox, selector: Option<&str>) -> Self {
        let bin = tempfile::tempdir().expect("a folder for kubectl");
        std::os::unix::fs::symlink(kubectl_path(), bin.path().join("kubectl")).expect("a kubectl link");
        let mut dirs = vec![bin.path().to_path_buf()];
        dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        let mut command = Command::new("bash");
        command.arg(fixture("nginx-site-operator.sh")).args(selector);
        let mut child = command
            .env("PATH", std::env::join_paths(dirs).expect("a joinable PATH"))
            .env("KUBECONFIG", &sb.kubeconfig)
            .env("HOME", sb.data_dir.join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash runs the operator script");
        let transcript = Transcript::default();
        transcript.follow(child.stdout.take().expect("piped stdout"), "");
        transcript.follow(child.stderr.take().expect("piped stderr"), "stderr: ");
        Self { child, transcript, _bin: bin }
    }

    fn log(&self) -> String {
        format!("operator script output:\n{}", self.transcript.dump())
    }
}

impl Drop for NginxOperator {
    fn drop(&mut self) {
        // The group id is the script's pid (process_group(0)); the group holds only what the script started.
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kubectl port-forward TARGET :REMOTE`, with the local port it chose; killed and reaped when dropped.
struct PortForward {
    child: Child,
    local: u16,
    stderr: Transcript,
}

impl PortForward {
    fn start(sb: &Sandbox, namespace: &str, target: &str, remote: u16) -> Self {
        let remote_arg = format!(":{remote}");
        let mut child = sb
            .kubectl_command()
            .args(["port-forward", "-n", namespace, target, &remote_arg])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl port-forward starts");
        let stderr = Transcript::default();
        stderr.follow(child.stderr.take().expect("piped stderr"), "");
        let lines = spawn_lines(child.stdout.take().expect("piped stdout"));
        let deadline = Instant::now() + PATIENCE;
        let local = loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    let port = line
                        .strip_prefix("Forwarding from 127.0.0.1:")
                        .and_then(|rest| rest.split_once(" -> "))
                        .map(|(local, _)| local.parse());
                    if let Some(port) = port {
                        break port.expect("kubectl prints a port number");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no \"Forwarding from\" line from port-forward {target} in {PATIENCE:?}; stderr:\n{}",
                        stderr.dump()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = child.wait();
                    panic!("kubectl port-forward {target} ended before forwarding; stderr:\n{}", stderr.dump());
                }
            }
        };
        // Keep draining stdout ("Handling connection for …") so kubectl never blocks on a full pipe.
        std::thread::spawn(move || lines.iter().for_each(drop));
        Self { child, local, stderr }
    }

    /// `GET /` through the forwarded port: the whole answer, head and body.
    fn get(&self) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", self.local)).expect("the forwarded port accepts");
        conn.set_read_timeout(Some(Duration::from_secs(10))).expect("a read timeout");
        conn.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("the request is sent");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        answer
    }

    /// Whether kubectl has exited within `within`.
    fn ends_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A page text no earlier run or image could have served.
fn unique_text(what: &str) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{what} served from a ConfigMap, run {}-{nanos}", std::process::id())
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn pod_names(sb: &Sandbox, selector: &str) -> Vec<String> {
    sb.kubectl_ok(&["get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"])
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn the_nginx_operator_serves_a_labelled_configmap_rolls_on_change_and_cleans_up() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let operator = NginxOperator::start(&sb, Some("app=nginx-site"));
    let first = unique_text("first page");
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], &read_fixture("site-configmap.json").replace("PAGE_TEXT", &first));

    let deploy = wait_rolled_out(&sb, "default", "welcome", || operator.log());
    let table = sb.kubectl_ok(&["get", "deployment", "welcome"]);
    assert!(table.lines().any(|l| l.split_whitespace().take(2).eq(["welcome", "1/1"])), "READY 1/1 in:\n{table}");
    let volume = &deploy["spec"]["template"]["spec"]["volumes"][0];
    assert_eq!(volume["configMap"]["name"], "welcome", "{deploy}");
    // The selector keeps kube-root-ca.crt (present in every namespace) from becoming a site.
    let names = sb.kubectl_ok(&["get", "deployments", "-o", "name"]);
    assert_eq!(names, "deployment.apps/welcome\n", "only the labelled ConfigMap has a Deployment");
    let forward = PortForward::start(&sb, "default", "deploy/welcome", 80);
    let first_pods = serves_the_page(&forward, &first, &sb);
    rolls_out_a_new_page(&sb, &operator, forward, &first_pods);
    deleting_the_configmap_removes_the_site(&sb, &operator);
}

/// The first page is the ConfigMap's `index.html`, from one pod; its names.
fn serves_the_page(forward: &PortForward, first: &str, sb: &Sandbox) -> Vec<String> {
    let answer = forward.get();
    assert!(
        answer.starts_with("HTTP/1.1 200 OK") && body(&answer) == first,
        "the page is the ConfigMap's index.html:\n{answer}"
    );
    let first_pods = pod_names(sb, "site=welcome");
    assert_eq!(first_pods.len(), 1, "{first_pods:?}");
    first_pods
}

/// A changed ConfigMap rolls the Deployment out: a second ReplicaSet, a new pod with the new page,
/// and the old port-forward ends with its pod.
fn rolls_out_a_new_page(sb: &Sandbox, operator: &NginxOperator, mut forward: PortForward, first_pods: &[String]) {
    let second = unique_text("second page");
    let patch = serde_json::json!({"data": {"index.html": second}}).to_string();
    sb.kubectl_ok(&["patch", "configmap", "welcome", "-p", &patch]);
    let version = sb.kubectl_ok(&["get", "configmap", "welcome", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let annotation = "{.spec.template.metadata.annotations.nginx-site-operator/configmap-version}";
    wait_for(
        "the operator to stamp the new ConfigMap version on the pod template",
        || {
            let stamped = sb.kubectl_ok(&["get", "deployment", "welcome", "-o", &format!("jsonpath={annotation}")]);
            if stamped == version { Ok(()) } else { Err(format!("annotation {stamped:?}, ConfigMap at {version}")) }
        },
        || operator.log(),
    );
    wait_rolled_out(sb, "default", "welcome", || operator.log());
    let second_pods = wait_for(
        "the old pod to be gone",
        || {
            let pods = pod_names(sb, "site=welcome");
            if pods.len() == 1 && pods != first_pods {
                Ok(pods)
            } else {
                Err(format!("pods {pods:?}, first {first_pods:?}"))
            }
        },
        || show(sb, &["get", "pods", "-o", "wide"]),
    );
    let sets = sb.kubectl_ok(&["get", "replicasets", "-l", "site=welcome", "-o", "name"]);
    assert_eq!(sets.lines().count(), 2, "the change made a second ReplicaSet:\n{sets}");
    // As on a real cluster, a port-forward is tied to one pod, so the rollout ends it ("lost connection
    // to pod"); said softly because the moment kubectl notices is not the server's to decide.
    if forward.ends_within(Duration::from_secs(5)) {
        let said = forward.stderr.dump();
        if !said.contains("lost connection to pod") {
            eprintln!("note: the old port-forward ended without \"lost connection to pod\": {said}");
        }
    } else {
        eprintln!(
            "note: the port-forward to {first_pods:?} was still running 5 s after the pod was replaced by \
                {second_pods:?}"
        );
    }
    drop(forward);
    let forward = PortForward::start(sb, "default", "deploy/welcome", 80);
    let answer = forward.get();
    assert!(
        answer.starts_with("HTTP/1.1 200 OK") && body(&answer) == second,
        "the new pod serves the new page:\n{answer}"
    );
    drop(forward);
}

/// Deleting the ConfigMap deletes the Deployment and its pods, and the operator said so.
fn deleting_the_configmap_removes_the_site(sb: &Sandbox, operator: &NginxOperator) {
    sb.kubectl_ok(&["delete", "configmap", "welcome"]);
    wait_for(
        "the Deployment and its pods to go with the ConfigMap",
        || {
            let left = (get_object(sb, &["get", "deployment", "welcome"]).is_some(), pod_names(sb, "site=welcome"));
            if left == (false, Vec::new()) { Ok(()) } else { Err(format!("deployment exists, pods: {left:?}")) }
        },
        || format!("{}\n{}", operator.log(), show(sb, &["get", "all"])),
    );
    let log = operator.log();
    for line in [
        "operator: ADDED welcome",
        "operator: MODIFIED welcome",
        "operator: DELETED welcome",
        "deployment.apps \"welcome\" deleted",
    ] {
        assert!(log.contains(line), "missing {line:?} in {log}");
    }
}

#[test]
fn the_naive_nginx_operator_also_turns_kube_root_ca_crt_into_a_site() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let operator = NginxOperator::start(&sb, None);
    let deploy = wait_for(
        "a Deployment for kube-root-ca.crt",
        || get_object(&sb, &["get", "deployment", "kube-root-ca.crt"]).ok_or_else(|| "not yet".to_string()),
        || operator.log(),
    );
    assert_eq!(deploy["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], "kube-root-ca.crt");
    assert!(operator.log().contains("operator: ADDED kube-root-ca.crt"), "{}", operator.log());
}

/// A git repository in a temporary folder holding the sample app's manifests, changed through git2 commits.
struct ConfigRepo {
    dir: tempfile::TempDir,
    repo: git2::Repository,
}

impl ConfigRepo {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a folder for the repository");
        let repo = git2::Repository::init(dir.path()).expect("git init");
        std::fs::create_dir(dir.path().join("manifests")).expect("a manifests folder");
        let this = Self { dir, repo };
        for file in ["deployment.yaml", "service.yaml"] {
            this.write(file, &read_fixture(&format!("sample-app-repo/manifests/{file}")));
        }
        this.commit("The sample app at v0.1");
        this
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    fn write(&self, file: &str, body: &str) {
        std::fs::write(self.dir.path().join("manifests").join(file), body).expect("the manifest is written");
    }

    /// Stages every file and commits on top of HEAD (if any).
    fn commit(&self, message: &str) {
        let mut index = self.repo.index().expect("the index");
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("git add");
        index.write().expect("the index is saved");
        let tree = self.repo.find_tree(index.write_tree().expect("a tree")).expect("the tree");
        let signature = git2::Signature::now("CI", "ci@gitops-lab.invalid").expect("a signature");
        let parent = self.repo.head().ok().and_then(|head| head.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents).expect("git commit");
    }

    /// Replaces `from` by `to` in a manifest (present exactly once) and commits, as a CI bump would.
    fn bump(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join("manifests").join(file);
        let body = std::fs::read_to_string(&path).expect("the manifest is readable");
        assert_eq!(body.matches(from).count(), 1, "{file} should contain {from:?} once:\n{body}");
        self.write(file, &body.replacen(from, to, 1));
        self.commit(&format!("Bump {from} to {to}"));
    }
}

/// `kubectl create job --from=cronjob/gitops-cron NAME`, waited for until Complete; returns its pod's log.
fn run_operator_now(sb: &Sandbox, job: &str) -> String {
    sb.kubectl_ok(&["create", "job", "-n", "gitops", job, "--from=cronjob/gitops-cron"]);
    let diagnose = || {
        format!(
            "{}\n{}",
            show(sb, &["describe", "job", job, "-n", "gitops"]),
            show(sb, &["logs", "-n", "gitops", &format!("job/{job}")])
        )
    };
    wait_for(
        &format!("job {job} to complete"),
        || {
            let status = get_json(sb, &["get", "job", job, "-n", "gitops"])["status"].clone();
            let complete = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Complete" && c["status"] == "True");
            if complete && status["succeeded"] == 1 { Ok(()) } else { Err(format!("status {status}")) }
        },
        diagnose,
    );
    sb.kubectl_ok(&["logs", "-n", "gitops", &format!("job/{job}")])
}

#[test]
fn the_cronjob_gitops_operator_is_forbidden_until_bound_then_applies_the_repository_and_its_bumps() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let repo = ConfigRepo::new();
    let operator = read_fixture("gitops-cronjob.yaml").replace("REPO_URL", &repo.url());
    let applied = sb.kubectl_stdin_ok(&["apply", "-f", "-"], &operator);
    assert_eq!(
        applied,
        "namespace/gitops created\nserviceaccount/gitops-operator created\ncronjob.batch/gitops-cron created\n"
    );

    is_refused_until_bound(&sb);
    applies_the_repository_once_bound(&sb);
    applies_the_bumped_tag(&sb, &repo);
}

/// Without a binding the operator's runs change nothing, and its log shows each refusal.
fn is_refused_until_bound(sb: &Sandbox) {
    // Without a binding the ServiceAccount may do nothing; `find -exec … \;` ignores each refusal, so the Job
    // still completes and only its log tells.
    let log = run_operator_now(sb, "before-binding");
    let user = "User \"system:serviceaccount:gitops:gitops-operator\"";
    for refusal in [
        format!(
            "deployments.apps \"sample-app\" is forbidden: {user} cannot get resource \"deployments\" in API group \
                \"apps\" in the namespace \"gitops\""
        ),
        format!(
            "services \"sample-app\" is forbidden: {user} cannot get resource \"services\" in API group \"\" in the \
                namespace \"gitops\""
        ),
    ] {
        assert!(log.contains(&refusal), "missing {refusal:?} in the log:\n{log}");
    }
    assert_eq!(log.matches("Error from server (Forbidden)").count(), 2, "{log}");
    assert!(log.starts_with("Cloning into '/tmp/repo'..."), "{log}");
    assert!(get_object(sb, &["get", "deployment", "sample-app", "-n", "gitops"]).is_none(), "nothing was applied");
    assert!(get_object(sb, &["get", "service", "sample-app", "-n", "gitops"]).is_none(), "nothing was applied");
}

/// With the binding, a run creates the repository's Deployment and Service, and the app answers.
fn applies_the_repository_once_bound(sb: &Sandbox) {
    let bound = sb.kubectl_ok(&["apply", "-f", &fixture("gitops-binding.yaml").to_string_lossy()]);
    assert_eq!(bound, "clusterrolebinding.rbac.authorization.k8s.io/gitops-operator created\n");
    let log = run_operator_now(sb, "after-binding");
    for line in ["deployment.apps/sample-app created", "service/sample-app created"] {
        assert!(log.lines().any(|l| l == line), "missing {line:?} in the log:\n{log}");
    }
    assert!(!log.contains("Forbidden"), "{log}");
    wait_rolled_out(sb, "gitops", "sample-app", String::new);
    let service = get_json(sb, &["get", "service", "sample-app", "-n", "gitops"]);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080, "{service}");
    let answer = PortForward::start(sb, "gitops", "svc/sample-app", 80).get();
    assert_eq!(body(&answer), "v0.1\n", "the sample app answers with its tag:\n{answer}");
}

/// The CI step of 2.5.2: a commit bumps the tag; the next run applies it and the new pod answers.
fn applies_the_bumped_tag(sb: &Sandbox, repo: &ConfigRepo) {
    repo.bump("deployment.yaml", "gitopsbook/sample-app:v0.1", "gitopsbook/sample-app:v0.2");
    let log = run_operator_now(sb, "after-bump");
    for line in ["deployment.apps/sample-app configured", "service/sample-app unchanged"] {
        assert!(log.lines().any(|l| l == line), "missing {line:?} in the log:\n{log}");
    }
    let image = sb.kubectl_ok(&[
        "get",
        "deployment",
        "sample-app",
        "-n",
        "gitops",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "gitopsbook/sample-app:v0.2");
    wait_rolled_out(sb, "gitops", "sample-app", String::new);
    wait_for(
        "the old v0.1 pod to be gone",
        || {
            let images = sb.kubectl_ok(&[
                "get",
                "pods",
                "-n",
                "gitops",
                "-l",
                "app=sample-app",
                "-o",
                "jsonpath={.items[*].spec.containers[0].image}",
            ]);
            if images == "gitopsbook/sample-app:v0.2" { Ok(()) } else { Err(format!("pod images {images:?}")) }
        },
        || show(sb, &["get", "pods", "-n", "gitops"]),
    );
    let answer = PortForward::start(sb, "gitops", "svc/sample-app", 80).get();
    assert_eq!(body(&answer), "v0.2\n", "the bumped app answers with its new tag:\n{answer}");
}

#[test]
fn the_admin_cluster_role_bound_cluster_wide_still_cannot_create_a_namespace() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let repo = ConfigRepo::new();
    repo.write("namespace.yaml", &read_fixture("sample-app-repo/namespace.yaml"));
    repo.commit("A namespace for previews");
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], &read_fixture("gitops-cronjob.yaml").replace("REPO_URL", &repo.url()));
    sb.kubectl_ok(&["apply", "-f", &fixture("admin-binding.yaml").to_string_lossy()]);

    let log = run_operator_now(&sb, "with-admin");
    // `admin` includes reading namespaces (through `view`), so kubectl's GET finds none and the create is refused.
    let refusal = "Error from server (Forbidden): error when creating \"/tmp/repo/manifests/namespace.yaml\": \
                   namespaces is forbidden: User \"system:serviceaccount:gitops:gitops-operator\" cannot create \
                   resource \"namespaces\" in API group \"\" at the cluster scope";
    assert!(log.contains(refusal), "missing {refusal:?} in the log:\n{log}");
    for line in ["deployment.apps/sample-app created", "service/sample-app created"] {
        assert!(log.lines().any(|l| l == line), "admin covers the namespaced objects; missing {line:?} in:\n{log}");
    }
    assert!(get_object(&sb, &["get", "namespace", "sample-app-previews"]).is_none(), "the namespace was not created");
}

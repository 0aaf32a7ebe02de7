//! The engine's kubectl command lines against the real kubectl: the same line, run by the lab in one
//! namespace and by `/usr/bin/kubectl` in another, must print the same output and leave equal objects.

use gitops_lab::kubectl::{DirectoryFiles, Kubectl, Outcome, RunOptions, parse_command_line};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};
use serde_json::Value;

async fn lab(sandbox: &Sandbox) -> Kubectl {
    let kubeconfig = kube::config::Kubeconfig::read_from(&sandbox.kubeconfig).expect("the sandbox's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("a config");
    Kubectl::from_client(kube::Client::try_from(config).expect("a client"), "by-lab".into())
}

/// Runs `line` with the lab (namespace by-lab) and kubectl (-n by-kctl); returns (lab, kubectl) output.
async fn both(sandbox: &Sandbox, lab: &Kubectl, line: &str) -> ((String, String), (String, String)) {
    let files = DirectoryFiles::new(std::env::temp_dir());
    let parsed = parse_command_line(line).unwrap_or_else(|e| panic!("{line}: {}", e.view().message.en));
    let by_lab = match lab.run(&parsed, &files, &RunOptions::default()).await {
        Ok(Outcome::Output(output)) => (output.stdout, output.stderr),
        Ok(other) => panic!("{line}: unexpected {other:?}"),
        Err(error) => (String::new(), error.view().detail.unwrap_or_default() + "\n"),
    };
    let mut args: Vec<String> = gitops_lab_e2e_words(line);
    args.remove(0);
    args.extend(["-n".into(), "by-kctl".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sandbox.kubectl(&args);
    (by_lab, (text(&out.stdout), text(&out.stderr)))
}

fn gitops_lab_e2e_words(line: &str) -> Vec<String> {
    // The lines below have no quotes, so splitting on spaces is what a shell would do.
    line.split_whitespace().map(String::from).collect()
}

fn live(sandbox: &Sandbox, what: &str, namespace: &str) -> Value {
    serde_json::from_str(&sandbox.kubectl_ok(&["get", what, "-n", namespace, "-o", "json"])).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_imperative_script_prints_what_kubectl_prints_twice_over() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "by-lab"]);
    sandbox.kubectl_ok(&["create", "namespace", "by-kctl"]);
    let lab = lab(&sandbox).await;
    let script = [
        "kubectl create deployment nginx-imperative --image=nginx:latest",
        "kubectl scale deployment/nginx-imperative --replicas 3",
        "kubectl annotate deployment/nginx-imperative environment=prod",
        "kubectl annotate deployment/nginx-imperative organization=sales",
    ];
    for round in 0..2 {
        for line in script {
            let ((lab_out, lab_err), (kctl_out, kctl_err)) = both(&sandbox, &lab, line).await;
            assert_eq!(lab_out, kctl_out, "round {round}: {line}: stdout");
            assert_eq!(lab_err, kctl_err, "round {round}: {line}: stderr");
        }
    }
    let by_lab = live(&sandbox, "deployment/nginx-imperative", "by-lab");
    let by_kctl = live(&sandbox, "deployment/nginx-imperative", "by-kctl");
    assert_eq!(by_lab["spec"], by_kctl["spec"]);
    assert_eq!(by_lab["metadata"]["annotations"], by_kctl["metadata"]["annotations"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_other_verbs_print_what_kubectl_prints() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "by-lab"]);
    sandbox.kubectl_ok(&["create", "namespace", "by-kctl"]);
    let lab = lab(&sandbox).await;
    for line in [
        "kubectl create deployment web --image=nginx:1.27 --replicas=2",
        "kubectl label deployment web tier=front",
        "kubectl label deployment web tier=back",
        "kubectl label deployment web tier=back --overwrite",
        "kubectl annotate deployment web note-",
        "kubectl rollout restart deployment/web",
        "kubectl rollout status deployment/web --timeout=60s",
        "kubectl get deployment web -o name",
        "kubectl scale deployment web --replicas=1",
        "kubectl create configmap settings --from-literal=colour=blue",
        "kubectl get configmap settings -o yaml",
        "kubectl delete configmap settings",
        "kubectl delete deployment/nothing-here",
        "kubectl get pods/nothing-here",
        "kubectl create namespace by-lab",
    ] {
        let ((lab_out, lab_err), (kctl_out, kctl_err)) = both(&sandbox, &lab, line).await;
        if line.contains("rollout status") {
            // The waiting lines depend on how far the rollout got when each side looked; the verdict does not.
            let last = |s: &str| s.lines().last().unwrap_or_default().to_string();
            assert_eq!(last(&lab_out), last(&kctl_out), "{line}");
            continue;
        }
        if line.contains("-o yaml") {
            // Same object, apart from what the server sets per object.
            let strip = |s: &str| {
                s.lines()
                    .filter(|l| {
                        !["creationTimestamp", "resourceVersion", "uid", "namespace"]
                            .iter()
                            .any(|k| l.trim_start().starts_with(k))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(strip(&lab_out), strip(&kctl_out), "{line}");
            continue;
        }
        assert_eq!(lab_out, kctl_out.replace("by-kctl", "by-lab"), "{line}: stdout");
        assert_eq!(lab_err, kctl_err.replace("by-kctl", "by-lab"), "{line}: stderr");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_prints_the_commands_output_and_kubectls_line_for_a_failure() {
    let sandbox = Sandbox::start();
    sandbox.kubectl_ok(&["create", "namespace", "by-lab"]);
    sandbox.kubectl_ok(&["run", "box", "-n", "by-lab", "--image=busybox", "--restart=Never", "--", "sleep", "3600"]);
    sandbox.kubectl_ok(&["wait", "-n", "by-lab", "--for=condition=Ready", "pod/box", "--timeout=30s"]);
    let lab = lab(&sandbox).await;
    let files = DirectoryFiles::new(std::env::temp_dir());
    let run = |line: &'static str| {
        let lab = lab.clone();
        let files = &files;
        async move {
            match lab.run(&parse_command_line(line).unwrap(), files, &RunOptions::default()).await.unwrap() {
                Outcome::Output(output) => output,
                other => panic!("{other:?}"),
            }
        }
    };
    let ok = run("kubectl exec box -- echo hello").await;
    assert_eq!(ok.stdout, "hello\n");
    assert!(ok.ok());
    let failed = run("kubectl exec box -- sh -c 'exit 3'").await;
    assert_eq!(failed.stderr, "command terminated with exit code 3\n");
    assert!(!failed.ok());
}

#[test]
fn yaml_reads_exactly_as_kubectl_prints_it() {
    if !kubectl_available() {
        return;
    }
    let sandbox = Sandbox::start();
    let work = gitops_lab_e2e::chapter::Workdir::with_fixtures(&["nginx-pod.yaml", "declarative-deployment.yaml"]);
    for file in ["nginx-pod.yaml", "declarative-deployment.yaml"] {
        sandbox.kubectl_ok(&["apply", "-f", work.file(file).to_str().unwrap()]);
    }
    sandbox.kubectl_ok(&[
        "create",
        "configmap",
        "page",
        "--from-literal=index.html=<h1>Hello</h1>\n<p>two lines</p>\n",
        "--from-literal=count=40",
        "--from-literal=flag=yes",
        "--from-literal=when=2026-12-03",
        "--from-literal=colon=a: b",
    ]);
    sandbox.kubectl_ok(&["expose", "deployment", "nginx-declarative", "--port=80"]);
    for what in [
        "pod/nginx",
        "deployment/nginx-declarative",
        "configmap/page",
        "service/nginx-declarative",
        "namespace/default",
    ] {
        let json: serde_json::Value = serde_json::from_str(&sandbox.kubectl_ok(&["get", what, "-o", "json"])).unwrap();
        let mut json = json;
        gitops_lab::kubectl::get::hide_managed_fields(&mut json);
        let theirs = sandbox.kubectl_ok(&["get", what, "-o", "yaml"]);
        assert_eq!(gitops_lab::kubectl::yaml::to_kubectl_yaml(&json), theirs, "{what}");
    }
}

//! Chapter 2.1.4 with the real kubectl against a running sandbox: create, inspect and delete the nginx
//! Pod; kubectl's error lines for the server's Status bodies; short names; no version-skew warning.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use gitops_lab_e2e::chapter::{Workdir, assert_has_line, assert_table, failed_with, get_json, is_age, squashed_lines};
use gitops_lab_e2e::{Sandbox, kubectl_available, text};

const POD_HEADER: &str = "NAME READY STATUS RESTARTS AGE";

/// A sandbox with the chapter's nginx Pod created from its file, and the folder holding that file.
fn sandbox_with_nginx_pod() -> (Sandbox, Workdir) {
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["nginx-pod.yaml"]);
    let out = sb.kubectl_in(Some(work.path()), &["create", "-f", "nginx-pod.yaml"]);
    assert!(out.status.success(), "create failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "pod/nginx created\n");
    (sb, work)
}

#[test]
fn creating_the_pod_twice_fails_the_second_time_with_already_exists() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_nginx_pod();
    let again = sb.kubectl_in(Some(work.path()), &["create", "-f", "nginx-pod.yaml"]);
    let stderr = failed_with(&again, 1);
    assert_eq!(
        stderr,
        "Error from server (AlreadyExists): error when creating \"nginx-pod.yaml\": pods \"nginx\" already exists\n"
    );
    assert_eq!(text(&again.stdout), "");
}

#[test]
fn get_pods_lists_the_pod_with_the_standard_columns() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_nginx_pod();
    // The STATUS and RESTARTS cells belong to the node's lifecycle (Pending, Init:0/1, Running, "1 (2s ago)"),
    // which the node's own suites check; here only what the API server decides is pinned down.
    for args in [&["get", "pods"][..], &["get", "pod", "nginx"], &["get", "po"]] {
        let out = sb.kubectl_ok(args);
        let lines = squashed_lines(&out);
        assert_eq!(lines.first().map(String::as_str), Some(POD_HEADER), "kubectl {args:?}:\n{out}");
        assert_eq!(lines.len(), 2, "one pod in:\n{out}");
        let cells: Vec<&str> = lines[1].split(' ').collect();
        assert_eq!(cells[0], "nginx", "{out}");
        assert!(["0/1", "1/1"].contains(&cells[1]), "READY counts the one main container, not the init one:\n{out}");
        assert!(cells.last().is_some_and(|age| is_age(age)), "{out}");
    }
    let wide = squashed_lines(&sb.kubectl_ok(&["get", "pods", "-o", "wide"]));
    assert_eq!(wide[0], "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES");
    let phase = sb.kubectl_ok(&["get", "pod", "nginx", "-o", "jsonpath={.status.phase}"]);
    assert!(["Pending", "Running"].contains(&phase.as_str()), "phase {phase:?}");
}

#[test]
fn get_pod_as_yaml_shows_the_defaults_the_server_filled_in() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_nginx_pod();
    let yaml = sb.kubectl_ok(&["get", "pod", "nginx", "-o", "yaml"]);
    let lines: Vec<&str> = yaml.lines().map(str::trim).collect();
    for expected in [
        "apiVersion: v1",
        "kind: Pod",
        "name: nginx",
        "namespace: default",
        "restartPolicy: Always",
        "dnsPolicy: ClusterFirst",
        "terminationGracePeriodSeconds: 30",
        "schedulerName: default-scheduler",
        "serviceAccountName: default",
        "terminationMessagePath: /dev/termination-log",
        "terminationMessagePolicy: File",
    ] {
        assert!(lines.contains(&expected), "expected {expected:?} in:\n{yaml}");
    }
    for key in ["uid: ", "creationTimestamp: ", "resourceVersion: "] {
        assert!(lines.iter().any(|l| l.starts_with(key)), "expected a {key:?} line in:\n{yaml}");
    }

    // Per container: a tagged image is pulled only when missing, an untagged one (":latest") always.
    let pod = get_json(&sb, &["get", "pod", "nginx"]);
    assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1.11");
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(pod["spec"]["initContainers"][0]["image"], "docker/whalesay");
    assert_eq!(pod["spec"]["initContainers"][0]["imagePullPolicy"], "Always");
    assert_eq!(pod["spec"]["initContainers"][0]["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(pod["spec"]["volumes"][0], serde_json::json!({"name": "data", "emptyDir": {}}));
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    assert_eq!(uid.len(), 36, "a UUID-shaped uid, got {uid:?}");
    let rv = pod["metadata"]["resourceVersion"].as_str().unwrap_or_default();
    assert!(rv.parse::<u64>().is_ok_and(|n| n > 0), "a numeric resourceVersion, got {rv:?}");
}

#[test]
fn describe_pod_shows_the_init_container_the_container_and_the_shared_volume() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_nginx_pod();
    let out = sb.kubectl_ok(&["describe", "pod", "nginx"]);
    for expected in [
        "Name: nginx",
        "Namespace: default",
        "Init Containers:",
        "nginx-init:",
        "Image: docker/whalesay",
        "Command:",
        "sh",
        "-c",
        "Args:",
        "echo \"<pre>$(cowsay -b 'Hello Kubernetes')</pre>\" > /data/index.html",
        "/data from data (rw)",
        "Containers:",
        "nginx:",
        "Image: nginx:1.11",
        "/usr/share/nginx/html from data (rw)",
        "Volumes:",
        "data:",
        "Type: EmptyDir (a temporary directory that shares a pod's lifetime)",
        "QoS Class: BestEffort",
    ] {
        assert_has_line(&out, expected);
    }
    // The init container section comes before the main containers, as in the manifest.
    let lines = squashed_lines(&out);
    let init = lines.iter().position(|l| l == "Init Containers:");
    let main = lines.iter().position(|l| l == "Containers:");
    assert!(init < main, "Init Containers before Containers in:\n{out}");
}

#[test]
fn delete_pod_returns_promptly_and_the_pod_is_then_not_found() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_nginx_pod();
    let started = Instant::now();
    let out = sb.kubectl_ok(&["delete", "pod", "nginx"]);
    assert!(started.elapsed() < Duration::from_secs(10), "delete took {:?}", started.elapsed());
    assert_eq!(out, "pod \"nginx\" deleted\n");
    let get = sb.kubectl(&["get", "pod", "nginx"]);
    assert_eq!(failed_with(&get, 1), "Error from server (NotFound): pods \"nginx\" not found\n");
}

#[test]
fn applying_the_pod_file_after_create_warns_then_only_image_changes_are_allowed() {
    if !kubectl_available() {
        return;
    }
    let (sb, work) = sandbox_with_nginx_pod();
    let first = sb.kubectl_in(Some(work.path()), &["apply", "-f", "nginx-pod.yaml"]);
    assert_eq!(text(&first.stdout), "pod/nginx configured\n");
    assert_eq!(
        text(&first.stderr),
        "Warning: resource pods/nginx is missing the kubectl.kubernetes.io/last-applied-configuration annotation \
         which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by \
         either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.\n"
    );
    // Not "unchanged", on a real cluster either: ServiceAccount admission appended a token volume and mounts the
    // file does not list, so kubectl's patch carries `$setElementOrder` directives for those lists.
    assert_eq!(
        text(&sb.kubectl_in(Some(work.path()), &["apply", "-f", "nginx-pod.yaml"]).stdout),
        "pod/nginx configured\n"
    );

    work.edit("nginx-pod.yaml", "image: nginx:1.11", "image: nginx:1.12");
    assert_eq!(
        text(&sb.kubectl_in(Some(work.path()), &["apply", "-f", "nginx-pod.yaml"]).stdout),
        "pod/nginx configured\n"
    );
    assert_eq!(get_json(&sb, &["get", "pod", "nginx"])["spec"]["containers"][0]["image"], "nginx:1.12");

    work.edit("nginx-pod.yaml", "restartPolicy: Always", "restartPolicy: Never");
    let refused = sb.kubectl_in(Some(work.path()), &["apply", "-f", "nginx-pod.yaml"]);
    let stderr = failed_with(&refused, 1);
    // kube-apiserver follows this line with a diff of the pod spec; the first line is the stable part.
    assert_eq!(
        stderr.lines().next().unwrap_or_default(),
        "The Pod \"nginx\" is invalid: spec: Forbidden: pod updates may not change fields other than \
         `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \
         (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it \
         was previously negative)"
    );
}

#[test]
fn pods_get_the_service_account_token_volume_mounted_in_every_container() {
    if !kubectl_available() {
        return;
    }
    let (sb, _work) = sandbox_with_nginx_pod();
    let pod = get_json(&sb, &["get", "pod", "nginx"]);
    let volumes = pod["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    let token = volumes.iter().find(|v| v["name"].as_str().is_some_and(|n| n.starts_with("kube-api-access-")));
    let token = token.unwrap_or_else(|| panic!("no kube-api-access volume in {volumes:?}"));
    let name = token["name"].as_str().unwrap_or_default();
    assert_eq!(name.len(), "kube-api-access-".len() + 5, "{name}");
    let sources = &token["projected"]["sources"];
    assert_eq!(sources[0]["serviceAccountToken"]["path"], "token");
    assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
    assert_eq!(sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"], "metadata.namespace");
    for list in ["initContainers", "containers"] {
        let mounts = &pod["spec"][list][0]["volumeMounts"];
        let mount = serde_json::json!({"name": name, "readOnly": true,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"});
        assert!(mounts.as_array().is_some_and(|m| m.contains(&mount)), "{list}: {mounts}");
    }
    let describe = sb.kubectl_ok(&["describe", "pod", "nginx"]);
    assert_has_line(&describe, &format!("/var/run/secrets/kubernetes.io/serviceaccount from {name} (ro)"));
}

#[test]
fn replacing_from_a_stale_copy_is_a_conflict() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&[]);
    sb.kubectl_ok(&["create", "configmap", "settings", "--from-literal=colour=blue"]);
    let copy = sb.kubectl_ok(&["get", "configmap", "settings", "-o", "yaml"]);
    std::fs::write(work.file("settings.yaml"), copy.replace("colour: blue", "colour: red")).expect("a scratch copy");
    sb.kubectl_ok(&["annotate", "configmap", "settings", "touched=yes"]);
    let out = sb.kubectl_in(Some(work.path()), &["replace", "-f", "settings.yaml"]);
    assert_eq!(
        failed_with(&out, 1),
        "Error from server (Conflict): error when replacing \"settings.yaml\": Operation cannot be fulfilled on \
         configmaps \"settings\": the object has been modified; please apply your changes to the latest version and \
         try again\n"
    );
    let live = get_json(&sb, &["get", "configmap", "settings"]);
    assert_eq!(live["data"]["colour"], "blue", "the stale write was refused");
}

#[test]
fn short_names_reach_the_same_resources_as_the_full_names() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    for short in ["deploy", "rs", "cj", "po", "svc", "cm", "ns", "sa"] {
        let out = sb.kubectl(&["get", short]);
        assert!(out.status.success(), "kubectl get {short}: {}", text(&out.stderr));
    }
    // Objects every cluster starts with prove the short names resolve to the right kinds.
    assert_table(
        &sb.kubectl_ok(&["get", "svc"]),
        "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE",
        &["kubernetes ClusterIP 10.96.0.1 <none> 443/TCP <age>"],
    );
    assert_has_line(&sb.kubectl_ok(&["get", "ns"]), "NAME STATUS AGE");
    assert!(squashed_lines(&sb.kubectl_ok(&["get", "ns"])).iter().any(|l| l.starts_with("kube-system Active ")));
    assert!(squashed_lines(&sb.kubectl_ok(&["get", "sa"])).iter().any(|l| l.starts_with("default ")));
    let empty = sb.kubectl(&["get", "deploy"]);
    assert_eq!(text(&empty.stderr), "No resources found in default namespace.\n");
}

#[test]
fn getting_a_missing_deployment_prints_not_found_with_its_group() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let out = sb.kubectl(&["get", "deployments", "nope"]);
    assert_eq!(failed_with(&out, 1), "Error from server (NotFound): deployments.apps \"nope\" not found\n");
}

#[test]
fn negative_replicas_are_rejected_as_invalid_by_create_and_apply() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["negative-replicas.yaml"]);
    let expected = "The Deployment \"negative\" is invalid: spec.replicas: Invalid value: -1: must be greater than or \
        equal to 0\n";
    for verb in ["apply", "create"] {
        let out = sb.kubectl_in(Some(work.path()), &[verb, "-f", "negative-replicas.yaml"]);
        assert_eq!(failed_with(&out, 1), expected, "kubectl {verb}");
    }
    assert!(!sb.kubectl(&["get", "deployment", "negative"]).status.success(), "nothing was stored");
}

#[test]
fn an_unknown_field_fails_strict_validation_and_stores_nothing() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["misspelled-field.yaml"]);
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", "misspelled-field.yaml"]);
    let stderr = failed_with(&out, 1);
    assert!(stderr.contains("strict decoding error: unknown field \"spec.replica\""), "{stderr}");
    assert!(!sb.kubectl(&["get", "deployment", "misspelled"]).status.success(), "nothing was stored");
}

#[test]
fn an_unknown_field_on_create_prints_the_api_servers_exact_line() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["misspelled-field.yaml"]);
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", "misspelled-field.yaml"]);
    assert_eq!(
        failed_with(&out, 1),
        "Error from server (BadRequest): error when creating \"misspelled-field.yaml\": Deployment in version \"v1\" \
         cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\"\n"
    );
}

#[test]
fn an_unknown_field_on_an_apply_patch_prints_the_request_is_invalid() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["declarative-deployment.yaml"]);
    sb.kubectl_in(Some(work.path()), &["apply", "-f", "declarative-deployment.yaml"]);
    work.edit("declarative-deployment.yaml", "  replicas: 3\n", "  replica: 3\n");
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", "declarative-deployment.yaml"]);
    let stderr = failed_with(&out, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The value is the patch as a Go map (keys sorted, null as <nil>) quoted like Go's %q.
    let start = concat!(
        r#"The request is invalid: patch: Invalid value: "map[metadata:map[annotations:map["#,
        r#"kubectl.kubernetes.io/last-applied-configuration:{\"apiVersion\":\"apps/v1\","#
    );
    let end = r#"\n]] spec:map[replica:3 replicas:<nil>]]": strict decoding error: unknown field "spec.replica""#;
    assert!(stderr.starts_with(start), "{stderr}");
    assert!(stderr.ends_with(&format!("{end}\n")), "{stderr}");
}

const RFC1123: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn a_name_with_an_underscore_is_invalid_with_the_rfc_1123_message() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let work = Workdir::with_fixtures(&["bad-name.yaml"]);
    let out = sb.kubectl_in(Some(work.path()), &["apply", "-f", "bad-name.yaml"]);
    let expected =
        format!("The Deployment \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {RFC1123}\n");
    assert_eq!(failed_with(&out, 1), expected);
}

#[test]
fn create_configmap_with_a_bad_name_prints_the_servers_message_once() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // `create configmap` prints the Status message itself (not the causes), so a duplicate shows here.
    let out = sb.kubectl(&["create", "configmap", "Bad_Name", "--from-literal=greeting=hello"]);
    let expected = format!(
        "error: failed to create configmap: ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \
            \"Bad_Name\": {RFC1123}\n"
    );
    assert_eq!(failed_with(&out, 1), expected);
}

#[test]
fn kubectl_version_reports_1_32_without_a_skew_warning() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let out = sb.kubectl(&["version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("WARNING: version difference"), "{stderr}");
    assert_eq!(stderr, "");
    let stdout = text(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with("Server Version: v1.32.")), "{stdout}");
}

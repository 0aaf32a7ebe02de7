//! CustomResourceDefinitions through the real kubectl: a definition applied makes its resource
//! served at once (discovery, short names, categories, CRUD, selectors, watch, printer columns,
//! the status and scale subresources), its schema prunes, defaults and validates with upstream's
//! words, a non-structural definition is refused, several served versions each show the stored
//! object in their own version, and deleting the definition removes its resources (waiting for
//! their finalizers, refusing new ones meanwhile) and stops serving them.

#![forbid(unsafe_code)]

use gitops_lab_e2e::chapter::{Watcher, assert_table, failed_with, get_json};
use gitops_lab_e2e::{Sandbox, kubectl_available};
use std::time::Duration;

/// A namespaced resource with printer columns, defaults, bounds, an enum, a pattern and both
/// subresources: the shape of a definition a learner copies from an operator's repository.
const LESSONS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: lessons.lab.example.com
spec:
  group: lab.example.com
  scope: Namespaced
  names: {kind: Lesson, plural: lessons, singular: lesson, shortNames: [lsn], categories: [learning]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.seats, statusReplicasPath: .status.seats}
    additionalPrinterColumns:
    - {name: Level, type: string, jsonPath: .spec.level}
    - {name: Minutes, type: integer, jsonPath: .spec.minutes}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [minutes]
            properties:
              level: {type: string, enum: [basic, advanced], default: basic}
              minutes: {type: integer, minimum: 1, maximum: 600}
              seats: {type: integer, default: 1}
              code: {type: string, pattern: '^[A-Z]{2}-[0-9]+$'}
          status:
            type: object
            properties:
              seats: {type: integer}
              phase: {type: string}
"#;

/// A cluster-scoped resource without printer columns (so NAME and AGE, as upstream).
const TRACKS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tracks.lab.example.com
spec:
  group: lab.example.com
  scope: Cluster
  names: {kind: Track, plural: tracks}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#;

const INTRO: &str = r#"
apiVersion: lab.example.com/v1
kind: Lesson
metadata: {name: intro, labels: {track: gitops}}
spec: {minutes: 45}
"#;

fn lesson(name: &str, spec: &str) -> String {
    format!("apiVersion: lab.example.com/v1\nkind: Lesson\nmetadata: {{name: {name}}}\nspec: {spec}\n")
}

#[test]
fn an_applied_definition_is_served_at_once_by_every_name_and_goes_away_with_its_objects() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    // Discovery is cached first, so the new type must be found by kubectl's re-fetch on a miss.
    assert!(sb.kubectl_ok(&["get", "pods"]).is_empty());
    assert_eq!(
        sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS),
        "customresourcedefinition.apiextensions.k8s.io/lessons.lab.example.com created\n"
    );
    let crd = get_json(&sb, &["get", "crd", "lessons.lab.example.com"]);
    let conditions: Vec<(&str, &str, &str)> = crd["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(conditions, [("NamesAccepted", "True", "NoConflicts"), ("Established", "True", "InitialNamesAccepted")]);
    assert_eq!(crd["status"]["acceptedNames"]["listKind"], "LessonList");
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1"]));
    let waited = sb.kubectl_ok(&["wait", "--for=condition=Established", "crd/lessons.lab.example.com"]);
    assert_eq!(waited, "customresourcedefinition.apiextensions.k8s.io/lessons.lab.example.com condition met\n");

    assert_eq!(sb.kubectl_stdin_ok(&["apply", "-f", "-"], INTRO), "lesson.lab.example.com/intro created\n");
    sb.kubectl_stdin_ok(&["create", "-f", "-"], &lesson("advanced-sync", "{minutes: 90, level: advanced}"));
    let header = "NAME LEVEL MINUTES AGE";
    let rows = ["advanced-sync advanced 90 <age>", "intro basic 45 <age>"];
    for name in ["lessons", "lesson", "lsn", "lessons.lab.example.com", "learning"] {
        let out = sb.kubectl_ok(&["get", name]);
        let out = out.replace("lesson.lab.example.com/", "");
        assert_table(&out, header, &rows);
    }
    assert_table(&sb.kubectl_ok(&["get", "lsn", "-l", "track=gitops"]), header, &["intro basic 45 <age>"]);
    assert_table(
        &sb.kubectl_ok(&["get", "lsn", "--field-selector", "metadata.name=advanced-sync"]),
        header,
        &["advanced-sync advanced 90 <age>"],
    );
    let api_resources = sb.kubectl_ok(&["api-resources", "--api-group=lab.example.com"]);
    assert_table(
        &api_resources,
        "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
        &["lessons lsn lab.example.com/v1 true Lesson"],
    );

    sb.kubectl_stdin_ok(&["apply", "-f", "-"], TRACKS);
    sb.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        "apiVersion: lab.example.com/v1alpha1\nkind: Track\nmetadata: {name: gitops}\nanything: [goes]\n",
    );
    assert_table(&sb.kubectl_ok(&["get", "tracks"]), "NAME AGE", &["gitops <age>"]);
    let track = get_json(&sb, &["get", "track", "gitops"]);
    assert_eq!(track["anything"], serde_json::json!(["goes"]), "preserve-unknown-fields keeps what it is sent");
    assert!(track["metadata"].get("namespace").is_none(), "a cluster-scoped object has no namespace");

    assert_eq!(
        sb.kubectl_ok(&["delete", "lesson", "advanced-sync"]),
        "lesson.lab.example.com \"advanced-sync\" deleted\n"
    );
    assert_eq!(
        sb.kubectl_ok(&["delete", "crd", "lessons.lab.example.com"]),
        "customresourcedefinition.apiextensions.k8s.io \"lessons.lab.example.com\" deleted\n"
    );
    // kubectl still has the type in its discovery cache: the list itself is a 404.
    let stale = failed_with(&sb.kubectl(&["get", "lessons"]), 1);
    assert!(stale.starts_with("Error from server (NotFound): Unable to list"), "{stale}");
    // Discovery read again (as after the cache's time), the type is gone.
    let listed = sb.kubectl_ok(&["api-resources", "--api-group=lab.example.com"]);
    assert_table(
        &listed,
        "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
        &["tracks lab.example.com/v1alpha1 false Track"],
    );
    let gone = failed_with(&sb.kubectl(&["get", "lessons"]), 1);
    assert_eq!(gone, "error: the server doesn't have a resource type \"lessons\"\n");
    // Defined again, the resource starts empty: the old objects went with the old definition.
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS);
    assert_eq!(text_of(&sb.kubectl(&["get", "lessons", "-A"])), "No resources found\n");
}

/// Runs kubectl with `input` on stdin, requires exit code 1, and returns its stderr.
fn failing(sb: &Sandbox, args: &[&str], input: &str) -> String {
    let mut command = sb.kubectl_command();
    command.args(args).stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("kubectl starts");
    std::io::Write::write_all(&mut child.stdin.take().expect("piped stdin"), input.as_bytes()).expect("stdin");
    failed_with(&child.wait_with_output().expect("kubectl ends"), 1)
}

fn text_of(out: &std::process::Output) -> String {
    format!("{}{}", gitops_lab_e2e::text(&out.stdout), gitops_lab_e2e::text(&out.stderr))
}

#[test]
fn a_watch_on_a_custom_resource_sees_it_created_changed_and_deleted() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS);
    let mut watch = Watcher::spawn(&sb, &["get", "lessons", "--watch", "--output-watch-events"]);
    std::thread::sleep(Duration::from_millis(500));
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], INTRO);
    let wait = Duration::from_secs(10);
    watch.wait_for("ADDED", wait, |l| l.starts_with("ADDED") && l.contains("intro"));
    sb.kubectl_ok(&["patch", "lesson", "intro", "--type=merge", "-p", r#"{"spec":{"minutes":50}}"#]);
    watch.wait_for("MODIFIED", wait, |l| l.starts_with("MODIFIED") && l.contains(" 50 "));
    sb.kubectl_ok(&["delete", "lesson", "intro"]);
    watch.wait_for("DELETED", wait, |l| l.starts_with("DELETED") && l.contains("intro"));
}

#[test]
fn the_schema_defaults_prunes_and_refuses_bad_values_in_upstreams_words() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS);
    let refused = |spec: &str| failing(&sb, &["create", "-f", "-"], &lesson("bad", spec));
    assert_eq!(
        refused("{minutes: long}"),
        "The Lesson \"bad\" is invalid: spec.minutes: Invalid value: \"string\": spec.minutes in body must be of \
         type integer: \"string\"\n"
    );
    assert_eq!(refused("{level: basic}"), "The Lesson \"bad\" is invalid: spec.minutes: Required value\n");
    assert_eq!(
        refused("{minutes: 0, level: expert, code: x1}"),
        "The Lesson \"bad\" is invalid: \n\
         * spec.code: Invalid value: \"x1\": spec.code in body should match '^[A-Z]{2}-[0-9]+$'\n\
         * spec.level: Unsupported value: \"expert\": supported values: \"basic\", \"advanced\"\n\
         * spec.minutes: Invalid value: 0: spec.minutes in body should be greater than or equal to 1\n"
    );
    assert!(failed_with(&sb.kubectl(&["get", "lesson", "bad"]), 1).contains("NotFound"), "nothing was stored");

    // kubectl finds the kind in the OpenAPI v3 document, so it asks the server to be strict.
    let with_extra = lesson("intro", "{minutes: 45, extra: dropped}");
    assert_eq!(
        failing(&sb, &["apply", "-f", "-"], &with_extra),
        "Error from server (BadRequest): error when creating \"STDIN\": Lesson in version \"v1\" cannot be handled \
         as a Lesson: strict decoding error: unknown field \"spec.extra\"\n"
    );
    sb.kubectl_stdin_ok(&["apply", "--validate=false", "-f", "-"], &with_extra);
    let intro = get_json(&sb, &["get", "lesson", "intro"]);
    assert_eq!(intro["spec"], serde_json::json!({"minutes": 45, "level": "basic", "seats": 1}), "defaulted, pruned");
    assert_eq!(intro["metadata"]["generation"], 1);
}

#[test]
fn a_non_structural_definition_is_refused_with_upstreams_message() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    let loose = LESSONS.replace("          spec:\n            type: object\n", "          spec:\n");
    assert_eq!(
        failing(&sb, &["create", "-f", "-"], &loose),
        "The CustomResourceDefinition \"lessons.lab.example.com\" is invalid: \
         spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for \
         specified object fields\n"
    );
    assert!(failed_with(&sb.kubectl(&["get", "lessons"]), 1).contains("doesn't have a resource type"));
}

#[test]
fn status_and_scale_subresources_write_their_own_parts_and_only_spec_moves_the_generation() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS);
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], INTRO);
    let status = r#"{"status":{"phase":"Running","seats":2}}"#;
    sb.kubectl_ok(&["patch", "lesson", "intro", "--subresource=status", "--type=merge", "-p", status]);
    let intro = get_json(&sb, &["get", "lesson", "intro"]);
    assert_eq!(intro["status"], serde_json::json!({"phase": "Running", "seats": 2}));
    assert_eq!(intro["metadata"]["generation"], 1, "a status write keeps the generation");

    let out = sb.kubectl_ok(&["patch", "lesson", "intro", "--type=merge", "-p", r#"{"status":{"phase":"Done"}}"#]);
    assert_eq!(out, "lesson.lab.example.com/intro patched (no change)\n", "the main resource ignores status");
    sb.kubectl_ok(&["patch", "lesson", "intro", "--type=merge", "-p", r#"{"spec":{"minutes":50}}"#]);
    assert_eq!(get_json(&sb, &["get", "lesson", "intro"])["metadata"]["generation"], 2);

    assert_eq!(sb.kubectl_ok(&["scale", "lesson", "intro", "--replicas=4"]), "lesson.lab.example.com/intro scaled\n");
    let intro = get_json(&sb, &["get", "lesson", "intro"]);
    assert_eq!(intro["spec"]["seats"], 4);
    assert_eq!(intro["metadata"]["generation"], 3);
    let raw = sb.kubectl_ok(&["get", "--raw", "/apis/lab.example.com/v1/namespaces/default/lessons/intro/scale"]);
    let scale: serde_json::Value = serde_json::from_str(&raw).expect("a Scale");
    assert_eq!((scale["spec"]["replicas"].as_i64(), scale["status"]["replicas"].as_i64()), (Some(4), Some(2)));
}

#[test]
fn kubectl_explain_reads_a_custom_resource_from_its_openapi_document() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], LESSONS);
    let out = sb.kubectl_ok(&["explain", "lesson.spec.level"]);
    assert!(out.starts_with("GROUP:      lab.example.com\nKIND:       Lesson\nVERSION:    v1\n"), "{out}");
    assert!(out.contains("\nFIELD: level <string>\nENUM:\n    basic\n    advanced\n"), "{out}");
    let spec = sb.kubectl_ok(&["explain", "lessons.spec"]);
    assert!(spec.contains("minutes\t<integer> -required-"), "{spec}");
}

/// Two served versions, each with its own schema, listed alpha first: v1alpha1 takes `minutes` as
/// a string and defaults `note`; v1, the storage version, takes an integer and defaults `level`.
/// v1beta1 exists but is not served.
const DRILLS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: drills.lab.example.com
spec:
  group: lab.example.com
  scope: Namespaced
  names: {kind: Drill, plural: drills}
  versions:
  - name: v1alpha1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              minutes: {type: string}
              note: {type: string, default: draft}
  - name: v1beta1
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              minutes: {type: integer}
              level: {type: string, default: basic}
"#;

#[test]
fn each_served_version_shows_the_stored_object_with_its_own_api_version_and_defaults() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], DRILLS);
    let alpha = "drills.v1alpha1.lab.example.com";
    let columns = "custom-columns=API:.apiVersion,NAME:.metadata.name,MINUTES:.spec.minutes";
    let mut watch = Watcher::spawn(&sb, &["get", alpha, "--watch", "-o", columns]);
    std::thread::sleep(Duration::from_millis(500));

    // Written through v1alpha1, checked by its schema (a string) and defaulted by it.
    let drill = "apiVersion: lab.example.com/v1alpha1\nkind: Drill\nmetadata: {name: warmup}\nspec: {minutes: ten}\n";
    assert_eq!(
        sb.kubectl_stdin_ok(&["create", "-f", "-", "-o", "jsonpath={.apiVersion}"], drill),
        "lab.example.com/v1alpha1"
    );
    let as_alpha = get_json(&sb, &["get", alpha, "warmup"]);
    assert_eq!(as_alpha["apiVersion"], "lab.example.com/v1alpha1");
    assert_eq!(as_alpha["spec"], serde_json::json!({"minutes": "ten", "note": "draft"}));
    // `kubectl get drills` reads the preferred version, v1: stored as v1, so pruned by v1's schema
    // (`note` is v1alpha1's only, as upstream's strategy None loses it), v1's defaults added.
    let as_v1 = get_json(&sb, &["get", "drills", "warmup"]);
    assert_eq!(as_v1["apiVersion"], "lab.example.com/v1");
    assert_eq!(as_v1["spec"], serde_json::json!({"minutes": "ten", "level": "basic"}));
    let group = raw_json(&sb, "/apis/lab.example.com");
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let versions: Vec<&str> =
        group["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["v1", "v1alpha1"], "v1beta1 is not served");

    // Lists and watch events through v1alpha1 are in v1alpha1.
    let listed = get_json(&sb, &["get", alpha]);
    assert_eq!(listed["items"][0]["apiVersion"], "lab.example.com/v1alpha1");
    let wait = Duration::from_secs(10);
    watch.wait_for("ADDED", wait, |l| l.starts_with("lab.example.com/v1alpha1") && l.contains("warmup"));
    sb.kubectl_ok(&["patch", alpha, "warmup", "--type=merge", "-p", r#"{"spec":{"minutes":"twelve"}}"#]);
    watch.wait_for("MODIFIED", wait, |l| l.starts_with("lab.example.com/v1alpha1") && l.contains("twelve"));

    // v1's schema refuses what v1alpha1 took; an unserved version is an unknown resource.
    let refused = failing(&sb, &["create", "-f", "-"], &drill.replace("v1alpha1", "v1").replace("warmup", "b"));
    assert!(refused.contains("spec.minutes in body must be of type integer: \"string\""), "{refused}");
    let unserved = failed_with(&sb.kubectl(&["get", "--raw", "/apis/lab.example.com/v1beta1/drills"]), 1);
    assert!(unserved.contains("NotFound") || unserved.contains("not found"), "{unserved}");

    // Storage moved to v1alpha1: storedVersions keeps both; new objects are stored in v1alpha1.
    let moved = DRILLS
        .replace("storage: true", "storage: X")
        .replacen("storage: false", "storage: true", 1)
        .replace("storage: X", "storage: false");
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], &moved);
    let crd = get_json(&sb, &["get", "crd", "drills.lab.example.com"]);
    assert_eq!(crd["status"]["storedVersions"], serde_json::json!(["v1", "v1alpha1"]));
    let versions = raw_json(&sb, "/apis/lab.example.com");
    assert_eq!(versions["preferredVersion"]["version"], "v1");
}

fn raw_json(sb: &Sandbox, path: &str) -> serde_json::Value {
    serde_json::from_str(&sb.kubectl_ok(&["get", "--raw", path])).expect("a JSON answer")
}

#[test]
fn a_resource_with_a_finalizer_keeps_its_definition_terminating_until_the_finalizer_goes() {
    if !kubectl_available() {
        return;
    }
    let sb = Sandbox::start();
    sb.kubectl_stdin_ok(&["apply", "-f", "-"], DRILLS);
    let held =
        "apiVersion: lab.example.com/v1\nkind: Drill\nmetadata: {name: held, finalizers: [lab.example.com/keep]}\n";
    sb.kubectl_stdin_ok(&["create", "-f", "-"], held);
    sb.kubectl_stdin_ok(
        &["create", "-f", "-"],
        "apiVersion: lab.example.com/v1\nkind: Drill\nmetadata: {name: free}\n",
    );

    sb.kubectl_ok(&["delete", "crd", "drills.lab.example.com", "--wait=false"]);
    // The cleanup deleted what it could; the definition waits for the held resource.
    let wait = Duration::from_secs(10);
    let start = std::time::Instant::now();
    while sb.kubectl_ok(&["get", "drills", "-o", "name"]) != "drill.lab.example.com/held\n" {
        assert!(start.elapsed() < wait, "the resource without a finalizer was not deleted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let crd = get_json(&sb, &["get", "crd", "drills.lab.example.com"]);
    assert_eq!(crd["metadata"]["finalizers"], serde_json::json!(["customresourcecleanup.apiextensions.k8s.io"]));
    let terminating =
        crd["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Terminating").cloned();
    let terminating = terminating.expect("a Terminating condition");
    assert_eq!(terminating["status"], "True");
    assert_eq!(terminating["reason"], "InstanceDeletionInProgress");
    assert!(get_json(&sb, &["get", "drill", "held"])["metadata"]["deletionTimestamp"].is_string());

    let refused =
        failing(&sb, &["create", "-f", "-"], "apiVersion: lab.example.com/v1\nkind: Drill\nmetadata: {name: late}\n");
    assert_eq!(
        refused,
        "Error from server (MethodNotAllowed): error when creating \"STDIN\": create not allowed while custom \
         resource definition is terminating\n"
    );

    sb.kubectl_ok(&["patch", "drill", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    // Gone at once or soon after (`kubectl wait` prints nothing when it is already gone).
    sb.kubectl_ok(&["wait", "--for=delete", "crd/drills.lab.example.com", "--timeout=20s"]);
    let gone = failed_with(&sb.kubectl(&["get", "crd", "drills.lab.example.com"]), 1);
    assert!(gone.starts_with("Error from server (NotFound)"), "{gone}");
    let listed = sb.kubectl_ok(&["api-resources", "--api-group=lab.example.com"]);
    assert!(!listed.contains("drills"), "{listed}");
}

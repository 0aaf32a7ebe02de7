//! The starting content of the learner's repositories, as data files under `templates/`.
//!
//! Each repository the lab keeps is created from its template the first time it is used: one
//! commit holding these files. The files themselves are plain text in `templates/<repo>/`, so an
//! instructor reads and changes them without reading Rust.

/// One file of a template: its path in the repository and its content.
pub type TemplateFile = (&'static str, &'static str);

/// The config repository: the sample app's desired state (Namespace, Deployment, Service).
const CONFIG: &[TemplateFile] = &[
    ("README.md", include_str!("templates/config/README.md")),
    ("namespace.yaml", include_str!("templates/config/namespace.yaml")),
    ("deployment.yaml", include_str!("templates/config/deployment.yaml")),
    ("service.yaml", include_str!("templates/config/service.yaml")),
];

/// The sample-app repository: a tiny program, its Dockerfile and its version.
const SAMPLE_APP: &[TemplateFile] = &[
    ("README.md", include_str!("templates/sample-app/README.md")),
    ("main.go", include_str!("templates/sample-app/main.go")),
    ("go.mod", include_str!("templates/sample-app/go.mod")),
    ("Dockerfile", include_str!("templates/sample-app/Dockerfile")),
    ("VERSION", include_str!("templates/sample-app/VERSION")),
    ("CHANGELOG.md", include_str!("templates/sample-app/CHANGELOG.md")),
];

/// The name of the config repository.
pub const CONFIG_REPO: &str = "config";
/// The name of the sample-app repository.
pub const SAMPLE_APP_REPO: &str = "sample-app";
/// The config repository's Deployment manifest, the file the CI bump patches.
pub const DEPLOYMENT_FILE: &str = "deployment.yaml";
/// The image repository of the sample app (the tag is the version).
pub const SAMPLE_APP_IMAGE: &str = "gitops-lab/sample-app";

/// The repositories the lab keeps, in the order the UI lists them.
pub const NAMES: &[&str] = &[CONFIG_REPO, SAMPLE_APP_REPO];

/// The files a repository starts with, or `None` for a name the lab does not know.
pub fn files(name: &str) -> Option<&'static [TemplateFile]> {
    match name {
        CONFIG_REPO => Some(CONFIG),
        SAMPLE_APP_REPO => Some(SAMPLE_APP),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_repository_has_a_template_and_its_manifests_parse() {
        for name in NAMES {
            let files = files(name).expect("a template");
            for (path, text) in files {
                if path.ends_with(".yaml") {
                    let manifests = crate::kubectl::parse(path, text).expect("the template's manifest parses");
                    assert_eq!(manifests.len(), 1, "{path}");
                }
            }
        }
    }

    #[test]
    fn the_deployment_runs_the_sample_app_image() {
        let text = files(CONFIG_REPO).unwrap().iter().find(|(p, _)| *p == DEPLOYMENT_FILE).unwrap().1;
        let manifest = &crate::kubectl::parse(DEPLOYMENT_FILE, text).unwrap()[0];
        let image = manifest.object.pointer("/spec/template/spec/containers/0/image").unwrap();
        assert!(image.as_str().unwrap().starts_with(&format!("{SAMPLE_APP_IMAGE}:")));
    }
}

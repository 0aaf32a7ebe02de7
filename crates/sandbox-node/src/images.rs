//! The simulated images: image references, and the behaviour table in `data/images.yaml`.

use gitops_sandbox_core::digest;
use gitops_sandbox_shell::vfs::Volume;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What a container of an image does when it runs its main program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    /// nginx serving `/usr/share/nginx/html`.
    Nginx,
    /// An HTTP server answering with the image's tag.
    HttpTag,
    /// The sandbox's shell runs the container's command.
    Shell,
    /// A cluster component (CoreDNS, etcd, the control plane): answers its health endpoints.
    Daemon,
}

/// A fixed answer of a daemon: `GET path` on `port` (the query ignored) returns `body` with 200.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    /// The port it is served on.
    pub port: u16,
    /// The path, without a query.
    pub path: String,
    /// The body (`{version}`, `{tag}` and `{ts}` are filled in).
    pub body: String,
}

/// A set of files and programs several images share (their Linux distribution).
#[derive(Debug, Clone, Deserialize)]
pub struct Base {
    /// The distribution's name.
    pub os: String,
    /// Files of the root filesystem, by absolute path.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Programs present in `/bin`.
    #[serde(default)]
    pub bin: Vec<String>,
}

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Repository names (without registry or `library/`) this row matches.
    pub repositories: Vec<String>,
    /// The registry they come from; `None`: Docker Hub.
    #[serde(default)]
    pub registry: Option<String>,
    /// What its main program does.
    pub behaviour: Behaviour,
    /// The name of the [`Base`] it builds on.
    pub base: String,
    /// The program's version shown for tags that are not versions (nginx's `Server:` header).
    #[serde(default)]
    pub version: Option<String>,
    /// The image size the Pulled event reports.
    #[serde(default)]
    pub size: u64,
    /// The image's ENTRYPOINT.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// The image's CMD.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// argv[0] values that start the behaviour (others go to the shell); empty: always the behaviour.
    #[serde(default)]
    pub programs: Vec<String>,
    /// What `ps -ef` shows for the behaviour's processes (the first is PID 1).
    #[serde(default)]
    pub processes: Vec<String>,
    /// Ports the behaviour listens on (besides those of `answers`).
    #[serde(default)]
    pub ports: Vec<u16>,
    /// A daemon's fixed answers (health and metrics endpoints).
    #[serde(default)]
    pub answers: Vec<Answer>,
    /// Ports that speak HTTPS (an HTTPS probe passes only there; a plain one gets a 400).
    #[serde(default)]
    pub tls_ports: Vec<u16>,
    /// The image's environment (`{version}` and `{tag}` are filled in).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The image's WORKDIR.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Lines the behaviour logs when it starts.
    #[serde(default)]
    pub start_log: Vec<String>,
    /// Extra shell commands (`git`, `kubectl`).
    #[serde(default)]
    pub tools: Vec<String>,
    /// Files of its root filesystem beyond the base's.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The CPU a running container of the image uses, as a quantity (`5m`): what the
    /// HorizontalPodAutoscaler measures unless an annotation overrides it.
    #[serde(default)]
    pub cpu: Option<String>,
}

/// What an image the sandbox cannot simulate does.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unknown {
    /// Its exit code.
    pub exit_code: i32,
    /// Its log lines (`{image}` and `{supported}` are filled in).
    pub log: Vec<String>,
}

/// The whole table.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageTable {
    /// Shared distributions.
    pub bases: BTreeMap<String, Base>,
    /// The simulated images.
    pub images: Vec<ImageSpec>,
    /// Behaviour of every other image.
    pub unknown: Unknown,
    /// MIME types by extension, for nginx.
    pub mime: BTreeMap<String, String>,
    /// How long pulls, starts and stops take at the realistic pace.
    pub pace: crate::pace::Timings,
    /// Image references present on the node from the start (minikube's preload).
    #[serde(default)]
    pub preloaded: Vec<String>,
}

/// A parsed image reference, normalised as containerd does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host (`docker.io` when none is given).
    pub domain: String,
    /// The repository path without the registry (`library/` dropped for Docker Hub).
    pub repository: String,
    /// The tag (`latest` when neither tag nor digest is given).
    pub tag: String,
    /// A `sha256:…` digest if given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `[domain/]path[:tag][@digest]`; `None` when it is not a valid reference.
    pub fn parse(text: &str) -> Option<Self> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (text, None),
        };
        if let Some(d) = &digest {
            let hex = d.strip_prefix("sha256:")?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                return None;
            }
        }
        // A colon after the last slash starts the tag; one before it belongs to a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let valid = !tag.is_empty() && tag.len() <= 128 && !tag.starts_with(['.', '-']);
            if !valid || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                return None;
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let first = parts[0];
        let domain = if parts.len() > 1 && (first.contains(['.', ':']) || first == "localhost") {
            parts.remove(0).to_string()
        } else {
            "docker.io".to_string()
        };
        if !parts.iter().all(|p| path_component(p)) {
            return None;
        }
        let mut repository = parts.join("/");
        if domain == "docker.io" && parts.len() == 1 {
            repository = format!("library/{repository}");
        }
        Some(Self { domain, repository, tag: tag.unwrap_or("latest").to_string(), digest })
    }

    /// The repository as the table names it (`nginx`, `docker/whalesay`).
    pub fn short_repository(&self) -> &str {
        self.repository.strip_prefix("library/").unwrap_or(&self.repository)
    }

    /// The full reference containerd reports as a container's `image`.
    pub fn full(&self) -> String {
        format!("{}/{}:{}", self.domain, self.repository, self.tag)
    }

    /// The `imageID` (repository digest), stable for a reference.
    pub fn image_id(&self) -> String {
        let digest = match &self.digest {
            Some(d) => d.clone(),
            None => format!("sha256:{}", hex_digest(&self.full())),
        };
        format!("{}/{}@{digest}", self.domain, self.repository)
    }
}

/// A lowercase path component: alphanumerics separated by `.`, `_`, `__` or dashes.
fn path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.first().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.last().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

/// 64 hex characters derived from `text` (stable, not cryptographic: IDs only need to look right).
pub fn hex_digest(text: &str) -> String {
    (0..4u64)
        .map(|round| {
            let basis = digest::OFFSET_64 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let h = digest::fnv1a_64_from(basis, text.as_bytes());
            format!("{h:016x}")
        })
        .collect()
}

/// The table, parsed once.
pub fn table() -> &'static ImageTable {
    static TABLE: OnceLock<ImageTable> = OnceLock::new();
    // The table is compiled in; the unit tests parse it, so a broken file never ships.
    TABLE
        .get_or_init(|| serde_norway::from_str(include_str!("data/images.yaml")).expect("node/data/images.yaml parses"))
}

/// The CPU (millicores) a running container of `image` uses by the table; `None` for an image
/// the node does not simulate. Handed to the autoscaler by the composition root.
pub fn cpu_millicores(image: &str) -> Option<i64> {
    match table().resolve(image) {
        Resolved::Known(spec, _) => {
            spec.cpu.as_deref().and_then(gitops_sandbox_controllers::autoscaler_math::millicores)
        }
        _ => None,
    }
}

/// What the node makes of a container's image.
#[derive(Debug, Clone)]
pub enum Resolved<'a> {
    /// A simulated image.
    Known(&'a ImageSpec, ImageRef),
    /// A valid reference to an image the sandbox does not simulate.
    Unknown(ImageRef),
    /// Not a valid reference: the pull fails.
    Invalid,
}

impl ImageTable {
    /// Finds the row for an image reference.
    pub fn resolve(&self, image: &str) -> Resolved<'_> {
        let Some(reference) = ImageRef::parse(image) else { return Resolved::Invalid };
        let short = reference.short_repository();
        let from = |spec: &ImageSpec| spec.registry.as_deref().unwrap_or("docker.io") == reference.domain;
        match self.images.iter().find(|spec| from(spec) && spec.repositories.iter().any(|r| r == short)) {
            Some(spec) => Resolved::Known(spec, reference),
            None => Resolved::Unknown(reference),
        }
    }

    /// Whether `image` is a simulated image without a shell (distroless): an exec there finds only
    /// the files the image has.
    pub fn shell_less(&self, image: &str) -> bool {
        match self.resolve(image) {
            Resolved::Known(spec, _) => self.bases.get(&spec.base).is_some_and(|b| !b.bin.iter().any(|p| p == "sh")),
            _ => false,
        }
    }

    /// Every repository simulated, for messages.
    pub fn supported(&self) -> String {
        self.images.iter().flat_map(|s| s.repositories.iter().map(String::as_str)).collect::<Vec<_>>().join(", ")
    }

    /// The log lines of an unknown image.
    pub fn unknown_log(&self, image: &str) -> Vec<String> {
        let supported = self.supported();
        self.unknown.log.iter().map(|l| l.replace("{image}", image).replace("{supported}", &supported)).collect()
    }

    /// The MIME type for a file name.
    pub fn mime_type(&self, path: &str) -> &str {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        self.mime.get(&ext).map_or("application/octet-stream", String::as_str)
    }
}

impl ImageSpec {
    /// The program version for a tag: the tag itself when it looks like a version.
    pub fn version_for(&self, tag: &str) -> String {
        let looks_like_version = tag.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        match &self.version {
            Some(default) if !looks_like_version => default.clone(),
            _ => tag.to_string(),
        }
    }

    /// Fills `{version}` and `{tag}`.
    pub fn fill(&self, text: &str, tag: &str) -> String {
        text.replace("{version}", &self.version_for(tag)).replace("{tag}", tag)
    }

    /// Fills a log line or answer written at `now`: `{version}`, `{tag}`, `{ts}` (RFC 3339 with
    /// microseconds, as etcd logs) and `{klog}` (the head of a klog line, as Kubernetes' own
    /// components write: severity, date, time, thread id).
    pub fn fill_at(&self, text: &str, tag: &str, now: jiff::Timestamp) -> String {
        let mut out = self.fill(text, tag);
        if out.contains("{ts}") {
            out = out.replace("{ts}", &gitops_sandbox_core::time::micro_rfc3339(now));
        }
        if out.contains("{klog}") {
            let head = format!("I{}.{:06}       1", now.strftime("%m%d %H:%M:%S"), now.subsec_microsecond());
            out = out.replace("{klog}", &head);
        }
        out
    }

    /// Every port the behaviour listens on: `ports` and those of its answers, once each.
    pub fn listening_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.ports.iter().copied().chain(self.answers.iter().map(|a| a.port)).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The argv a container runs: `command` replaces the entrypoint, `args` the cmd (as upstream:
    /// a command without args drops the image's cmd).
    pub fn argv(&self, command: &[String], args: &[String]) -> Vec<String> {
        let (entry, rest) = match (command.is_empty(), args.is_empty()) {
            (false, false) => (command.to_vec(), args.to_vec()),
            (false, true) => (command.to_vec(), Vec::new()),
            (true, false) => (self.entrypoint.clone(), args.to_vec()),
            (true, true) => (self.entrypoint.clone(), self.cmd.clone()),
        };
        entry.into_iter().chain(rest).collect()
    }

    /// Whether argv starts this image's behaviour rather than the shell.
    pub fn starts_behaviour(&self, argv: &[String]) -> bool {
        self.behaviour == Behaviour::Shell
            || self.programs.is_empty()
            || argv.first().is_some_and(|p| self.programs.contains(p))
    }

    /// The image's extra tools and the network commands among its base's programs.
    pub fn all_tools(&self, table: &ImageTable) -> Vec<String> {
        let base = table.bases.get(&self.base).map(|b| b.bin.as_slice()).unwrap_or(&[]);
        let net = base.iter().filter(|p| ["wget", "curl", "nslookup"].contains(&p.as_str()));
        self.tools.iter().chain(net).cloned().collect()
    }

    /// A fresh root filesystem for a container of this image.
    pub fn root(&self, table: &ImageTable, tag: &str) -> Volume {
        let base = table.bases.get(&self.base);
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for program in base.iter().flat_map(|b| b.bin.iter()) {
            files.insert(format!("bin/{program}"), Vec::new());
        }
        for (path, text) in base.iter().flat_map(|b| b.files.iter()).chain(self.files.iter()) {
            files.insert(path.trim_start_matches('/').to_string(), self.fill(text, tag).into_bytes());
        }
        for dir in ["tmp", "root", "var/log", "proc"] {
            files.entry(format!("{dir}/.keep")).or_default();
        }
        Volume::with_files(files.iter().map(|(p, b)| (p.as_str(), b.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_every_row_names_a_known_base() {
        let t = table();
        for spec in &t.images {
            assert!(t.bases.contains_key(&spec.base), "{:?}", spec.repositories);
        }
        assert!(t.supported().contains("docker/whalesay"));
    }

    #[test]
    fn references_are_normalised_like_containerd() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.full(), "docker.io/library/nginx:latest");
        let r = ImageRef::parse("docker/whalesay:latest").unwrap();
        assert_eq!((r.short_repository(), r.tag.as_str()), ("docker/whalesay", "latest"));
        let r = ImageRef::parse("localhost:5000/team/app:v2").unwrap();
        assert_eq!((r.domain.as_str(), r.repository.as_str(), r.tag.as_str()), ("localhost:5000", "team/app", "v2"));
        assert!(
            ImageRef::parse("docker.io/library/nginx:1.7.9")
                .unwrap()
                .image_id()
                .starts_with("docker.io/library/nginx@sha256:")
        );
    }

    #[test]
    fn invalid_references_are_rejected() {
        for bad in ["Nginx", "nginx:", "nginx::1", "ngi nx", "", "nginx@sha256:abc", "-x/y"] {
            assert!(ImageRef::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_images_cpu_comes_from_the_table() {
        assert_eq!(cpu_millicores("nginx:1.27"), Some(3));
        assert_eq!(cpu_millicores("busybox"), Some(1));
        assert_eq!(cpu_millicores("example.com/app"), None, "not simulated");
    }

    #[test]
    fn lookup_by_repository_ignores_the_tag() {
        let t = table();
        let cases = [
            ("nginx:1.11", Some(Behaviour::Nginx)),
            ("nginx:1.7.9", Some(Behaviour::Nginx)),
            ("docker.io/library/nginx:latest", Some(Behaviour::Nginx)),
            ("docker/whalesay", Some(Behaviour::Shell)),
            ("busybox:1.36", Some(Behaviour::Shell)),
            ("gitopsbook/sample-app:v0.2", Some(Behaviour::HttpTag)),
            ("gitopsbook/example-operator:v1.0", Some(Behaviour::Shell)),
            ("redis:7", None),
            ("quay.io/nginx", None),
            ("registry.k8s.io/coredns/coredns:v1.11.3", Some(Behaviour::Daemon)),
            ("registry.k8s.io/etcd:3.5.16-0", Some(Behaviour::Daemon)),
            ("gcr.io/k8s-minikube/storage-provisioner:v5", Some(Behaviour::Daemon)),
            ("etcd:3.5", None),
            ("example.com/kube-apiserver:v1.32.4", None),
        ];
        for (image, want) in cases {
            let got = match t.resolve(image) {
                Resolved::Known(spec, _) => Some(spec.behaviour),
                Resolved::Unknown(_) => None,
                Resolved::Invalid => panic!("{image} should parse"),
            };
            assert_eq!(got, want, "{image}");
        }
        assert!(matches!(t.resolve("Bad Image"), Resolved::Invalid));
    }

    #[test]
    fn command_and_args_override_entrypoint_and_cmd_as_upstream() {
        let Resolved::Known(nginx, _) = table().resolve("nginx") else { panic!() };
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(nginx.argv(&[], &[]), s(&["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]));
        assert_eq!(nginx.argv(&s(&["sh"]), &[]), s(&["sh"]));
        assert_eq!(nginx.argv(&[], &s(&["nginx-debug"])), s(&["/docker-entrypoint.sh", "nginx-debug"]));
        assert!(nginx.starts_behaviour(&nginx.argv(&[], &[])));
        assert!(!nginx.starts_behaviour(&s(&["sh", "-c", "ls"])));
    }

    #[test]
    fn versions_come_from_numeric_tags_else_from_the_table() {
        let Resolved::Known(nginx, _) = table().resolve("nginx") else { panic!() };
        assert_eq!(nginx.version_for("1.7.9"), "1.7.9");
        assert_eq!(nginx.version_for("latest"), "1.27.3");
        assert_eq!(nginx.fill("{version}", "alpine"), "1.27.3");
    }

    #[test]
    fn an_image_root_has_its_files_and_programs() {
        let t = table();
        let Resolved::Known(nginx, r) = t.resolve("nginx:1.11") else { panic!() };
        let fs = gitops_sandbox_shell::vfs::Filesystem::new(nginx.root(t, &r.tag));
        assert!(
            String::from_utf8(fs.read("/usr/share/nginx/html/index.html").unwrap())
                .unwrap()
                .contains("Welcome to nginx!")
        );
        assert!(String::from_utf8(fs.read("/etc/os-release").unwrap()).unwrap().contains("bookworm"));
        assert_eq!(fs.is_dir("/bin"), Some(true));
        assert_eq!(t.mime_type("/a/b.HTML"), "text/html");
        assert_eq!(t.mime_type("/a/b"), "application/octet-stream");
    }

    #[test]
    fn daemons_listen_on_their_answers_ports_and_fill_times() {
        let Resolved::Known(etcd, r) = table().resolve("registry.k8s.io/etcd:3.5.16-0") else { panic!() };
        assert_eq!(etcd.listening_ports(), vec![2379, 2380, 2381]);
        let at: jiff::Timestamp = "2026-12-04T14:09:28.123456Z".parse().unwrap();
        assert_eq!(etcd.fill_at("{ts} {tag}", &r.tag, at), "2026-12-04T14:09:28.123456Z 3.5.16-0");
        assert_eq!(etcd.fill_at("{klog} x.go:1] hi", "t", at), "I1204 14:09:28.123456       1 x.go:1] hi");
        let Resolved::Known(apiserver, _) = table().resolve("registry.k8s.io/kube-apiserver:v1.32.4") else { panic!() };
        assert_eq!(apiserver.tls_ports, vec![8443]);
        assert!(table().shell_less("registry.k8s.io/kube-apiserver:v1.32.4") && !table().shell_less("nginx"));
        for image in &table().preloaded {
            assert!(matches!(table().resolve(image), Resolved::Known(..)), "{image} is preloaded but not simulated");
        }
        for spec in &table().images {
            for port in &spec.tls_ports {
                assert!(
                    spec.listening_ports().contains(port),
                    "{:?} speaks TLS on a port it does not open",
                    spec.repositories
                );
            }
        }
    }

    #[test]
    fn unknown_images_explain_what_is_simulated() {
        let log = table().unknown_log("redis:7").join("\n");
        assert!(log.contains("\"redis:7\"") && log.contains("nginx") && log.contains("minikube"), "{log}");
    }
}

//! The sandbox's shared handle: the store, the admin token, and the object operations every
//! entry point (HTTP handlers, bootstrap, later the controllers) goes through.

use crate::admission;
use crate::errors::{ApiError, ApiResult};
use crate::fields::{
    self,
    managed::{Operation, Writer},
};
use crate::lifecycle::{self, FieldValidation, UpdateScope};
use crate::object;
use crate::pki::Certificates;
use crate::registry::builtin_type;
use crate::registry::{CreateStep, DeletionStyle, Registry, ResourceType};
use crate::service_ip;
use crate::store::{Change, DiskError, ObjectKey, Store, StoreError};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The objects every new sandbox starts with.
const BOOTSTRAP_YAML: &str = include_str!("data/bootstrap.yaml");

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The data directory or a file in it could not be used.
    #[error("cannot use the sandbox data directory {path}: {source}")]
    DataDir {
        /// The path involved.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The object store could not be opened.
    #[error(transparent)]
    Store(#[from] DiskError),
    /// The certificates could not be made or loaded.
    #[error(transparent)]
    Certificates(#[from] crate::pki::PkiError),
    /// A built-in object could not be created.
    #[error("cannot create the built-in object {name}: {message}")]
    Bootstrap {
        /// The object.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run every check, store nothing.
    pub dry_run: bool,
    /// What to do with unknown fields.
    pub field_validation: FieldValidation,
    /// The field manager recorded in `managedFields`; `None` for the cluster's own writers
    /// (named by [`fields::default_manager`]).
    pub manager: Option<String>,
    /// A subresource written through the main object (`scale`), recorded in `managedFields`;
    /// status writes are recognised by their scope.
    pub subresource: Option<String>,
    /// A server-side apply: the object comes with the `managedFields` the apply computed.
    pub apply: bool,
}

impl WriteOptions {
    /// Who writes, for `managedFields`.
    fn writer<'a>(&'a self, rt: &ResourceType, api_version: &'a str, scope: UpdateScope, time: &'a str) -> Writer<'a> {
        let status = scope == UpdateScope::Status;
        let manager = match &self.manager {
            Some(name) => name.as_str(),
            None => fields::default_manager(&rt.kind, status),
        };
        let subresource = match (&self.subresource, status) {
            (_, true) => "status",
            (Some(sub), false) => sub.as_str(),
            (None, false) => "",
        };
        let operation = if self.apply { Operation::Apply } else { Operation::Update };
        Writer { manager, operation, api_version, subresource, time }
    }
}

/// Options of a delete (`DeleteOptions`).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// Delete only if the object still has this uid.
    pub uid: Option<String>,
    /// Delete only if the object still has this resourceVersion.
    pub resource_version: Option<String>,
    /// What happens to the object's dependents (`propagationPolicy`).
    pub propagation: Propagation,
    /// `gracePeriodSeconds`: replaces a pod's `terminationGracePeriodSeconds`; 0 (`kubectl delete
    /// --grace-period=0 --force`) removes it at once.
    pub grace_period: Option<i64>,
}

/// A delete's `propagationPolicy`: how the garbage collector treats the object's dependents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Delete the object now; the garbage collector deletes its dependents afterwards.
    #[default]
    Background,
    /// Keep the object (finalizer `foregroundDeletion`) until its blocking dependents are gone.
    Foreground,
    /// Keep the object (finalizer `orphan`) until its dependents no longer point at it.
    Orphan,
}

impl Propagation {
    /// Parses the API value; empty means the default (Background).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            "Orphan" => Some(Self::Orphan),
            _ => None,
        }
    }

    /// The finalizer that holds the object while the garbage collector works, if any.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Self::Background => None,
            Self::Foreground => Some("foregroundDeletion"),
            Self::Orphan => Some("orphan"),
        }
    }
}

/// The result of a successful write.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The object as stored (or as it would be, for a dry run).
    pub object: Arc<Value>,
    /// `object`'s JSON as the store wrote it, when the write stored it: a JSON reply can be
    /// these bytes instead of a second encoding. Whoever changes `object` must clear it.
    pub json: Option<bytes::Bytes>,
    /// Warnings for the client (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
}

/// The running sandbox's state, shared through `Arc`.
pub struct Sandbox {
    store: Store,
    /// The served types: the built-in ones and the custom resources of the stored definitions.
    custom: crate::custom::CustomState,
    admin_token: String,
    signing_key: crate::auth::SigningKey,
    certificates: Certificates,
    data_dir: PathBuf,
    /// At most this many objects (events aside), from `DATA_DIR/max-objects`; 0: no limit.
    max_objects: std::sync::atomic::AtomicUsize,
}

impl Sandbox {
    /// Opens (or initialises) a sandbox in `data_dir`: its store, admin token and built-in objects.
    pub fn open(data_dir: &Path) -> Result<Self, SandboxError> {
        let io = |source| SandboxError::DataDir { path: data_dir.display().to_string(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let admin_token = read_or_create_token(&data_dir.join("admin-token")).map_err(io)?;
        let signing_key = crate::auth::SigningKey::load_or_create(&data_dir.join("service-account-key")).map_err(io)?;
        let certificates = Certificates::load_or_create(&data_dir.join("pki"))?;
        let store = Store::open(&data_dir.join("objects.redb"))?;
        let sandbox = Self {
            store,
            custom: crate::custom::CustomState::default(),
            admin_token,
            signing_key,
            certificates,
            data_dir: data_dir.to_path_buf(),
            max_objects: std::sync::atomic::AtomicUsize::new(admission::read_max_objects(data_dir)),
        };
        sandbox.bootstrap()?;
        sandbox.refresh_custom_types();
        Ok(sandbox)
    }

    fn bootstrap(&self) -> Result<(), SandboxError> {
        let objects: Vec<Value> = serde_norway::from_str(BOOTSTRAP_YAML)
            .map_err(|e| SandboxError::Bootstrap { name: "data/bootstrap.yaml".into(), message: e.to_string() })?;
        let ca_pem = &self.certificates.ca_pem;
        let ca_base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ca_pem);
        for mut object in objects {
            // ConfigMaps that carry this sandbox's CA (cluster-info, extension-apiserver-authentication).
            if let Some(data) = object["data"].as_object_mut() {
                for value in data.values_mut() {
                    if let Some(text) = value.as_str().filter(|t| t.contains("{ca.crt")) {
                        *value = json!(text.replace("{ca.crt.base64}", &ca_base64).replace("{ca.crt}", ca_pem));
                    }
                }
            }
            self.create_if_missing(object)?;
        }
        // Queued and committed together: a first start creates over a hundred defaults, and fifty
        // workshop sandboxes starting at once paid a disk flush for each.
        let reconciled = self.store.detached(|| self.reconcile_default_rbac());
        self.store
            .flush()
            .map_err(|e| SandboxError::Bootstrap { name: "data/bootstrap-rbac.yaml".into(), message: e.to_string() })?;
        reconciled?;
        // admin, edit and view are aggregated: filled now, before anyone is authorised by them.
        crate::auth::aggregation::reconcile_all(self)
            .map_err(|e| SandboxError::Bootstrap { name: "aggregated ClusterRoles".into(), message: e.message })
    }

    fn create_if_missing(&self, object: Value) -> Result<(), SandboxError> {
        let (rt, namespace, name) = bootstrap_target(&object)?;
        if self.get(rt, namespace.as_deref(), &name).is_none() {
            self.create(rt, namespace.as_deref(), object, WriteOptions::default())
                .map_err(|e| SandboxError::Bootstrap { name, message: e.message })?;
        }
        Ok(())
    }

    /// Creates those of `objects` that do not exist (by kind, namespace and name), committed in
    /// one flush; the cluster's add-ons at every start. Existing ones are left as they are.
    pub fn create_missing(&self, objects: Vec<Value>) -> Result<(), SandboxError> {
        let created = self.store.detached(|| objects.into_iter().try_for_each(|object| self.create_if_missing(object)));
        self.store.flush().map_err(|e| SandboxError::Bootstrap { name: "add-ons".into(), message: e.to_string() })?;
        created
    }

    /// Creates the default RBAC objects a sandbox lacks and completes the rest (see
    /// `auth::bootstrap_rbac`), at every start.
    fn reconcile_default_rbac(&self) -> Result<(), SandboxError> {
        let file = "data/bootstrap-rbac.yaml";
        let objects = crate::auth::bootstrap_rbac::objects()
            .map_err(|message| SandboxError::Bootstrap { name: file.into(), message })?;
        for wanted in objects {
            let (rt, namespace, name) = bootstrap_target(&wanted)?;
            let failed = |message: String| SandboxError::Bootstrap { name: name.clone(), message };
            let written = match self.get(rt, namespace.as_deref(), &name) {
                None => self.create(rt, namespace.as_deref(), wanted, WriteOptions::default()).map(drop),
                Some(current) => match crate::auth::bootstrap_rbac::reconcile(&current, &wanted) {
                    Some(updated) => self
                        .update(rt, namespace.as_deref(), &name, updated, UpdateScope::Main, WriteOptions::default())
                        .map(drop),
                    None => Ok(()),
                },
            };
            written.map_err(|e| failed(e.message))?;
        }
        Ok(())
    }

    /// The object store (reads and watch subscriptions).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The served types.
    pub fn registry(&self) -> &'static Registry {
        self.custom.registry()
    }

    /// The served custom resources' state (see `custom::serve`).
    pub(crate) fn custom_state(&self) -> &crate::custom::CustomState {
        &self.custom
    }

    /// The object limit (0: none); see `admission::check_object_count`.
    pub fn max_objects(&self) -> usize {
        self.max_objects.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the object limit (0: none) and keeps it in `DATA_DIR/max-objects` for the next start.
    pub fn set_max_objects(&self, max: usize) -> std::io::Result<()> {
        let path = self.data_dir.join(admission::MAX_OBJECTS_FILE);
        if max == 0 {
            std::fs::remove_file(&path)
                .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
        } else {
            std::fs::write(&path, format!("{max}\n"))?;
        }
        self.max_objects.store(max, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// How many objects count towards the limit now (one pass over every type's index).
    fn count_objects(&self) -> usize {
        // A resource served in several versions is one set of objects: count each id once.
        let mut seen = std::collections::HashSet::new();
        let counted = self.registry().types().iter().filter(|rt| admission::counts_towards_limit(rt));
        counted
            .filter(|rt| seen.insert(rt.id()))
            // What the cluster brings itself (the default RBAC alone is over a hundred objects) is
            // not the learner's.
            .map(|rt| self.store.list(&rt.id(), None, None, 0, admission::counts_object).0.items.len())
            .sum()
    }

    /// The bearer token of the cluster-admin user written into the kubeconfig.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The key that signs and verifies ServiceAccount tokens.
    pub fn signing_key(&self) -> &crate::auth::SigningKey {
        &self.signing_key
    }

    /// The CA and serving certificate.
    pub fn certificates(&self) -> &Certificates {
        &self.certificates
    }

    /// Where this sandbox keeps its files.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The storage key of an object of this type.
    pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> ObjectKey {
        let namespace = if rt.namespaced { namespace.unwrap_or_default() } else { "" };
        ObjectKey { resource: rt.id(), namespace: namespace.to_string(), name: name.to_string() }
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Option<Arc<Value>> {
        self.store.get(&Self::key(rt, namespace, name))
    }

    /// Creates an object in `namespace` (ignored for cluster-scoped kinds).
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut obj: Value,
        opts: WriteOptions,
    ) -> ApiResult<Outcome> {
        check_type(rt, &mut obj)?;
        if rt.custom.is_some() {
            self.refuse_if_definition_terminating(rt)?;
        }
        lifecycle::drop_nulls(&mut obj);
        let namespace = self.place_in_namespace(rt, namespace, &mut obj)?;
        if obj["metadata"]["name"].as_str().is_none_or(str::is_empty)
            && let Some(prefix) = obj["metadata"]["generateName"].as_str()
        {
            obj["metadata"]["name"] = json!(format!("{prefix}{}", crate::names::random_suffix()));
        }
        let mut warnings = Vec::new();
        lifecycle::check_fields(rt, &mut obj, opts.field_validation, &mut warnings)?;
        let uid = uuid::Uuid::new_v4().to_string();
        let sent = if opts.apply { obj.clone() } else { Value::Null };
        if rt.create_steps.contains(&CreateStep::ResolvePriority) {
            let classes = builtin_type("scheduling.k8s.io", "priorityclasses").id();
            admission::priority::resolve(&mut obj, &self.store.list(&classes, None, None, 0, |_| true).0.items)?;
        }
        let now = crate::time::now_rfc3339();
        let mut obj = lifecycle::prepare_create(rt, obj, &now, uid)?;
        let max = self.max_objects();
        // What does not count is not refused either: a restart recreates a missing default past a full quota.
        if max > 0 && admission::counts_towards_limit(rt) && admission::counts_object(&obj) {
            admission::check_object_count(rt, object::name(&obj), self.count_objects(), max)?;
        }
        let api_version = rt.api_version();
        let writer = opts.writer(rt, &api_version, UpdateScope::Main, &now);
        fields::on_create(rt, &sent, &mut obj, &writer);
        crate::custom::to_storage_version(rt, &mut obj);
        let name = object::name(&obj).to_string();
        let key = Self::key(rt, namespace.as_deref(), &name);
        let allocates = rt.create_steps.contains(&CreateStep::AllocateAddresses);
        let decide = |current: Option<&Arc<Value>>| match current {
            Some(_) => Err(ApiError::already_exists(rt, &name)),
            None => {
                // Settled first (no queued write of this type), so two new services never get the
                // same address.
                if allocates {
                    let (services, _) = self.store.list(&rt.id(), None, None, 0, |_| true);
                    service_ip::allocate(&mut obj, &services.items);
                }
                Ok(Change::Put(obj))
            }
        };
        let written = if allocates {
            self.store.write_settled(&key, opts.dry_run, decide)
        } else {
            self.store.write(&key, opts.dry_run, decide)
        }
        .map_err(store_error)?;
        Ok(Outcome { object: written.object, json: written.json, warnings })
    }

    /// Replaces an object (PUT), honouring a resourceVersion in the body as a precondition.
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        mut obj: Value,
        scope: UpdateScope,
        opts: WriteOptions,
    ) -> ApiResult<Outcome> {
        check_type(rt, &mut obj)?;
        lifecycle::drop_nulls(&mut obj);
        match obj["metadata"]["name"].as_str() {
            Some(n) if n == name => {}
            None | Some("") => obj["metadata"]["name"] = json!(name),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({other}) does not match the name on the URL ({name})"
                )));
            }
        }
        self.place_in_namespace(rt, namespace, &mut obj)?;
        self.modify(rt, namespace, name, scope, opts, |_| Ok(obj))
    }

    /// Changes an object with `change(current)` (used by PUT and the controllers); a
    /// resourceVersion in the result must equal the stored one, so stale writers get 409 Conflict.
    pub fn modify(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        scope: UpdateScope,
        opts: WriteOptions,
        change: impl FnOnce(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Outcome> {
        let key = Self::key(rt, namespace, name);
        let mut warnings = Vec::new();
        let (api_version, now) = (rt.api_version(), crate::time::now_rfc3339());
        let writer = opts.writer(rt, &api_version, scope, &now);
        let written = self
            .store
            .write(&key, opts.dry_run, |current| {
                decide_change(rt, name, scope, &opts, &writer, current, change, &mut warnings)
            })
            .map_err(store_error)?;
        Ok(Outcome { object: written.object, json: written.json, warnings })
    }

    /// [`Sandbox::modify`] for a `change` that depends on the current object alone (a PATCH):
    /// the change and the checks after it run outside the store's decision lock and are taken if
    /// the object did not change meanwhile, else made again (see [`Store::write_speculative`]).
    pub fn modify_speculative(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        scope: UpdateScope,
        opts: WriteOptions,
        mut change: impl FnMut(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Outcome> {
        let key = Self::key(rt, namespace, name);
        let mut warnings = Vec::new();
        let (api_version, now) = (rt.api_version(), crate::time::now_rfc3339());
        let writer = opts.writer(rt, &api_version, scope, &now);
        let written = self
            .store
            .write_speculative(&key, opts.dry_run, |current| {
                // A decision made again must not repeat the first one's warnings.
                warnings.clear();
                decide_change(rt, name, scope, &opts, &writer, current, &mut change, &mut warnings)
            })
            .map_err(store_error)?;
        Ok(Outcome { object: written.object, json: written.json, warnings })
    }

    /// Deletes an object at once (finalizers keep it, marked with a deletionTimestamp). A namespace
    /// only turns Terminating, and a pod on the node is marked with its grace period: their
    /// controllers (the namespace controller, the kubelet) finish the deletion with
    /// [`Sandbox::finalize`], as on a real cluster.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<Arc<Value>> {
        if rt.deletion.protected.iter().any(|p| p == name) {
            return Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: this {} may not be deleted",
                rt.qualified_plural(),
                rt.singular
            )));
        }
        if rt.deletion.style == DeletionStyle::Terminating && !opts.dry_run {
            return self.mark_terminating(rt, name, opts);
        }
        let key = Self::key(rt, namespace, name);
        let written = self
            .store
            .write(&key, opts.dry_run, |current| {
                let current = current.ok_or_else(|| ApiError::not_found(rt, name))?;
                check_preconditions(rt, name, current, opts)?;
                let finalizers = current["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
                let held_by = opts.propagation.finalizer();
                let cleanup = rt.deletion.finalizer.as_deref();
                let grace = grace_period(rt, current, opts.grace_period);
                if !finalizers && held_by.is_none() && cleanup.is_none() && grace.is_none() {
                    return Ok(Change::Delete);
                }
                if current["metadata"]["deletionTimestamp"].is_string() {
                    return Ok(shorten_grace(current, grace));
                }
                let mut marked = current.as_ref().clone();
                for finalizer in cleanup.into_iter().chain(held_by) {
                    add_finalizer(&mut marked, finalizer);
                }
                marked["metadata"]["deletionTimestamp"] = json!(crate::time::now_rfc3339());
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace.unwrap_or(0));
                Ok(Change::Put(marked))
            })
            .map_err(store_error)?;
        Ok(written.object)
    }

    /// Marks a namespace as being deleted (deletionTimestamp, phase Terminating).
    fn mark_terminating(&self, rt: &ResourceType, name: &str, opts: &DeleteOptions) -> ApiResult<Arc<Value>> {
        let written = self
            .store
            .write(&Self::key(rt, None, name), false, |current| {
                let current = current.ok_or_else(|| ApiError::not_found(rt, name))?;
                check_preconditions(rt, name, current, opts)?;
                if current["metadata"]["deletionTimestamp"].is_string() {
                    return Ok(Change::Keep);
                }
                let mut marked = current.as_ref().clone();
                marked["metadata"]["deletionTimestamp"] = json!(crate::time::now_rfc3339());
                marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                marked["status"]["phase"] = json!("Terminating");
                Ok(Change::Put(marked))
            })
            .map_err(store_error)?;
        Ok(written.object)
    }

    /// Finishes a deletion: removes an object already marked with a deletionTimestamp once no
    /// finalizer holds it (then it is kept, still marked). `uid`, if given, must still match, so a
    /// replacement with the same name is never removed. The last step of a pod's graceful deletion
    /// (the kubelet, once its containers stopped) and of a namespace's (its controller, once
    /// emptied); upstream reaches the same end with a zero grace period or the `finalize` subresource.
    /// Whether the object is gone afterwards.
    pub fn finalize(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        uid: Option<&str>,
    ) -> ApiResult<bool> {
        let written = self
            .store
            .write::<ApiError>(&Self::key(rt, namespace, name), false, |current| {
                let Some(current) = current else { return Ok(Change::Keep) };
                let meta = &current["metadata"];
                let same = uid.is_none_or(|uid| meta["uid"].as_str() == Some(uid));
                let held = meta["finalizers"].as_array().is_some_and(|f| !f.is_empty());
                Ok(if same && meta["deletionTimestamp"].is_string() && !held { Change::Delete } else { Change::Keep })
            })
            .map_err(store_error)?;
        Ok(written.object.is_null() || written.event == Some(crate::watch::EventType::Deleted))
    }

    /// As upstream, no new custom resource while its definition is being deleted (its cleanup
    /// is deleting them all).
    fn refuse_if_definition_terminating(&self, rt: &ResourceType) -> ApiResult<()> {
        let definitions = crate::custom::definitions();
        let name = format!("{}.{}", rt.plural, rt.group);
        match self.get(definitions, None, &name) {
            Some(crd) if crd["metadata"]["deletionTimestamp"].is_string() => Err(ApiError::method_not_allowed_on(
                "create not allowed while custom resource definition is terminating",
            )),
            _ => Ok(()),
        }
    }

    fn place_in_namespace(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        obj: &mut Value,
    ) -> ApiResult<Option<String>> {
        if !rt.namespaced {
            if let Some(meta) = obj["metadata"].as_object_mut() {
                meta.remove("namespace");
            }
            return Ok(None);
        }
        let namespace = namespace.unwrap_or("default");
        match obj["metadata"]["namespace"].as_str() {
            None | Some("") => obj["metadata"]["namespace"] = json!(namespace),
            Some(ns) if ns == namespace => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let namespaces = builtin_type("", "namespaces");
        match self.get(namespaces, None, namespace) {
            None => Err(ApiError::not_found(namespaces, namespace)),
            Some(ns) if ns["metadata"]["deletionTimestamp"].is_string() => Err(ApiError::forbidden(format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ))),
            Some(_) => Ok(Some(namespace.to_string())),
        }
    }
}

/// One update's decision, shared by [`Sandbox::modify`] and [`Sandbox::modify_speculative`]: a
/// custom resource is changed as the request's version shows it and stored back in its storage
/// version; then [`decide_update`].
#[allow(clippy::too_many_arguments)] // the update's inputs, as `modify` received them
fn decide_change(
    rt: &ResourceType,
    name: &str,
    scope: UpdateScope,
    opts: &WriteOptions,
    writer: &Writer<'_>,
    current: Option<&Arc<Value>>,
    change: impl FnOnce(&Value) -> ApiResult<Value>,
    warnings: &mut Vec<String>,
) -> ApiResult<Change> {
    let current = current.ok_or_else(|| ApiError::not_found(rt, name))?;
    let current = &crate::custom::in_version(rt, current.clone());
    let new = change(current)?;
    match decide_update(rt, name, scope, opts, writer, current, new, warnings)? {
        Change::Put(mut new) if rt.custom.is_some() => {
            crate::custom::to_storage_version(rt, &mut new);
            Ok(Change::Put(new))
        }
        other => Ok(other),
    }
}

/// What an update decides once `change` has made the new object: the preconditions
/// (resourceVersion, name), the fields' checks, admission and managedFields.
#[allow(clippy::too_many_arguments)] // the update's inputs, as `modify` received them
fn decide_update(
    rt: &ResourceType,
    name: &str,
    scope: UpdateScope,
    opts: &WriteOptions,
    writer: &Writer<'_>,
    current: &Arc<Value>,
    mut new: Value,
    warnings: &mut Vec<String>,
) -> ApiResult<Change> {
    check_type(rt, &mut new)?;
    let wanted = new["metadata"]["resourceVersion"].as_str().unwrap_or_default();
    // As upstream, "0" (like none) asks for an unconditional update.
    let conditional = !wanted.is_empty() && wanted != "0";
    if conditional && wanted != current["metadata"]["resourceVersion"].as_str().unwrap_or_default() {
        return Err(ApiError::stale(rt, name));
    }
    if new["metadata"]["name"].as_str() != Some(name) {
        return Err(ApiError::bad_request(format!("the name of the object cannot change from {name}")));
    }
    lifecycle::check_fields(rt, &mut new, opts.field_validation, warnings)?;
    // Taken out, not copied: `prepare_update` drops them from the new object anyway.
    let sent = new
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove("managedFields"))
        .filter(|v| !v.is_null());
    match lifecycle::prepare_update(rt, current, new, scope)? {
        // As upstream: removing the last finalizer of an object being deleted deletes it.
        Some(new) if last_finalizer_removed(current, &new) => Ok(Change::Delete),
        Some(mut new) => {
            fields::on_update(rt, current, &mut new, sent, writer);
            Ok(Change::Put(new))
        }
        // No field changed; the owners may have (an apply sharing a field, kubectl
        // moving client-side apply's fields to server-side apply).
        None => {
            let mut same = current.as_ref().clone();
            match fields::on_update(rt, current, &mut same, sent, writer) {
                true => Ok(Change::Put(same)),
                false => Ok(Change::Keep),
            }
        }
    }
}

/// A bootstrap object's served type, namespace and name; a kind the sandbox does not serve stops
/// the start (the data files are the sandbox's own).
fn bootstrap_target(object: &Value) -> Result<(&'static ResourceType, Option<String>, String), SandboxError> {
    let name = object::name(object).to_string();
    let (api_version, kind) = (object["apiVersion"].as_str().unwrap_or_default(), object["kind"].as_str());
    let rt = Registry::builtin()
        .by_kind(api_version, kind.unwrap_or_default())
        .ok_or_else(|| SandboxError::Bootstrap { name: name.clone(), message: "kind not served".into() })?;
    Ok((rt, object["metadata"]["namespace"].as_str().map(str::to_string), name))
}

fn finalizer_count(obj: &Value) -> usize {
    obj["metadata"]["finalizers"].as_array().map_or(0, Vec::len)
}

/// Whether an update takes the last finalizer off an object whose deletion is not graceful.
fn last_finalizer_removed(old: &Value, new: &Value) -> bool {
    let meta = &new["metadata"];
    finalizer_count(old) > 0
        && finalizer_count(new) == 0
        && meta["deletionTimestamp"].is_string()
        && meta["deletionGracePeriodSeconds"].as_i64().unwrap_or(0) == 0
}

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    if !obj["metadata"]["finalizers"].is_array() {
        obj["metadata"]["finalizers"] = json!([]);
    }
    if let Some(list) = obj["metadata"]["finalizers"].as_array_mut()
        && !list.iter().any(|f| f == finalizer)
    {
        list.push(json!(finalizer));
    }
}

fn check_preconditions(rt: &ResourceType, name: &str, current: &Value, opts: &DeleteOptions) -> ApiResult<()> {
    let fail = |what: &str, wanted: &str, actual: &str| {
        Err(ApiError::conflict(
            rt,
            name,
            &format!("Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}"),
        ))
    };
    let meta = &current["metadata"];
    if let Some(uid) = &opts.uid {
        let actual = meta["uid"].as_str().unwrap_or_default();
        if uid != actual {
            return fail("UID", uid, actual);
        }
    }
    if let Some(rv) = &opts.resource_version {
        let actual = meta["resourceVersion"].as_str().unwrap_or_default();
        if rv != actual {
            return fail("ResourceVersion", rv, actual);
        }
    }
    Ok(())
}

/// An object of a graceful kind bound to a node (a pod) is marked with its termination grace
/// period, then removed by the kubelet once its containers have stopped. Unbound ones go at once.
fn grace_period(rt: &ResourceType, current: &Value, requested: Option<i64>) -> Option<i64> {
    let bound = current["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    if rt.deletion.style != DeletionStyle::Graceful || !bound {
        return None;
    }
    match requested {
        Some(0) => None,
        Some(seconds) => Some(seconds),
        None => Some(current["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30)),
    }
}

/// A second delete of an object already being deleted: a shorter grace period replaces the
/// current one, as upstream's; 0 (`None`) ends the wait (the node then stops the pod at once).
fn shorten_grace(current: &Value, grace: Option<i64>) -> Change {
    let now = current["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0);
    let wanted = grace.unwrap_or(0);
    if wanted >= now {
        return Change::Keep;
    }
    let mut shortened = current.clone();
    shortened["metadata"]["deletionGracePeriodSeconds"] = json!(wanted);
    Change::Put(shortened)
}

/// Fills a missing apiVersion/kind from the path and rejects a body of another type.
fn check_type(rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON or YAML object"));
    }
    lifecycle::check_types(rt, obj)?;
    // Every kind has metadata, schema or not: later steps may rely on it being an object.
    if !(obj["metadata"].is_null() || obj["metadata"].is_object()) {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: metadata must be an object",
            rt.kind, rt.version, rt.kind
        )));
    }
    let expected = rt.api_version();
    match obj["apiVersion"].as_str() {
        None | Some("") => obj["apiVersion"] = json!(expected),
        Some(v) if v == expected => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
    }
    match obj["kind"].as_str() {
        None | Some("") => obj["kind"] = json!(rt.kind),
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({}) for this URL",
                rt.kind
            )));
        }
    }
    Ok(())
}

fn store_error(e: StoreError<ApiError>) -> ApiError {
    match e {
        StoreError::Decision(e) => e,
        StoreError::Disk(e) => ApiError::internal(e.to_string()),
    }
}

fn read_or_create_token(path: &Path) -> std::io::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let token = text.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &token)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;

    use crate::testing::sandbox;

    fn configmaps() -> &'static ResourceType {
        builtin_type("", "configmaps")
    }

    #[test]
    fn a_new_sandbox_has_the_standard_namespaces_and_roles() {
        let (_dir, sb) = sandbox();
        let ns = builtin_type("", "namespaces");
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(sb.get(ns, None, name).is_some(), "{name}");
        }
        let roles = builtin_type("rbac.authorization.k8s.io", "clusterroles");
        for name in ["cluster-admin", "admin", "edit", "view"] {
            assert!(sb.get(roles, None, name).is_some(), "{name}");
        }
    }

    #[test]
    fn creating_twice_says_already_exists() {
        let (_dir, sb) = sandbox();
        let cm = json!({"metadata": {"name": "x"}, "data": {"a": "b"}});
        sb.create(configmaps(), Some("default"), cm.clone(), WriteOptions::default()).unwrap();
        let err = sb.create(configmaps(), Some("default"), cm, WriteOptions::default()).unwrap_err();
        assert_eq!(err.message, "configmaps \"x\" already exists");
    }

    #[test]
    fn a_stale_update_is_a_conflict() {
        let (_dir, sb) = sandbox();
        let made = sb
            .create(configmaps(), Some("default"), json!({"metadata": {"name": "x"}}), WriteOptions::default())
            .unwrap();
        let mut first = made.object.as_ref().clone();
        first["data"] = json!({"a": "1"});
        sb.update(configmaps(), Some("default"), "x", first, UpdateScope::Main, WriteOptions::default()).unwrap();
        let mut stale = made.object.as_ref().clone();
        stale["data"] = json!({"a": "2"});
        let err = sb
            .update(configmaps(), Some("default"), "x", stale, UpdateScope::Main, WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.reason, Reason::Conflict);
    }

    #[test]
    fn creates_past_the_object_limit_are_refused_and_the_limit_is_kept() {
        let (dir, sb) = sandbox();
        let cm = |name: &str| json!({"metadata": {"name": name}});
        sb.set_max_objects(sb.count_objects() + 1).unwrap();
        sb.create(configmaps(), Some("default"), cm("a"), WriteOptions::default()).unwrap();
        let err = sb.create(configmaps(), Some("default"), cm("b"), WriteOptions::default()).unwrap_err();
        assert_eq!(err.reason, Reason::Forbidden);
        assert!(err.message.starts_with("configmaps \"b\" is forbidden: exceeded quota"), "{}", err.message);
        assert!(sb.get(configmaps(), Some("default"), "b").is_none());
        let limit = sb.max_objects();
        drop(sb);
        assert_eq!(Sandbox::open(dir.path()).unwrap().max_objects(), limit, "kept for the next start");
    }

    #[test]
    fn the_clusters_own_objects_do_not_count_towards_the_limit() {
        let (_dir, sb) = sandbox();
        let before = sb.count_objects();
        let cm = |name: &str| json!({"metadata": {"name": name}});
        sb.create(configmaps(), Some("kube-system"), cm("system-config"), WriteOptions::default()).unwrap();
        assert_eq!(sb.count_objects(), before, "kube-system is the cluster's");
        sb.create(configmaps(), Some("default"), cm("mine"), WriteOptions::default()).unwrap();
        assert_eq!(sb.count_objects(), before + 1);
    }

    #[test]
    fn the_default_rbac_is_outside_the_limit_and_comes_back_even_when_the_quota_is_full() {
        let (dir, sb) = sandbox();
        let roles = builtin_type("rbac.authorization.k8s.io", "clusterroles");
        let before = sb.count_objects();
        sb.set_max_objects(before).unwrap();
        sb.delete(roles, None, "system:kube-dns", &DeleteOptions::default()).unwrap();
        assert_eq!(sb.count_objects(), before, "defaults are not counted");
        drop(sb);
        let sb = Sandbox::open(dir.path()).unwrap();
        assert!(sb.get(roles, None, "system:kube-dns").is_some(), "recreated past a full quota");
        // A learner's own ClusterRole still counts, and is refused at the limit.
        let err = sb.create(roles, None, json!({"metadata": {"name": "mine"}, "rules": []}), WriteOptions::default());
        assert_eq!(err.unwrap_err().reason, Reason::Forbidden);
    }

    #[test]
    fn creating_in_a_missing_namespace_is_not_found() {
        let (_dir, sb) = sandbox();
        let err = sb
            .create(configmaps(), Some("nope"), json!({"metadata": {"name": "x"}}), WriteOptions::default())
            .unwrap_err();
        assert_eq!(err.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn a_wrong_uid_precondition_blocks_a_delete() {
        let (_dir, sb) = sandbox();
        sb.create(configmaps(), Some("default"), json!({"metadata": {"name": "x"}}), WriteOptions::default()).unwrap();
        let opts = DeleteOptions { uid: Some("other".into()), ..Default::default() };
        let err = sb.delete(configmaps(), Some("default"), "x", &opts).unwrap_err();
        assert_eq!(err.reason, Reason::Conflict);
        assert!(sb.get(configmaps(), Some("default"), "x").is_some());
    }
}

//! The durable half of the store: every object as JSON in one redb table. A commit is durable
//! once its record is in the write-ahead log ([`Wal`]); redb receives the logged writes only at a
//! checkpoint (when the log is full, and at every open), in one durable transaction. Reads never
//! go to redb after the start (the store answers from memory), so a write costs one log append
//! and its fsync, not a B-tree update as well. Both files grow by zeros ([`ZeroFilled`]) so that
//! an fdatasync writes data pages only.

use super::ObjectKey;
use super::wal::Wal;
use super::zero_fill::ZeroFilled;
use crate::registry::ResourceId;
use redb::{Builder, Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RESOURCE_VERSION: &str = "resourceVersion";

/// Why the on-disk store could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The database file could not be opened or created.
    #[error("cannot open the sandbox store at {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// What redb said.
        #[source]
        source: redb::DatabaseError,
    },
    /// The write-ahead log beside the database could not be opened or read.
    #[error("cannot open the sandbox store's log at {path}: {reason}")]
    Log {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// A transaction failed; nothing of it was written.
    #[error("the sandbox store failed a transaction: {0}")]
    Transaction(String),
    /// A stored object is not valid JSON (the store was written by something else).
    #[error("the sandbox store holds an unreadable object under {key}: {reason}")]
    Corrupt {
        /// Storage key.
        key: String,
        /// Parser message.
        reason: String,
    },
}

fn txn_error(e: impl std::fmt::Display) -> DiskError {
    DiskError::Transaction(e.to_string())
}

/// One stored object as loaded: its key, its value, and the JSON it was stored as.
pub type Record = (ObjectKey, Value, Vec<u8>);

/// One write to persist atomically.
pub enum DiskWrite<'a> {
    /// Insert or replace an object.
    Put(&'a ObjectKey, &'a [u8]),
    /// Remove an object.
    Delete(&'a ObjectKey),
}

/// The redb database holding the objects and the last resourceVersion, in front of it the log.
pub struct Disk {
    db: Database,
    wal: Wal,
    /// Writes in the log that redb has not received yet, the newest per key (`None`: removed).
    /// Bounded by the log's size: a full log is checkpointed.
    unapplied: BTreeMap<String, Option<Vec<u8>>>,
    /// The resourceVersion of the newest logged commit, once redb is behind it.
    unapplied_rv: Option<u64>,
}

impl Disk {
    /// Opens (or creates) the database file and its log (`path` with the extension `wal`);
    /// redb recovers a crashed file to its last durable commit, and the log's records after that
    /// commit are applied and made durable before anything is read.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let open = || -> Result<Database, redb::DatabaseError> {
            let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
            Builder::new().create_with_backend(ZeroFilled::new(file)?)
        };
        let db = open().map_err(|source| DiskError::Open { path: path.display().to_string(), source })?;
        let wal_path = path.with_extension("wal");
        let (wal, records) = Wal::open(&wal_path)
            .map_err(|e| DiskError::Log { path: wal_path.display().to_string(), reason: e.to_string() })?;
        let mut disk = Self { db, wal, unapplied: BTreeMap::new(), unapplied_rv: None };
        let durable = disk.durable_rv()?;
        for record in records.into_iter().filter(|r| r.rv > durable) {
            let writes: Vec<_> = record.writes.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
            disk.remember(&writes, record.rv);
        }
        disk.checkpoint()?;
        Ok(disk)
    }

    fn durable_rv(&self) -> Result<u64, DiskError> {
        let txn = self.db.begin_read().map_err(txn_error)?;
        let meta = match txn.open_table(META) {
            Ok(meta) => meta,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
            Err(e) => return Err(txn_error(e)),
        };
        Ok(meta.get(RESOURCE_VERSION).map_err(txn_error)?.map(|g| g.value()).unwrap_or(0))
    }

    /// Gives redb every logged write it has not received, durably in one transaction (tables
    /// created if new), then starts the log over. If it fails, the log still holds every write.
    fn checkpoint(&mut self) -> Result<(), DiskError> {
        let writes: Vec<(&str, Option<&[u8]>)> =
            self.unapplied.iter().map(|(key, value)| (key.as_str(), value.as_deref())).collect();
        self.apply(&writes, self.unapplied_rv, Durability::Immediate)?;
        self.unapplied.clear();
        self.unapplied_rv = None;
        self.wal.reset().map_err(txn_error)
    }

    /// Keeps logged writes for the next checkpoint.
    fn remember(&mut self, writes: &[(&str, Option<&[u8]>)], rv: u64) {
        for (key, value) in writes {
            self.unapplied.insert(key.to_string(), value.map(<[u8]>::to_vec));
        }
        self.unapplied_rv = Some(rv);
    }

    /// Every stored object with its key and stored JSON, and the last resourceVersion handed out,
    /// as of the last checkpoint: complete right after [`Disk::open`], which is when the store reads it.
    pub fn load(&self) -> Result<(Vec<Record>, u64), DiskError> {
        let txn = self.db.begin_read().map_err(txn_error)?;
        let meta = txn.open_table(META).map_err(txn_error)?;
        let rv = meta.get(RESOURCE_VERSION).map_err(txn_error)?.map(|g| g.value()).unwrap_or(0);
        let table = txn.open_table(OBJECTS).map_err(txn_error)?;
        let mut objects = Vec::new();
        for entry in table.iter().map_err(txn_error)? {
            let (k, v) = entry.map_err(txn_error)?;
            let key_text = k.value();
            let key = ObjectKey::from_storage_key(key_text)
                .ok_or_else(|| DiskError::Corrupt { key: key_text.to_string(), reason: "malformed key".into() })?;
            let value: Value = serde_json::from_slice(v.value())
                .map_err(|e| DiskError::Corrupt { key: key_text.to_string(), reason: e.to_string() })?;
            objects.push((key, value, v.value().to_vec()));
        }
        Ok((objects, rv))
    }

    /// Applies the writes and the new resourceVersion atomically and durably before returning:
    /// one record in the log (one fdatasync of contiguous data), kept for redb's next checkpoint.
    /// A full log is checkpointed first; a commit larger than the log goes to redb with its own sync.
    pub fn commit(&mut self, writes: &[DiskWrite<'_>], rv: u64) -> Result<(), DiskError> {
        let keys: Vec<String> = writes.iter().map(|w| w.key().storage_key()).collect();
        let logged: Vec<(&str, Option<&[u8]>)> = writes
            .iter()
            .zip(&keys)
            .map(|(write, key)| match write {
                DiskWrite::Put(_, bytes) => (key.as_str(), Some(*bytes)),
                DiskWrite::Delete(_) => (key.as_str(), None),
            })
            .collect();
        if self.wal.append(rv, &logged).map_err(txn_error)? {
            self.remember(&logged, rv);
            return Ok(());
        }
        self.checkpoint()?;
        if self.wal.append(rv, &logged).map_err(txn_error)? {
            self.remember(&logged, rv);
            return Ok(());
        }
        // Larger than the whole log: straight to redb, with its own sync (the log is empty now).
        self.apply(&logged, Some(rv), Durability::Immediate)
    }

    /// One redb transaction: the writes, and the resourceVersion they bring it to (if any).
    fn apply(
        &self,
        writes: &[(&str, Option<&[u8]>)],
        rv: Option<u64>,
        durability: Durability,
    ) -> Result<(), DiskError> {
        let mut txn = self.db.begin_write().map_err(txn_error)?;
        txn.set_durability(durability).map_err(txn_error)?;
        {
            let mut table = txn.open_table(OBJECTS).map_err(txn_error)?;
            for (key, value) in writes {
                match value {
                    Some(bytes) => table.insert(*key, *bytes).map_err(txn_error)?,
                    None => table.remove(*key).map_err(txn_error)?,
                };
            }
            let mut meta = txn.open_table(META).map_err(txn_error)?;
            if let Some(rv) = rv {
                meta.insert(RESOURCE_VERSION, rv).map_err(txn_error)?;
            }
        }
        txn.commit().map_err(txn_error)
    }
}

impl DiskWrite<'_> {
    fn key(&self) -> &ObjectKey {
        match self {
            DiskWrite::Put(key, _) | DiskWrite::Delete(key) => key,
        }
    }
}

impl ObjectKey {
    /// `group/plural/namespace/name`; the group is empty for core kinds.
    pub fn storage_key(&self) -> String {
        format!("{}/{}/{}/{}", self.resource.group, self.resource.plural, self.namespace, self.name)
    }

    fn from_storage_key(text: &str) -> Option<Self> {
        let mut parts = text.splitn(4, '/');
        let group = parts.next()?.to_string();
        let plural = parts.next()?.to_string();
        let namespace = parts.next()?.to_string();
        let name = parts.next()?.to_string();
        Some(ObjectKey { resource: ResourceId { group, plural }, namespace, name })
    }
}

//! The durable half of the store: every object as JSON in one redb table, committed with fsync.

use super::ObjectKey;
use crate::registry::ResourceId;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
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

/// The redb database holding the objects and the last resourceVersion.
pub struct Disk {
    db: Database,
}

impl Disk {
    /// Opens (or creates) the database file; redb recovers a crashed file to its last commit.
    pub fn open(path: &Path) -> Result<Self, DiskError> {
        let db =
            Database::create(path).map_err(|source| DiskError::Open { path: path.display().to_string(), source })?;
        let txn = db.begin_write().map_err(txn_error)?;
        txn.open_table(OBJECTS).map_err(txn_error)?;
        txn.open_table(META).map_err(txn_error)?;
        txn.commit().map_err(txn_error)?;
        Ok(Self { db })
    }

    /// Every stored object with its key and stored JSON, and the last resourceVersion handed out.
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

    /// Applies the writes and the new resourceVersion in one transaction, synced before returning.
    pub fn commit(&self, writes: &[DiskWrite<'_>], rv: u64) -> Result<(), DiskError> {
        let mut txn = self.db.begin_write().map_err(txn_error)?;
        txn.set_durability(Durability::Immediate).map_err(txn_error)?;
        {
            let mut table = txn.open_table(OBJECTS).map_err(txn_error)?;
            for write in writes {
                match write {
                    DiskWrite::Put(key, bytes) => {
                        table.insert(key.storage_key().as_str(), *bytes).map_err(txn_error)?;
                    }
                    DiskWrite::Delete(key) => {
                        table.remove(key.storage_key().as_str()).map_err(txn_error)?;
                    }
                }
            }
            let mut meta = txn.open_table(META).map_err(txn_error)?;
            meta.insert(RESOURCE_VERSION, rv).map_err(txn_error)?;
        }
        txn.commit().map_err(txn_error)
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

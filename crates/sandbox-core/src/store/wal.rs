//! The write-ahead log: each commit is one record appended to a preallocated file and made
//! durable with one fdatasync, before redb applies it without a sync of its own.
//!
//! Why: a redb commit rewrites about eight B-tree and allocator pages spread over its file, and
//! an fdatasync of eight scattered pages costs two to six times one of a single page on the disks
//! measured (see docs/benchmarks.md). One contiguous record costs what the disk asks for. redb is
//! synced at checkpoints (when the log is full, and on open), after which the log starts over
//! under a new epoch.
//!
//! Layout: a 4 KiB header (magic, epoch), then records, each `epoch u64 | length u32 | 0 u32 |
//! FNV-1a u64 of the payload | payload`. Replay reads records of the header's epoch until one is
//! missing, torn (checksum) or of an older epoch. The file is filled with zeros when created, so
//! an append overwrites allocated blocks and its fdatasync writes that data only.

use crate::digest::fnv1a_64;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 8] = b"glwal001";
const HEADER: u64 = 4096;
const RECORD_HEAD: usize = 24;
/// The log's size; a commit that does not fit after a checkpoint goes to redb directly.
pub const SIZE: u64 = 8 << 20;

/// One write of a record: a storage key and its new JSON, or `None` for a removal.
pub type LoggedWrite = (String, Option<Vec<u8>>);

/// A commit read back from the log.
pub struct Record {
    /// The resourceVersion the commit ended at.
    pub rv: u64,
    /// Its writes, in order.
    pub writes: Vec<LoggedWrite>,
}

/// The open log.
pub struct Wal {
    file: File,
    epoch: u64,
    /// Where the next record goes.
    at: u64,
}

impl Wal {
    /// Opens (or creates, zero-filled) the log and returns the records of its current epoch.
    pub fn open(path: &Path) -> io::Result<(Self, Vec<Record>)> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        if file.metadata()?.len() < SIZE {
            let zeros = vec![0u8; 1 << 20];
            let mut at = file.metadata()?.len();
            while at < SIZE {
                let n = (SIZE - at).min(zeros.len() as u64);
                file.write_all_at(&zeros[..n as usize], at)?;
                at += n;
            }
            file.sync_all()?;
            // The file's directory entry must be durable before any record in it is acknowledged.
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        let mut header = [0u8; 16];
        file.read_exact_at(&mut header, 0)?;
        let mut wal = Self { file, epoch: 0, at: HEADER };
        if &header[..8] != MAGIC {
            wal.reset()?;
            return Ok((wal, Vec::new()));
        }
        wal.epoch = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let records = wal.scan()?;
        Ok((wal, records))
    }

    /// Reads the current epoch's records and leaves `at` after the last one.
    fn scan(&mut self) -> io::Result<Vec<Record>> {
        let mut records = Vec::new();
        loop {
            let mut head = [0u8; RECORD_HEAD];
            if self.at + RECORD_HEAD as u64 > SIZE {
                break;
            }
            self.file.read_exact_at(&mut head, self.at)?;
            let epoch = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default()) as u64;
            let sum = u64::from_le_bytes(head[16..24].try_into().unwrap_or_default());
            let end = self.at + RECORD_HEAD as u64 + len;
            if epoch != self.epoch || len == 0 || end > SIZE {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, self.at + RECORD_HEAD as u64)?;
            let Some(record) = (fnv1a_64(&payload) == sum).then(|| decode(&payload)).flatten() else {
                break;
            };
            records.push(record);
            self.at = end;
        }
        Ok(records)
    }

    /// Appends one commit and syncs it. `Ok(false)`: it does not fit; checkpoint and retry.
    pub fn append(&mut self, rv: u64, writes: &[(&str, Option<&[u8]>)]) -> io::Result<bool> {
        let payload = encode(rv, writes);
        let end = self.at + (RECORD_HEAD + payload.len()) as u64;
        if end > SIZE {
            return Ok(false);
        }
        let mut record = Vec::with_capacity(RECORD_HEAD + payload.len());
        record.extend_from_slice(&self.epoch.to_le_bytes());
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&0u32.to_le_bytes());
        record.extend_from_slice(&fnv1a_64(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        self.file.write_all_at(&record, self.at)?;
        self.file.sync_data()?;
        self.at = end;
        Ok(true)
    }

    /// Starts the log over under a new epoch; call only once redb holds every record durably.
    pub fn reset(&mut self) -> io::Result<()> {
        let mut header = [0u8; 16];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&(self.epoch + 1).to_le_bytes());
        self.file.write_all_at(&header, 0)?;
        self.file.sync_data()?;
        self.epoch += 1;
        self.at = HEADER;
        Ok(())
    }
}

fn encode(rv: u64, writes: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&rv.to_le_bytes());
    out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for (key, value) in writes {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        match value {
            Some(bytes) => {
                out.push(1);
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.push(0),
        }
    }
    out
}

/// Reads a payload back; `None` if it is malformed (treated like a torn record).
fn decode(payload: &[u8]) -> Option<Record> {
    let mut rest = payload;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
        rest = tail;
        Some(head)
    };
    let rv = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let mut writes = Vec::new();
    for _ in 0..count {
        let key_len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        let key = String::from_utf8(take(key_len)?.to_vec()).ok()?;
        let value = match take(1)?[0] {
            1 => {
                let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
                Some(take(len)?.to_vec())
            }
            _ => None,
        };
        writes.push((key, value));
    }
    Some(Record { rv, writes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_until_a_torn_one_and_not_after_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        {
            let (mut wal, records) = Wal::open(&path).unwrap();
            assert!(records.is_empty());
            assert!(wal.append(1, &[("a", Some(b"{}")), ("b", None)]).unwrap());
            assert!(wal.append(2, &[("c", Some(b"[1]"))]).unwrap());
            assert!(wal.append(3, &[("d", Some(b"[2]"))]).unwrap());
            // Tear the third record's payload.
            let at = wal.at - 1;
            wal.file.write_all_at(b"#", at).unwrap();
        }
        let (mut wal, records) = Wal::open(&path).unwrap();
        let rvs: Vec<u64> = records.iter().map(|r| r.rv).collect();
        assert_eq!(rvs, [1, 2]);
        assert_eq!(records[0].writes, [("a".to_string(), Some(b"{}".to_vec())), ("b".to_string(), None)]);
        // The next append overwrites the torn record.
        assert!(wal.append(3, &[("e", None)]).unwrap());
        wal.reset().unwrap();
        assert!(wal.append(4, &[("f", None)]).unwrap());
        drop(wal);
        let (_, records) = Wal::open(&path).unwrap();
        assert_eq!(records.iter().map(|r| r.rv).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn a_record_larger_than_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(&dir.path().join("log")).unwrap();
        let big = vec![b'x'; SIZE as usize];
        assert!(!wal.append(1, &[("k", Some(&big))]).unwrap());
    }
}

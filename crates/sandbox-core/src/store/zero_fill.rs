//! redb's file backend, except that the file grows by writing zeros instead of leaving a hole.
//!
//! Why: a page written into a hole makes the filesystem allocate its block at the next fdatasync,
//! which must then also write the inode and the allocation metadata (on ext4 with a journal, a
//! journal commit; without one, extra synchronous writes). Zeros written when redb grows the file
//! allocate those blocks once, at that commit, so every later commit's fdatasync flushes its data
//! pages alone. Everything else is redb's own [`FileBackend`].

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::fs::File;
use std::ops::Bound;
use std::os::unix::fs::FileExt;

/// How much zeroed memory one growth step writes at a time.
const CHUNK: u64 = 1 << 20;

/// [`FileBackend`] whose growth writes zeros (see the module documentation).
#[derive(Debug)]
pub struct ZeroFilled {
    inner: FileBackend,
    /// The same open file, for the zero writes.
    file: File,
}

impl ZeroFilled {
    /// Wraps an open database file.
    pub fn new(file: File) -> std::io::Result<Self> {
        let writer = file.try_clone()?;
        let inner = FileBackend::new(file).map_err(std::io::Error::other)?;
        Ok(Self { inner, file: writer })
    }
}

impl StorageBackend for ZeroFilled {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let mut at = self.inner.len()?;
        if len <= at {
            return self.inner.set_len(len);
        }
        let zeros = vec![0u8; CHUNK.min(len - at) as usize];
        while at < len {
            let n = (len - at).min(zeros.len() as u64) as usize;
            self.file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn growth_writes_real_blocks_and_shrinking_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).unwrap();
        let backend = ZeroFilled::new(file).unwrap();
        backend.set_len(3 * CHUNK + 4096).unwrap();
        assert_eq!(backend.len().unwrap(), 3 * CHUNK + 4096);
        // A sparse file of this length would hold (almost) no blocks.
        let blocks = std::fs::metadata(&path).unwrap().blocks() * 512;
        assert!(blocks >= 3 * CHUNK, "only {blocks} bytes allocated");
        let mut out = [1u8; 8];
        backend.read(3 * CHUNK, &mut out).unwrap();
        assert_eq!(out, [0; 8]);
        backend.set_len(4096).unwrap();
        assert_eq!(backend.len().unwrap(), 4096);
    }
}

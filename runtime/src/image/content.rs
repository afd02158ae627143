//! The blob store, `<root>/content/sha256/<hex>`: manifests, configs and
//! compressed layers as a registry serves them. A blob enters only through
//! a rename after its digest was checked, so a file there is whole; small
//! blobs are checked again whenever they are read.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::digest::{Digest, Hasher};
use super::error::ImageError;

#[derive(Clone, Debug)]
pub struct ContentStore {
    dir: PathBuf,
    tmp: PathBuf,
}

impl ContentStore {
    pub fn new(dir: PathBuf, tmp: PathBuf) -> Self {
        ContentStore { dir, tmp }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Reads a blob whole and checks it against its digest (for manifests and configs).
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest);
        let bytes = std::fs::read(&path).map_err(|source| ImageError::io("cannot read blob", &path, source))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::Corrupt(format!("blob {} has digest {actual}", path.display())));
        }
        Ok(bytes)
    }

    /// Stores `bytes` after checking them against `digest`; nothing is kept if they differ.
    pub fn write(&self, digest: &Digest, bytes: &[u8]) -> Result<(), ImageError> {
        let actual = Digest::of(bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch { what: "blob".into(), expected: digest.clone(), actual });
        }
        if self.contains(digest) {
            return Ok(());
        }
        let mut writer = self.writer()?;
        writer.write_all(bytes).map_err(|source| ImageError::io("cannot write blob", &writer.path, source))?;
        writer.commit(digest, Durability::Synced)
    }

    /// A temp file that becomes a blob by [`BlobWriter::commit`] once its digest is right.
    pub fn writer(&self) -> Result<BlobWriter, ImageError> {
        for dir in [&self.dir, &self.tmp] {
            std::fs::create_dir_all(dir).map_err(|source| ImageError::io("cannot create", dir, source))?;
        }
        let file = tempfile::Builder::new()
            .prefix(&format!("blob-{}-", std::process::id()))
            .tempfile_in(&self.tmp)
            .map_err(|source| ImageError::io("cannot create a temp file in", &self.tmp, source))?;
        let path = file.path().to_owned();
        Ok(BlobWriter { file, path, hasher: Hasher::new(), dir: self.dir.clone() })
    }

    /// Removes a blob; one already gone is fine.
    pub fn remove(&self, digest: &Digest) -> Result<(), ImageError> {
        let path = self.path(digest);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ImageError::io("cannot remove blob", &path, e)),
            _ => Ok(()),
        }
    }
}

/// Whether a blob is flushed to disk before it is renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Manifests and configs: small, and read as the truth about an image.
    Synced,
    /// Layer blobs: large, and checked against their digest whenever they are read,
    /// so one damaged by a power cut is found (and fetched again), never used.
    Verified,
}

/// A blob being written: hashed as it is written, renamed into place only when
/// the digest matches. Dropped without commit, the temp file is removed.
#[derive(Debug)]
pub struct BlobWriter {
    file: tempfile::NamedTempFile,
    path: PathBuf,
    hasher: Hasher,
    dir: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Checks the digest and renames the blob into place, made durable first if asked.
    pub fn commit(self, expected: &Digest, durability: Durability) -> Result<(), ImageError> {
        let actual = self.hasher.finish();
        if &actual != expected {
            return Err(ImageError::DigestMismatch { what: "blob".into(), expected: expected.clone(), actual });
        }
        let target = self.dir.join(expected.hex());
        let path = self.path;
        if durability == Durability::Synced {
            self.file.as_file().sync_data().map_err(|source| ImageError::io("cannot sync", &path, source))?;
        }
        self.file.persist(&target).map_err(|e| ImageError::io("cannot store blob", &target, e.error))?;
        match durability {
            Durability::Synced => sync_dir(&self.dir),
            Durability::Verified => Ok(()),
        }
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| ImageError::io("cannot sync", dir, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> ContentStore {
        ContentStore::new(dir.join("content/sha256"), dir.join("tmp"))
    }

    #[test]
    fn keeps_only_verified_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let digest = Digest::of(b"config");
        store.write(&digest, b"config").unwrap();
        assert_eq!(store.read(&digest).unwrap(), b"config");
        let other = Digest::of(b"other");
        assert!(matches!(store.write(&other, b"not other"), Err(ImageError::DigestMismatch { .. })));
        assert!(!store.contains(&other));
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let mut writer = store.writer().unwrap();
        writer.write_all(b"truncat").unwrap();
        assert!(writer.commit(&Digest::of(b"truncated"), Durability::Synced).is_err());
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(std::fs::read_dir(dir.path().join("content/sha256")).unwrap().count(), 0);
    }

    #[test]
    fn a_damaged_blob_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let digest = Digest::of(b"manifest");
        store.write(&digest, b"manifest").unwrap();
        std::fs::write(store.path(&digest), b"manifest!").unwrap();
        assert!(matches!(store.read(&digest), Err(ImageError::Corrupt(_))));
    }
}

//! The layer store, `<root>/layers/<chain-id hex>`: a layer directory appears
//! there only by a rename of a completely unpacked and verified temp
//! directory, so after a crash or kill of berth whatever is there is whole.
//!
//! Power cuts: unpacking does not wait for the disk (an fsync per layer costs
//! more than the rest of a pull). Instead each layer is recorded with the
//! boot it was written in. The next pull (or prune) in the same boot flushes
//! the file system once and clears those marks ("settles"); a layer still
//! marked with an earlier boot may have lost data in a power cut, so it is
//! unpacked again from its kept blob (verified) or downloaded again.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::records::{self, LayerRow};

/// Chain IDs, as the image spec defines them: the first is the first diff ID;
/// each next is sha256 of "<previous chain ID> <diff ID>".
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut chain: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.clone(),
            Some(previous) => Digest::of(format!("{previous} {diff_id}").as_bytes()),
        };
        chain.push(next);
    }
    chain
}

impl ImageStore {
    /// How many images use the layer `chain_id` (its reference count); 0 for an unknown layer.
    pub fn layer_references(&self, chain_id: &Digest) -> Result<u64, ImageError> {
        let db = self.db();
        records::layer_refcount(db.conn(), chain_id)
    }

    /// The layer's row if it is unpacked and can be trusted.
    pub(crate) fn present_layer(&self, chain_id: &Digest) -> Result<Option<LayerRow>, ImageError> {
        let dir = self.layer_dir(chain_id);
        let db = self.db();
        let row = records::layer(db.conn(), chain_id)?;
        let written_in = records::layer_boot(db.conn(), chain_id)?;
        if row.is_some() && written_in.as_deref().is_some_and(|boot| boot != boot_id()) {
            drop(db);
            tracing::warn!(layer = %chain_id, "layer written before a reboot without being flushed; unpacking it again");
            self.delete_files(std::slice::from_ref(chain_id), &[]);
            return Ok(None);
        }
        match (row, dir.is_dir()) {
            (Some(row), true) => Ok(Some(row)),
            // No record: a crash came between its rename and its record, or the record was lost
            // with a power cut. Its data cannot be vouched for; unpack it again.
            (None, true) => {
                drop(db);
                self.delete_files(std::slice::from_ref(chain_id), &[]);
                Ok(None)
            }
            (Some(_), false) => {
                tracing::warn!(layer = %chain_id, "layer directory missing; unpacking it again");
                Ok(None)
            }
            (None, false) => Ok(None),
        }
    }

    /// A fresh temp directory to unpack a layer into, on the same file system as the layer store.
    pub(crate) fn layer_tmp(&self) -> Result<tempfile::TempDir, ImageError> {
        let tmp = self.root().tmp();
        let dir = tempfile::Builder::new()
            .prefix(&format!("layer-{}-", std::process::id()))
            .tempdir_in(&tmp)
            .map_err(|source| ImageError::io("cannot create a temp directory in", &tmp, source))?;
        // The layer root becomes a directory of the container's root file system.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|source| ImageError::io("cannot set the mode of", dir.path(), source))?;
        Ok(dir)
    }

    /// Moves an unpacked, verified layer into place and records it (and its blob, if kept).
    pub(crate) fn install_layer(
        &self,
        unpacked: tempfile::TempDir,
        row: &LayerRow,
        blob: Option<(&Digest, u64, &str)>,
    ) -> Result<(), ImageError> {
        let target = self.layer_dir(&row.chain_id);
        match std::fs::rename(unpacked.path(), &target) {
            // Not synced here: settle() flushes the rename with the data (see the module comment).
            Ok(()) => {
                let _ = unpacked.keep();
            }
            // Another pull got there first; its copy is as good as ours (ours is removed on drop).
            Err(e) if target.is_dir() => tracing::debug!(layer = %row.chain_id, error = %e, "layer already in place"),
            Err(source) => return Err(ImageError::io("cannot move the layer into", &target, source)),
        }
        let mut db = self.db();
        let tx = db.write().map_err(ImageError::sql("recording a layer"))?;
        if let Some((digest, size, media_type)) = blob {
            records::record_blob(&tx, digest, size, media_type)?;
        }
        records::record_layer(&tx, row, Some(boot_id()))?;
        tx.commit().map_err(ImageError::sql("recording a layer"))
    }

    /// Flushes layers written earlier in this boot and clears their marks (see the module comment).
    pub(crate) fn settle(&self) -> Result<(), ImageError> {
        let boot = boot_id();
        if !records::has_unsettled(self.db().conn(), boot)? {
            return Ok(());
        }
        let layers = self.root().layers();
        let dir = std::fs::File::open(&layers).map_err(|e| ImageError::io("cannot open", &layers, e))?;
        rustix::fs::syncfs(&dir).map_err(|e| ImageError::io("cannot sync", &layers, e.into()))?;
        records::settle(self.db().conn(), boot)
    }
}

/// This boot's ID (`/proc/sys/kernel/random/boot_id`).
fn boot_id() -> &'static str {
    static BOOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned())
    })
}

/// Bytes of regular files under `path`, or of `path` itself if it is a file.
pub(crate) fn disk_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path).map_or(0, |entries| entries.flatten().map(|e| disk_bytes(&e.path())).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Root;

    fn store_with_layer(boot: Option<&str>) -> (tempfile::TempDir, ImageStore, Digest) {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&Root::new(dir.path().join("root"), dir.path().join("run"))).unwrap();
        let chain = Digest::of(b"layer");
        std::fs::create_dir_all(store.layer_dir(&chain).join("etc")).unwrap();
        let row = LayerRow { chain_id: chain.clone(), diff_id: chain.clone(), size: 0, blob_digest: None };
        records::record_layer(store.db().conn(), &row, boot).unwrap();
        (dir, store, chain)
    }

    #[test]
    fn a_layer_unflushed_before_a_reboot_is_not_trusted() {
        let (_dir, store, chain) = store_with_layer(Some("an-earlier-boot"));
        assert!(store.present_layer(&chain).unwrap().is_none());
        assert!(!store.layer_dir(&chain).exists(), "it will be unpacked again");
    }

    #[test]
    fn a_layer_directory_without_a_record_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&Root::new(dir.path().join("root"), dir.path().join("run"))).unwrap();
        let chain = Digest::of(b"stray");
        std::fs::create_dir_all(store.layer_dir(&chain).join("etc")).unwrap();
        assert!(store.present_layer(&chain).unwrap().is_none());
        assert!(!store.layer_dir(&chain).exists());
    }

    #[test]
    fn settled_and_same_boot_layers_are_used() {
        let (_dir, store, chain) = store_with_layer(Some(boot_id()));
        assert!(store.present_layer(&chain).unwrap().is_some());
        store.settle().unwrap();
        assert_eq!(records::layer_boot(store.db().conn(), &chain).unwrap(), None);
        let (_dir, store, chain) = store_with_layer(None);
        assert!(store.present_layer(&chain).unwrap().is_some());
    }

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let chain = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(chain[0], a);
        assert_eq!(chain[1], Digest::of(format!("{a} {b}").as_bytes()));
        assert!(chain_ids(&[]).is_empty());
    }
}

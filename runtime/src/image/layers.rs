//! The layer store, `<root>/layers/<chain-id hex>`: a layer directory appears
//! there only by a rename of a completely unpacked and verified temp
//! directory, so whatever is there is whole.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::ImageStore;
use super::content::sync_dir;
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

    /// The layer's row if it is unpacked. A directory without a row (a crash
    /// between rename and record) is adopted: it was complete before its rename.
    pub(crate) fn present_layer(&self, chain_id: &Digest, diff_id: &Digest) -> Result<Option<LayerRow>, ImageError> {
        let dir = self.layer_dir(chain_id);
        let db = self.db();
        let row = records::layer(db.conn(), chain_id)?;
        match (row, dir.is_dir()) {
            (Some(row), true) => Ok(Some(row)),
            (None, true) => {
                let size = disk_bytes(&dir);
                let row = LayerRow { chain_id: chain_id.clone(), diff_id: diff_id.clone(), size, blob_digest: None };
                records::record_layer(db.conn(), &row)?;
                Ok(Some(row))
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
        // Durable before it becomes visible: a power cut must not leave a half-written layer in place.
        let dir = std::fs::File::open(unpacked.path())
            .map_err(|source| ImageError::io("cannot open", unpacked.path(), source))?;
        rustix::fs::syncfs(&dir).map_err(|e| ImageError::io("cannot sync", unpacked.path(), e.into()))?;
        match std::fs::rename(unpacked.path(), &target) {
            Ok(()) => {
                let _ = unpacked.keep();
                sync_dir(&self.root().layers())?;
            }
            // Another pull got there first; its copy is as good as ours (ours is removed on drop).
            Err(e) if target.is_dir() => tracing::debug!(layer = %row.chain_id, error = %e, "layer already in place"),
            Err(source) => return Err(ImageError::io("cannot move the layer into", &target, source)),
        }
        let mut db = self.db();
        let tx = db.conn_mut().transaction().map_err(ImageError::sql("recording a layer"))?;
        if let Some((digest, size, media_type)) = blob {
            records::record_blob(&tx, digest, size, media_type)?;
        }
        records::record_layer(&tx, row)?;
        tx.commit().map_err(ImageError::sql("recording a layer"))
    }
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

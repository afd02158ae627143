//! An image's manifest as the store can serve it (push, save): the manifest
//! it was pulled or loaded with when every blob it names is kept, else one
//! written anew from the kept blob of each layer.

use oci_spec::image::ImageConfiguration;

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::manifest::{BlobRef, Manifest, OCI_CONFIG, OCI_MANIFEST};
use super::records;

/// A manifest whose every blob is in the content store.
#[derive(Debug, Clone)]
pub struct LocalManifest {
    pub digest: Digest,
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub config: BlobRef,
    pub layers: Vec<BlobRef>,
}

impl ImageStore {
    pub(crate) fn local_manifest(&self, id: &Digest) -> Result<LocalManifest, ImageError> {
        let row = {
            let db = self.db();
            records::image(db.conn(), id)?.ok_or_else(|| ImageError::NotFound(id.to_string()))?
        };
        let bytes = self.content().read(&row.manifest_digest)?;
        if let Manifest::Image(info) = Manifest::parse(&bytes, None, &row.manifest_digest.to_string())?
            && info.config.digest == *id
            && self.all_kept(&info.layers)?
        {
            return Ok(LocalManifest {
                digest: row.manifest_digest,
                bytes,
                media_type: info.media_type,
                config: info.config,
                layers: info.layers,
            });
        }
        self.rebuilt_manifest(id)
    }

    fn all_kept(&self, blobs: &[BlobRef]) -> Result<bool, ImageError> {
        let db = self.db();
        for blob in blobs {
            if !records::has_blob(db.conn(), &blob.digest)? || !self.content().contains(&blob.digest) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// An OCI manifest naming the kept blob of each layer.
    fn rebuilt_manifest(&self, id: &Digest) -> Result<LocalManifest, ImageError> {
        let config_bytes = self.content().read(id)?;
        let config = BlobRef { digest: id.clone(), size: config_bytes.len() as u64, media_type: OCI_CONFIG.into() };
        let mut layers = Vec::new();
        {
            let db = self.db();
            for chain_id in records::image_chain(db.conn(), id)? {
                let row = records::layer(db.conn(), &chain_id)?
                    .ok_or_else(|| ImageError::Corrupt(format!("image {id} names missing layer {chain_id}")))?;
                let kept = match &row.blob_digest {
                    Some(digest) if self.content().contains(digest) => records::blob(db.conn(), digest)?,
                    _ => None,
                };
                let (size, media_type) = kept.ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "image {id}: the compressed blob of layer {} is not kept, so it cannot be sent; pull the image again",
                        row.diff_id
                    ))
                })?;
                let digest = row.blob_digest.expect("kept implies a digest");
                layers.push(BlobRef { digest, size, media_type });
            }
        }
        let parsed: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|e| ImageError::Corrupt(format!("the config of image {id} does not parse: {e}")))?;
        if parsed.rootfs().diff_ids().len() != layers.len() {
            return Err(ImageError::Corrupt(format!("image {id}: its config and its layers disagree")));
        }
        let descriptor =
            |b: &BlobRef| serde_json::json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(&config),
            "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&manifest).expect("JSON of JSON values");
        let digest = Digest::of(&bytes);
        self.content().write(&digest, &bytes)?;
        {
            let mut db = self.db();
            let tx = db.write().map_err(ImageError::sql("recording a manifest"))?;
            records::record_blob(&tx, &digest, bytes.len() as u64, OCI_MANIFEST)?;
            records::hold_blob(&tx, id, &digest)?;
            records::set_manifest(&tx, id, &digest)?;
            tx.commit().map_err(ImageError::sql("recording a manifest"))?;
        }
        Ok(LocalManifest { digest, bytes, media_type: OCI_MANIFEST.into(), config, layers })
    }
}

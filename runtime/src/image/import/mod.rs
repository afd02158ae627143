//! `import`: a one-layer image from a root file system tarball (plain, gzip
//! or zstd), as `docker import` makes one. The tarball is written to the
//! content store as it is unpacked (the same safe unpacking as a pulled
//! layer); it is kept only once it unpacked cleanly, under the digest it was
//! hashed to, and the image is recorded with a config built from `--change`
//! instructions and a manifest naming that blob, like a pulled image.

mod change;

use std::io::Read;

use serde_json::{Map, Value, json};

pub use change::{Change, ChangeError};

use super::ImageStore;
use super::commit::NewImageParts;
use super::content::Durability;
use super::digest::Digest;
use super::error::ImageError;
use super::load::layer_media_type;
use super::manifest::{BlobRef, OCI_CONFIG, OCI_MANIFEST};
use super::platform::Platform;
use super::pull::{Tee, unpack_blob};
use super::records::{self, LayerRow};
use super::reference::Reference;

/// What `import` makes of the tarball.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Config instructions, applied in order.
    pub changes: Vec<Change>,
    /// The history comment; `Imported from SOURCE` when absent, as Docker writes.
    pub message: Option<String>,
    /// Where the tarball came from (a path, or `-`), for that default comment.
    pub source: String,
    /// The name to give the image; a tag, not a digest.
    pub reference: Option<Reference>,
}

/// An imported image.
#[derive(Debug, Clone)]
pub struct Imported {
    pub id: Digest,
    /// The layer's uncompressed digest.
    pub diff_id: Digest,
}

impl ImageStore {
    /// Imports a root file system tarball as a new image.
    pub fn import(&self, input: impl Read, options: &ImportOptions) -> Result<Imported, ImageError> {
        if let Some(reference) = &options.reference
            && reference.digest().is_some()
        {
            return Err(ImageError::Invalid(format!(
                "cannot import as {}: a digest names content, not a tag",
                reference.familiar()
            )));
        }
        self.settle()?;
        let (blob, row, tmp) = self.import_layer(input)?;
        let row = match self.present_layer(&row.chain_id)? {
            // The same content is unpacked already (an earlier import of it, or a pulled layer).
            Some(existing) => {
                records::record_blob(self.db().conn(), &blob.digest, blob.size, &blob.media_type)?;
                existing
            }
            None => {
                self.install_layer(tmp, &row, Some((&blob.digest, blob.size, &blob.media_type)))?;
                row
            }
        };
        let config_bytes = config(options, &row.diff_id)?;
        let config = BlobRef {
            digest: Digest::of(&config_bytes),
            size: config_bytes.len() as u64,
            media_type: OCI_CONFIG.into(),
        };
        let descriptor = |b: &BlobRef| json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(&config),
            "layers": [descriptor(&blob)],
        }))
        .expect("JSON of JSON values");
        let manifests = [(Digest::of(&manifest), manifest, OCI_MANIFEST.to_owned())];
        self.commit_image(&NewImageParts {
            manifests: &manifests,
            config: &config,
            config_bytes: &config_bytes,
            layer_blobs: std::slice::from_ref(&blob),
            layers: std::slice::from_ref(&row),
            names: options.reference.as_slice(),
        })?;
        tracing::info!(id = %config.digest, layer = %row.diff_id, "imported an image");
        Ok(Imported { id: config.digest, diff_id: row.diff_id })
    }

    /// Unpacks the tarball into a temp layer directory while storing it as a blob.
    /// Returns the blob (kept), the layer's row and its directory (not yet installed).
    fn import_layer(&self, input: impl Read) -> Result<(BlobRef, LayerRow, tempfile::TempDir), ImageError> {
        let tmp = self.layer_tmp()?;
        let mut tee = Tee::new(input, self.content().writer()?);
        let unpacked = unpack_blob(&mut tee, tmp.path());
        let writer =
            tee.finish().map_err(|source| ImageError::io("cannot store the tarball in", &self.root().tmp(), source))?;
        if writer.is_empty() {
            return Err(ImageError::Invalid(
                "the tarball is empty: expected a tar archive (plain, gzip or zstd)".into(),
            ));
        }
        let unpacked = unpacked?;
        let (digest, size) = (writer.digest(), writer.len());
        writer.commit(&digest, Durability::Verified)?;
        let media_type = layer_media_type(&self.content().path(&digest))?.to_owned();
        let row = LayerRow {
            chain_id: unpacked.diff_id.clone(),
            diff_id: unpacked.diff_id,
            size: unpacked.size,
            blob_digest: Some(digest.clone()),
        };
        Ok((BlobRef { digest, size, media_type }, row, tmp))
    }
}

/// The image config: this host's platform, the changes, one layer and its history entry.
fn config(options: &ImportOptions, diff_id: &Digest) -> Result<Vec<u8>, ImageError> {
    let mut settings = Map::new();
    for change in &options.changes {
        change.apply(&mut settings);
    }
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let comment = match &options.message {
        Some(message) => message.clone(),
        None => format!("Imported from {}", options.source),
    };
    let platform = Platform::host();
    let mut config = json!({
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        "comment": comment,
        "config": Value::Object(settings),
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "comment": comment}],
    });
    if let Some(variant) = platform.variant {
        config["variant"] = json!(variant);
    }
    let bytes = serde_json::to_vec(&config).expect("JSON of JSON values");
    // What the runtime will read must parse as an image config.
    serde_json::from_slice::<oci_spec::image::ImageConfiguration>(&bytes)
        .map_err(|e| ImageError::Invalid(format!("the changes make an invalid image config: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;

//! Recording a new image (after pull or load): its manifests and config are
//! written to the content store (verified), then one transaction records the
//! blobs, the image, its layers and its names.

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::manifest::BlobRef;
use super::records::{self, LayerRow, NewImage};
use super::reference::Reference;

/// Everything an image consists of; its layers are already installed.
#[derive(Debug)]
pub struct NewImageParts<'a> {
    /// Manifest documents (an index, then the image manifest), with media types.
    pub manifests: &'a [(Digest, Vec<u8>, String)],
    pub config: &'a BlobRef,
    pub config_bytes: &'a [u8],
    pub layer_blobs: &'a [BlobRef],
    pub layers: &'a [LayerRow],
    pub names: &'a [Reference],
}

impl ImageStore {
    /// Stores and records an image; returns whether any of its names moved to it.
    pub(crate) fn commit_image(&self, parts: &NewImageParts<'_>) -> Result<bool, ImageError> {
        for (digest, bytes, _) in parts.manifests {
            self.content().write(digest, bytes)?;
        }
        self.content().write(&parts.config.digest, parts.config_bytes)?;
        let id = &parts.config.digest;
        let manifest_digest = &parts.manifests.last().expect("an image has a manifest").0;

        let mut db = self.db();
        let tx = db.write().map_err(ImageError::sql("recording an image"))?;
        let mut held: Vec<Digest> = Vec::new();
        for (digest, bytes, media_type) in parts.manifests {
            records::record_blob(&tx, digest, bytes.len() as u64, media_type)?;
            held.push(digest.clone());
        }
        records::record_blob(&tx, id, parts.config.size, &parts.config.media_type)?;
        held.push(id.clone());
        for layer in parts.layer_blobs {
            if records::has_blob(&tx, &layer.digest)? {
                held.push(layer.digest.clone());
            }
        }
        let chain: Vec<Digest> = parts.layers.iter().map(|row| row.chain_id.clone()).collect();
        for chain_id in &chain {
            // A concurrent rmi or prune may have freed a layer between its check and now.
            if records::layer(&tx, chain_id)?.is_none() {
                return Err(ImageError::Invalid(format!("layer {chain_id} was removed meanwhile; try again")));
            }
        }
        let size = parts.layers.iter().map(|row| row.size).sum();
        records::insert_image(&tx, &NewImage { id, manifest_digest, chain: &chain, blobs: &held, size })?;
        let mut moved = false;
        for name in parts.names {
            moved |= records::image_for_ref(&tx, name)?.as_ref() != Some(id);
            records::set_ref(&tx, name, id)?;
        }
        tx.commit().map_err(ImageError::sql("recording an image"))?;
        Ok(moved)
    }
}

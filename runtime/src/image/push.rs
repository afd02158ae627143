//! `push`: send a local image's blobs (those the registry lacks) and then its
//! manifest, under the reference's tag. The manifest is sent byte for byte as
//! it was pulled when its blobs are kept, so its digest does not change.

use futures_util::{StreamExt, TryStreamExt};

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::manifest::BlobRef;
use super::progress::{Event, LayerState, Progress};
use super::records;
use super::reference::Reference;
use super::registry::{Registry, RegistryOptions};

/// Blobs uploaded at once, as Docker's default max-concurrent-uploads.
const PARALLEL_UPLOADS: usize = 5;

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The digest of the manifest as the registry now has it.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: usize,
    /// The tag (or digest) it was pushed under.
    pub reference: Reference,
}

impl ImageStore {
    /// Pushes the local image named `reference` to its registry.
    pub async fn push(
        &self,
        reference: &Reference,
        options: &RegistryOptions,
        progress: &dyn Progress,
    ) -> Result<Pushed, ImageError> {
        let registry = Registry::new(reference.registry(), options)?;
        self.push_to(&registry, reference, progress).await
    }

    pub async fn push_to(
        &self,
        registry: &Registry,
        reference: &Reference,
        progress: &dyn Progress,
    ) -> Result<Pushed, ImageError> {
        let id = {
            let db = self.db();
            records::image_for_ref(db.conn(), reference)?
        }
        .ok_or_else(|| ImageError::NotFound(reference.familiar()))?;
        let manifest = self.local_manifest(&id)?;
        if let Some(wanted) = reference.digest()
            && wanted != &manifest.digest
        {
            return Err(ImageError::Invalid(format!(
                "cannot push {}: the local manifest has digest {}",
                reference.familiar(),
                manifest.digest
            )));
        }
        let repository = reference.repository();
        let mut blobs: Vec<&BlobRef> = manifest.layers.iter().collect();
        blobs.push(&manifest.config);
        futures_util::stream::iter(blobs)
            .map(|blob| self.push_blob(registry, repository, blob, progress))
            .buffer_unordered(PARALLEL_UPLOADS)
            .try_collect::<Vec<()>>()
            .await?;
        let selector = reference.manifest_selector();
        registry.put_manifest(repository, &selector, &manifest.media_type, &manifest.bytes).await?;
        {
            let db = self.db();
            records::set_ref(db.conn(), &reference.with_digest(manifest.digest.clone()), &id)?;
        }
        Ok(Pushed { digest: manifest.digest, size: manifest.bytes.len(), reference: reference.clone() })
    }

    async fn push_blob(
        &self,
        registry: &Registry,
        repository: &str,
        blob: &BlobRef,
        progress: &dyn Progress,
    ) -> Result<(), ImageError> {
        let event = |state| progress.report(Event::Layer { digest: blob.digest.clone(), state });
        if registry.has_blob(repository, &blob.digest).await? {
            event(LayerState::Exists);
            return Ok(());
        }
        event(LayerState::Transferring { done: 0, total: blob.size });
        // The kept blob is checked again before it leaves: a damaged store must not spread.
        let path = self.content().path(&blob.digest);
        let (digest, check) = (blob.digest.clone(), path.clone());
        let actual = tokio::task::spawn_blocking(move || -> Result<Digest, ImageError> {
            let file = std::fs::File::open(&check).map_err(|e| ImageError::io("cannot read blob", &check, e))?;
            let mut reader = super::digest::HashingReader::new(file);
            std::io::copy(&mut reader, &mut std::io::sink())
                .map_err(|e| ImageError::io("cannot read blob", &check, e))?;
            Ok(reader.finish().0)
        })
        .await
        .map_err(|e| ImageError::Invalid(format!("the hashing thread failed: {e}")))??;
        if actual != digest {
            return Err(ImageError::Corrupt(format!("blob {} has digest {actual}", path.display())));
        }
        registry.upload_blob(repository, &blob.digest, &path).await?;
        event(LayerState::Complete);
        Ok(())
    }
}

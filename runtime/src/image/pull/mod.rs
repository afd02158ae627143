//! `pull`: resolve a reference at its registry, choose the platform's manifest,
//! fetch the config, make every layer present (in parallel, bounded), then
//! record the image and its names in one transaction. A pull stopped at any
//! point leaves only whole, verified pieces behind; running it again finishes it.

mod layer;
mod stream;

use futures_util::{StreamExt, TryStreamExt};

pub use layer::{Fetched, LayerJob, unpack_kept};
pub(crate) use stream::{Tee, unpack_blob};

use super::ImageStore;
use super::commit::NewImageParts;
use super::digest::Digest;
use super::error::ImageError;
use super::layers::chain_ids;
use super::manifest::{self, BlobRef, ImageManifestInfo, Manifest};
use super::platform::Platform;
use super::progress::{Event, Progress};
use super::records;
use super::reference::Reference;
use super::registry::{Registry, RegistryOptions};

/// Layers fetched at once, as Docker's default max-concurrent-downloads.
const PARALLEL_LAYERS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The platform to pull from an index; the host's when `None`.
    pub platform: Option<Platform>,
    pub registry: RegistryOptions,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image ID (config digest).
    pub id: Digest,
    /// The digest the reference resolved to (an index's digest when it names one).
    pub digest: Digest,
    pub reference: Reference,
    /// Whether anything new was stored (or a name moved); `false`: "Image is up to date".
    pub changed: bool,
}

impl ImageStore {
    /// Pulls `reference` from its registry.
    pub async fn pull(
        &self,
        reference: &Reference,
        options: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Pulled, ImageError> {
        let registry = Registry::new(reference.registry(), &options.registry)?;
        self.pull_from(&registry, reference, options, progress).await
    }

    /// Pulls with a given registry client (one with explicit credentials, say).
    pub async fn pull_from(
        &self,
        registry: &Registry,
        reference: &Reference,
        options: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Pulled, ImageError> {
        let repository = reference.repository();
        let what = reference.familiar();
        self.settle()?;
        let top = registry.manifest(repository, &reference.manifest_selector()).await?;
        let top_digest = Digest::of(&top.bytes);
        if let Some(wanted) = reference.digest()
            && wanted != &top_digest
        {
            return Err(ImageError::DigestMismatch {
                what: format!("manifest {what}"),
                expected: wanted.clone(),
                actual: top_digest,
            });
        }
        progress.report(Event::Resolved { reference: what.clone(), digest: top_digest.clone() });
        let mut blobs: Vec<(Digest, Vec<u8>, String)> = Vec::new();
        let image_manifest = match Manifest::parse(&top.bytes, top.media_type.as_deref(), &what)? {
            Manifest::Image(info) => {
                blobs.push((top_digest.clone(), top.bytes, info.media_type.clone()));
                info
            }
            Manifest::Index { media_type, index } => {
                let platform = options.platform.clone().unwrap_or_else(Platform::host);
                let chosen = manifest::select(&index, &platform, &what)?;
                blobs.push((top_digest.clone(), top.bytes, media_type));
                let (bytes, info) = self.platform_manifest(registry, repository, &chosen, &what).await?;
                blobs.push((chosen.digest.clone(), bytes, info.media_type.clone()));
                info
            }
        };
        let config = self.config(registry, repository, &image_manifest.config).await?;
        let jobs = layer_jobs(&image_manifest, &config.parsed, &what)?;
        check_platform(&config, options.platform.as_ref(), &what);

        let results: Vec<(records::LayerRow, Fetched)> = futures_util::stream::iter(jobs.iter())
            .map(|job| layer::ensure(self, registry, repository, job, progress))
            .buffered(PARALLEL_LAYERS)
            .try_collect()
            .await?;

        let id = image_manifest.config.digest.clone();
        let downloaded = results.iter().any(|(_, fetched)| *fetched != Fetched::AlreadyPresent);
        let layers: Vec<records::LayerRow> = results.into_iter().map(|(row, _)| row).collect();
        let mut names = vec![reference.with_digest(top_digest.clone())];
        if reference.digest().is_none() {
            names.push(reference.clone());
        }
        let moved = self.commit_image(&NewImageParts {
            manifests: &blobs,
            config: &image_manifest.config,
            config_bytes: &config.bytes,
            layer_blobs: &image_manifest.layers,
            layers: &layers,
            names: &names,
        })?;
        Ok(Pulled { id, digest: top_digest, reference: reference.clone(), changed: downloaded || moved })
    }

    /// The platform's manifest named by an index, from the store if it is kept there.
    async fn platform_manifest(
        &self,
        registry: &Registry,
        repository: &str,
        chosen: &BlobRef,
        what: &str,
    ) -> Result<(Vec<u8>, ImageManifestInfo), ImageError> {
        let bytes = match self.content().read(&chosen.digest) {
            Ok(bytes) => bytes,
            Err(_) => {
                let fetched = registry.manifest(repository, &chosen.digest.to_string()).await?;
                let actual = Digest::of(&fetched.bytes);
                if actual != chosen.digest {
                    return Err(ImageError::DigestMismatch {
                        what: format!("the {what} manifest for this platform"),
                        expected: chosen.digest.clone(),
                        actual,
                    });
                }
                fetched.bytes
            }
        };
        match Manifest::parse(&bytes, Some(&chosen.media_type), what)? {
            Manifest::Image(info) => Ok((bytes, info)),
            Manifest::Index { .. } => Err(ImageError::Manifest(format!("{what}: an index names another index"))),
        }
    }

    /// The config blob, from the store if kept there, else from the registry (verified).
    async fn config(&self, registry: &Registry, repository: &str, blob: &BlobRef) -> Result<Config, ImageError> {
        let bytes = match self.content().read(&blob.digest) {
            Ok(bytes) => bytes,
            Err(_) => {
                let bytes = registry.blob_bytes(repository, &blob.digest).await?;
                let actual = Digest::of(&bytes);
                if actual != blob.digest {
                    return Err(ImageError::DigestMismatch {
                        what: "the image config".into(),
                        expected: blob.digest.clone(),
                        actual,
                    });
                }
                bytes
            }
        };
        let parsed = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Manifest(format!("the image config {} is invalid: {e}", blob.digest)))?;
        Ok(Config { bytes, parsed })
    }
}

/// A config blob and its parsed form.
struct Config {
    bytes: Vec<u8>,
    parsed: oci_spec::image::ImageConfiguration,
}

/// The layers of an image, with the diff IDs and chain IDs its config gives them.
pub(crate) fn layer_jobs(
    manifest: &ImageManifestInfo,
    config: &oci_spec::image::ImageConfiguration,
    what: &str,
) -> Result<Vec<LayerJob>, ImageError> {
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| d.parse::<Digest>().map_err(|e| ImageError::Manifest(format!("{what}: config rootfs: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Manifest(format!(
            "{what}: the manifest lists {} layers but the config {}",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let chain = chain_ids(&diff_ids);
    Ok(manifest
        .layers
        .iter()
        .zip(diff_ids)
        .zip(chain)
        .map(|((blob, diff_id), chain_id)| LayerJob { blob: blob.clone(), diff_id, chain_id })
        .collect())
}

/// A single-platform manifest for another platform is pulled, with a warning, as Docker does.
fn check_platform(config: &Config, wanted: Option<&Platform>, what: &str) {
    let host = Platform::host();
    let wanted = wanted.unwrap_or(&host);
    let (os, arch) = (config.parsed.os().to_string(), config.parsed.architecture().to_string());
    if !wanted.matches(&os, &arch, config.parsed.variant().as_deref()) {
        tracing::warn!("the image {what} is for platform {os}/{arch}, which does not match {wanted}");
    }
}

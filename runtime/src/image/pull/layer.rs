//! One layer of a pull: reuse it if unpacked, unpack it from the kept blob if
//! only that is here, else download it, verifying and unpacking as the bytes
//! arrive, with retries for transient failures.

use bytes::Bytes;
use futures_util::StreamExt;

use super::stream::{ChannelReader, Tee, unpack_blob};
use crate::image::ImageStore;
use crate::image::content::Durability;
use crate::image::digest::{Digest, HashingReader};
use crate::image::error::ImageError;
use crate::image::manifest::BlobRef;
use crate::image::progress::{Event, LayerState, Progress};
use crate::image::records::{self, LayerRow};
use crate::image::registry::{Registry, RegistryError};
use crate::image::unpack::Unpacked;

/// Attempts at a layer whose download fails in a way that may pass.
const LAYER_ATTEMPTS: u32 = 3;
/// Chunks in flight between the network task and the unpacking thread.
const CHANNEL_CHUNKS: usize = 64;

/// A layer to make present.
#[derive(Debug, Clone)]
pub struct LayerJob {
    pub blob: BlobRef,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

/// Where the layer's bytes came from, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    AlreadyPresent,
    FromLocalBlob,
    Downloaded,
}

pub async fn ensure(
    store: &ImageStore,
    registry: &Registry,
    repository: &str,
    job: &LayerJob,
    progress: &dyn Progress,
) -> Result<(LayerRow, Fetched), ImageError> {
    let event = |state| progress.report(Event::Layer { digest: job.blob.digest.clone(), state });
    if let Some(row) = store.present_layer(&job.chain_id)? {
        event(LayerState::Exists);
        return Ok((row, Fetched::AlreadyPresent));
    }
    let local_blob = {
        let db = store.db();
        records::has_blob(db.conn(), &job.blob.digest)? && store.content().contains(&job.blob.digest)
    };
    if local_blob {
        match unpack_local(store, job).await {
            Ok(row) => {
                event(LayerState::Complete);
                return Ok((row, Fetched::FromLocalBlob));
            }
            // A kept blob damaged (say, by a power cut before it was flushed): fetch it again.
            Err(ImageError::Corrupt(why)) => {
                tracing::warn!(blob = %job.blob.digest, %why, "kept blob is damaged; downloading it again");
                store.content().remove(&job.blob.digest)?;
            }
            Err(error) => return Err(error),
        }
    }
    let mut attempt = 1;
    loop {
        match download(store, registry, repository, job, progress).await {
            Ok(row) => {
                event(LayerState::Complete);
                return Ok((row, Fetched::Downloaded));
            }
            Err(ImageError::Registry(error)) if error.is_transient() && attempt < LAYER_ATTEMPTS => {
                tracing::info!(layer = %job.blob.digest, attempt, error = %error, "layer download failed; retrying");
                event(LayerState::Retrying { attempt, error: error.to_string() });
                tokio::time::sleep(crate::image::registry::backoff(attempt)).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The blob is kept but the layer is not unpacked (it was removed, or a pull stopped in between).
async fn unpack_local(store: &ImageStore, job: &LayerJob) -> Result<LayerRow, ImageError> {
    let (store, job) = (store.clone(), job.clone());
    tokio::task::spawn_blocking(move || unpack_kept(&store, &job))
        .await
        .map_err(|e| ImageError::Invalid(format!("the unpacking thread failed: {e}")))?
}

/// Unpacks a layer from its blob in the content store, checking the blob's digest as it is read.
pub fn unpack_kept(store: &ImageStore, job: &LayerJob) -> Result<LayerRow, ImageError> {
    let tmp = store.layer_tmp()?;
    let path = store.content().path(&job.blob.digest);
    let file = std::fs::File::open(&path).map_err(|source| ImageError::io("cannot read blob", &path, source))?;
    let mut hashing = HashingReader::new(file);
    let unpacked = unpack_blob(&mut hashing, tmp.path())?;
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|source| ImageError::io("cannot read blob", &path, source))?;
    let (digest, _, _) = hashing.finish();
    if digest != job.blob.digest {
        return Err(ImageError::Corrupt(format!("blob {} has digest {digest}", job.blob.digest)));
    }
    finish(store, tmp, job, unpacked, None)
}

async fn download(
    store: &ImageStore,
    registry: &Registry,
    repository: &str,
    job: &LayerJob,
    progress: &dyn Progress,
) -> Result<LayerRow, ImageError> {
    let digest = &job.blob.digest;
    let what = format!("layer {digest}");
    let response = registry.blob(repository, digest).await?;
    if let Some(length) = response.content_length()
        && length != job.blob.size
    {
        return Err(ImageError::SizeMismatch { what, expected: job.blob.size, actual: length });
    }
    let tmp = store.layer_tmp()?;
    let writer = store.content().writer()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    // The worker owns the temp directory until it is done with it, so a pull
    // abandoned half-way never removes a directory still being written.
    let worker = tokio::task::spawn_blocking(move || {
        let mut tee = Tee::new(ChannelReader::new(rx), writer);
        let unpacked = unpack_blob(&mut tee, tmp.path());
        let writer = tee.finish();
        (unpacked, writer, tmp)
    });
    let mut received: u64 = 0;
    let mut stream = response.bytes_stream();
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                failure = Some(ImageError::Registry(RegistryError::Body {
                    registry: registry.name().to_owned(),
                    what: what.clone(),
                    detail: crate::image::registry::error_chain(&e),
                }));
                break;
            }
        };
        received += chunk.len() as u64;
        if received > job.blob.size {
            failure = Some(ImageError::SizeMismatch { what: what.clone(), expected: job.blob.size, actual: received });
            break;
        }
        progress.report(Event::Layer {
            digest: digest.clone(),
            state: LayerState::Transferring { done: received, total: job.blob.size },
        });
        if tx.send(chunk).await.is_err() {
            // The worker stopped early: its error says why.
            break;
        }
    }
    drop(tx);
    let (unpacked, writer, tmp) =
        worker.await.map_err(|e| ImageError::Invalid(format!("the unpacking thread failed: {e}")))?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    if received != job.blob.size {
        return Err(ImageError::SizeMismatch { what, expected: job.blob.size, actual: received });
    }
    let writer = writer.map_err(|source| ImageError::io("cannot write blob", &store.root().tmp(), source))?;
    // The digest first: a damaged download explains any unpacking error that followed from it.
    let actual = writer.digest();
    if &actual != digest {
        return Err(ImageError::DigestMismatch { what, expected: digest.clone(), actual });
    }
    let unpacked = unpacked?;
    check_diff_id(job, &unpacked)?;
    writer.commit(digest, Durability::Verified)?;
    finish(store, tmp, job, unpacked, Some(&job.blob))
}

fn check_diff_id(job: &LayerJob, unpacked: &Unpacked) -> Result<(), ImageError> {
    if unpacked.diff_id != job.diff_id {
        return Err(ImageError::DigestMismatch {
            what: format!("the uncompressed content of layer {}", job.blob.digest),
            expected: job.diff_id.clone(),
            actual: unpacked.diff_id.clone(),
        });
    }
    Ok(())
}

fn finish(
    store: &ImageStore,
    tmp: tempfile::TempDir,
    job: &LayerJob,
    unpacked: Unpacked,
    new_blob: Option<&BlobRef>,
) -> Result<LayerRow, ImageError> {
    check_diff_id(job, &unpacked)?;
    let row = LayerRow {
        chain_id: job.chain_id.clone(),
        diff_id: job.diff_id.clone(),
        size: unpacked.size,
        blob_digest: Some(job.blob.digest.clone()),
    };
    store.install_layer(tmp, &row, new_blob.map(|b| (&b.digest, b.size, b.media_type.as_str())))?;
    Ok(row)
}

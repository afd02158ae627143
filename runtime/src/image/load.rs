//! `load`: images from a tar made by `save` (or `docker save`): an OCI image
//! layout (`index.json`) or the docker-save form (`manifest.json`). The
//! archive is read into a temp directory first; every blob is checked against
//! its digest before it enters the store, and layers are unpacked as in pull.

use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use serde_json::Value;

use super::ImageStore;
use super::commit::NewImageParts;
use super::content::Durability;
use super::digest::Digest;
use super::error::ImageError;
use super::manifest::{self, BlobRef, ImageManifestInfo, Manifest, OCI_MANIFEST};
use super::platform::Platform;
use super::pull::{layer_jobs, unpack_kept};
use super::records;
use super::reference::Reference;
use super::unpack::EntryPath;

/// An image `load` stored, and the names it gave it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Digest,
    pub names: Vec<Reference>,
}

impl ImageStore {
    pub fn load(&self, input: impl Read) -> Result<Vec<Loaded>, ImageError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("load-{}-", std::process::id()))
            .tempdir_in(self.root().tmp())
            .map_err(|e| ImageError::io("cannot create a temp directory in", &self.root().tmp(), e))?;
        extract(input, dir.path())?;
        if dir.path().join("index.json").is_file() {
            self.load_oci(dir.path())
        } else if dir.path().join("manifest.json").is_file() {
            self.load_docker(dir.path())
        } else {
            Err(ImageError::Invalid(
                "not an image archive: it has neither index.json (OCI layout) nor manifest.json (docker save)".into(),
            ))
        }
    }

    fn load_oci(&self, dir: &Path) -> Result<Vec<Loaded>, ImageError> {
        let index: Value = read_json(&dir.join("index.json"))?;
        let entries = index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut loaded: Vec<Loaded> = Vec::new();
        for entry in entries {
            let digest = entry
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(|| ImageError::Invalid("index.json: a manifest entry has no digest".into()))?
                .parse::<Digest>()?;
            let annotation = |key: &str| entry.pointer(&format!("/annotations/{}", key.replace('/', "~1")));
            let name = annotation("io.containerd.image.name")
                .or_else(|| {
                    annotation("org.opencontainers.image.ref.name")
                        .filter(|v| v.as_str().is_some_and(|s| s.contains([':', '/'])))
                })
                .and_then(Value::as_str)
                .map(Reference::parse)
                .transpose()?;
            let id = self.load_manifest(dir, &digest, name.as_ref())?;
            match loaded.iter_mut().find(|l| l.id == id) {
                Some(known) => known.names.extend(name),
                None => loaded.push(Loaded { id, names: name.into_iter().collect() }),
            }
        }
        Ok(loaded)
    }

    /// Loads the image a manifest (or index, for this platform) in the layout names.
    fn load_manifest(&self, dir: &Path, digest: &Digest, name: Option<&Reference>) -> Result<Digest, ImageError> {
        let what = format!("manifest {digest} in the archive");
        let bytes = read_blob(dir, digest)?;
        let mut manifests = Vec::new();
        let info = match Manifest::parse(&bytes, None, &what)? {
            Manifest::Image(info) => {
                manifests.push((digest.clone(), bytes, info.media_type.clone()));
                info
            }
            Manifest::Index { media_type, index } => {
                let chosen = manifest::select(&index, &Platform::host(), &what)?;
                manifests.push((digest.clone(), bytes, media_type));
                let platform_bytes = read_blob(dir, &chosen.digest)?;
                let Manifest::Image(info) = Manifest::parse(&platform_bytes, Some(&chosen.media_type), &what)? else {
                    return Err(ImageError::Manifest(format!("{what}: an index names another index")));
                };
                manifests.push((chosen.digest.clone(), platform_bytes, info.media_type.clone()));
                info
            }
        };
        for layer in &info.layers {
            self.import_blob(&blob_file(dir, &layer.digest), Some(&layer.digest), &layer.media_type)?;
        }
        let mut names = Vec::new();
        if let Some(name) = name {
            names.push(name.clone());
        }
        self.store_image(dir, &manifests, &info, &names)
    }

    fn load_docker(&self, dir: &Path) -> Result<Vec<Loaded>, ImageError> {
        let entries: Value = read_json(&dir.join("manifest.json"))?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        let mut loaded = Vec::new();
        for entry in entries {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            let config_path =
                text("Config").ok_or_else(|| ImageError::Invalid("manifest.json: an entry has no Config".into()))?;
            let config_bytes = read_member(dir, &config_path)?;
            let config = BlobRef {
                digest: Digest::of(&config_bytes),
                size: config_bytes.len() as u64,
                media_type: manifest::OCI_CONFIG.into(),
            };
            let mut layers = Vec::new();
            for layer in entry.get("Layers").and_then(Value::as_array).cloned().unwrap_or_default() {
                let path = member_path(dir, layer.as_str().unwrap_or_default())?;
                let media_type = layer_media_type(&path)?;
                let (digest, size) = self.import_blob(&path, None, media_type)?;
                layers.push(BlobRef { digest, size, media_type: media_type.into() });
            }
            let descriptor =
                |b: &BlobRef| serde_json::json!({"mediaType": b.media_type, "digest": b.digest, "size": b.size});
            let manifest_bytes = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": descriptor(&config), "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
            }))
            .expect("JSON");
            let manifest_digest = Digest::of(&manifest_bytes);
            let info = ImageManifestInfo { media_type: OCI_MANIFEST.into(), config, layers };
            let names = entry
                .get("RepoTags")
                .and_then(Value::as_array)
                .map(|tags| tags.iter().filter_map(Value::as_str).map(Reference::parse).collect::<Result<Vec<_>, _>>())
                .transpose()?
                .unwrap_or_default();
            // The config is stored from the archive by store_image; write it where it looks.
            let blobs = dir.join("blobs/sha256");
            std::fs::create_dir_all(&blobs).map_err(|e| ImageError::io("cannot create", &blobs, e))?;
            std::fs::write(blob_file(dir, &info.config.digest), &config_bytes)
                .map_err(|e| ImageError::io("cannot write", dir, e))?;
            let manifests = vec![(manifest_digest, manifest_bytes, OCI_MANIFEST.to_owned())];
            let id = self.store_image(dir, &manifests, &info, &names)?;
            loaded.push(Loaded { id, names });
        }
        Ok(loaded)
    }

    /// Unpacks the layers (their blobs are in the store by now) and records the image.
    fn store_image(
        &self,
        dir: &Path,
        manifests: &[(Digest, Vec<u8>, String)],
        info: &ImageManifestInfo,
        names: &[Reference],
    ) -> Result<Digest, ImageError> {
        let config_bytes = read_blob(dir, &info.config.digest)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|e| ImageError::Manifest(format!("the image config {} is invalid: {e}", info.config.digest)))?;
        let jobs = layer_jobs(info, &config, &format!("image {}", info.config.digest))?;
        let mut layers = Vec::new();
        for job in &jobs {
            let row = match self.present_layer(&job.chain_id)? {
                Some(row) => row,
                None => unpack_kept(self, job)?,
            };
            layers.push(row);
        }
        self.commit_image(&NewImageParts {
            manifests,
            config: &info.config,
            config_bytes: &config_bytes,
            layer_blobs: &info.layers,
            layers: &layers,
            names,
        })?;
        Ok(info.config.digest.clone())
    }

    /// Copies a file into the content store; checks it against `expected` if given. Returns digest and size.
    fn import_blob(
        &self,
        path: &Path,
        expected: Option<&Digest>,
        media_type: &str,
    ) -> Result<(Digest, u64), ImageError> {
        let mut file = std::fs::File::open(path).map_err(|e| ImageError::io("the archive lacks", path, e))?;
        let mut writer = self.content().writer()?;
        let size = std::io::copy(&mut file, &mut writer).map_err(|e| ImageError::io("cannot read", path, e))?;
        let digest = writer.digest();
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(ImageError::DigestMismatch {
                what: format!("blob {expected} in the archive"),
                expected: expected.clone(),
                actual: digest,
            });
        }
        writer.commit(&digest, Durability::Verified)?;
        let db = self.db();
        records::record_blob(db.conn(), &digest, size, media_type)?;
        Ok((digest, size))
    }
}

/// Reads the archive into `dir`: regular files and directories only, at checked paths.
fn extract(input: impl Read, dir: &Path) -> Result<(), ImageError> {
    let bad = |e: std::io::Error| ImageError::Invalid(format!("the image archive is not a valid tar: {e}"));
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let Some(path) = EntryPath::parse(&entry.path_bytes())? else { continue };
        let target = dir.join(path.relative());
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| ImageError::io("cannot create", &target, e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| ImageError::io("cannot create", parent, e))?;
                }
                let mut file =
                    std::fs::File::create(&target).map_err(|e| ImageError::io("cannot create", &target, e))?;
                std::io::copy(&mut entry, &mut file).map_err(bad)?;
            }
            // Links (older docker save shares layers by symlink) and anything else are not followed.
            other => tracing::debug!(entry = %path.display(), kind = ?other, "skipping an archive entry"),
        }
    }
    Ok(())
}

fn blob_file(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

fn read_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>, ImageError> {
    let path = blob_file(dir, digest);
    let bytes = std::fs::read(&path).map_err(|e| ImageError::io("the archive lacks", &path, e))?;
    let actual = Digest::of(&bytes);
    if &actual != digest {
        return Err(ImageError::DigestMismatch {
            what: format!("blob {digest} in the archive"),
            expected: digest.clone(),
            actual,
        });
    }
    Ok(bytes)
}

/// A file named inside the archive, by a path that must stay inside it.
fn member_path(dir: &Path, name: &str) -> Result<PathBuf, ImageError> {
    let path = EntryPath::parse(name.as_bytes())?
        .ok_or_else(|| ImageError::Invalid(format!("manifest.json names {name:?}, which is not a file")))?;
    Ok(dir.join(path.relative()))
}

fn read_member(dir: &Path, name: &str) -> Result<Vec<u8>, ImageError> {
    let path = member_path(dir, name)?;
    std::fs::read(&path).map_err(|e| ImageError::io("the archive lacks", &path, e))
}

fn read_json(path: &Path) -> Result<Value, ImageError> {
    let bytes = std::fs::read(path).map_err(|e| ImageError::io("cannot read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| ImageError::Invalid(format!("{}: invalid JSON: {e}", path.display())))
}

/// A layer file's media type, told by its first bytes.
pub(super) fn layer_media_type(path: &Path) -> Result<&'static str, ImageError> {
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(|e| ImageError::io("the archive lacks", path, e))?;
    let n = file.read(&mut magic).map_err(|e| ImageError::io("cannot read", path, e))?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => manifest::OCI_LAYER_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd] => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    })
}

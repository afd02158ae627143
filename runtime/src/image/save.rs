//! `save`: images as one tar that is both an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/..`) and in docker-save form (`manifest.json`),
//! as `docker save` writes since Docker 25. Blobs go out as kept, so digests
//! survive a save/load round trip.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use super::ImageStore;
use super::digest::{Digest, HashingReader};
use super::error::ImageError;
use super::local::LocalManifest;
use super::records::{self, RefKind};
use super::reference::Reference;

impl ImageStore {
    /// Writes the images `names` (references or IDs) to `out` as a tar.
    pub fn save(&self, names: &[String], out: impl Write) -> Result<(), ImageError> {
        let mut images: Vec<(Digest, LocalManifest, Vec<Reference>)> = Vec::new();
        for name in names {
            let id = self.resolve_id(name)?;
            let tags = match Reference::parse(name) {
                Ok(reference) if reference.digest().is_none() && self.is_name_of(&reference, &id)? => vec![reference],
                // By ID: every tag it has, as docker save does.
                _ => self.tags_of(&id)?,
            };
            match images.iter_mut().find(|(known, _, _)| known == &id) {
                Some((_, _, known_tags)) => known_tags.extend(tags),
                None => images.push((id.clone(), self.local_manifest(&id)?, tags)),
            }
        }
        let mut tar = tar::Builder::new(out);
        let archive_error = |e: std::io::Error| ImageError::Invalid(format!("cannot write the archive: {e}"));
        append(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(archive_error)?;
        let mut written = BTreeSet::new();
        let mut index = Vec::new();
        let mut docker = Vec::new();
        for (_, manifest, tags) in &images {
            let mut digests = vec![manifest.digest.clone(), manifest.config.digest.clone()];
            digests.extend(manifest.layers.iter().map(|l| l.digest.clone()));
            for digest in digests {
                if written.insert(digest.clone()) {
                    self.append_blob(&mut tar, &digest)?;
                }
            }
            let descriptor =
                json!({"mediaType": manifest.media_type, "digest": manifest.digest, "size": manifest.bytes.len()});
            if tags.is_empty() {
                index.push(descriptor.clone());
            }
            for tag in tags {
                let mut entry = descriptor.clone();
                entry["annotations"] = json!({
                    "io.containerd.image.name": tag.to_string(),
                    "org.opencontainers.image.ref.name": tag.tag().unwrap_or("latest"),
                });
                index.push(entry);
            }
            docker.push(json!({
                "Config": blob_path(&manifest.config.digest),
                "RepoTags": tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
                "Layers": manifest.layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
            }));
        }
        let index = json!({"schemaVersion": 2, "mediaType": super::manifest::OCI_INDEX, "manifests": index});
        append(&mut tar, "index.json", &serde_json::to_vec(&index).expect("JSON")).map_err(archive_error)?;
        append(&mut tar, "manifest.json", &serde_json::to_vec(&Value::Array(docker)).expect("JSON"))
            .map_err(archive_error)?;
        tar.into_inner().and_then(|mut out| out.flush()).map_err(archive_error)
    }

    fn is_name_of(&self, reference: &Reference, id: &Digest) -> Result<bool, ImageError> {
        let db = self.db();
        Ok(records::image_for_ref(db.conn(), reference)?.as_ref() == Some(id))
    }

    fn tags_of(&self, id: &Digest) -> Result<Vec<Reference>, ImageError> {
        let db = self.db();
        Ok(records::image_refs(db.conn(), id)?
            .into_iter()
            .filter(|r| r.kind == RefKind::Tag)
            .filter_map(|r| Reference::parse(&r.name).ok())
            .collect())
    }

    /// Streams a kept blob into the archive, checking its digest on the way.
    fn append_blob<W: Write>(&self, tar: &mut tar::Builder<W>, digest: &Digest) -> Result<(), ImageError> {
        let path = self.content().path(digest);
        let file = std::fs::File::open(&path).map_err(|e| ImageError::io("cannot read blob", &path, e))?;
        let size = file.metadata().map_err(|e| ImageError::io("cannot read blob", &path, e))?.len();
        let mut reader = HashingReader::new(file);
        let mut header = header(size);
        tar.append_data(&mut header, blob_path(digest), &mut reader)
            .map_err(|e| ImageError::Invalid(format!("cannot write the archive: {e}")))?;
        let (actual, _, _) = reader.finish();
        if &actual != digest {
            return Err(ImageError::Corrupt(format!("blob {} has digest {actual}", path.display())));
        }
        Ok(())
    }
}

fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    tar.append_data(&mut header(bytes.len() as u64), name, bytes)
}

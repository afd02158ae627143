//! `images` and `image inspect`: what the store holds, in Docker's shapes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::records::{self, RefKind};
use super::reference::Reference;

/// One image as `images` lists it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// Tag names, normalised.
    pub tags: Vec<Reference>,
    /// Digest names, normalised.
    pub digests: Vec<Reference>,
    /// The config's `created`, as written there (RFC 3339).
    pub created: Option<String>,
    /// Bytes of the unpacked layers.
    pub size: u64,
    /// When the image entered this store (unix seconds).
    pub added_at: i64,
}

impl ImageStore {
    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let (rows, refs) = {
            let db = self.db();
            (records::all_images(db.conn())?, records::all_refs(db.conn())?)
        };
        let mut names: BTreeMap<Digest, (Vec<Reference>, Vec<Reference>)> = BTreeMap::new();
        for r in refs {
            let Ok(reference) = Reference::parse(&r.name) else { continue };
            let entry = names.entry(r.image_id).or_default();
            match r.kind {
                RefKind::Tag => entry.0.push(reference),
                RefKind::Digest => entry.1.push(reference),
            }
        }
        rows.into_iter()
            .map(|row| {
                let (tags, digests) = names.remove(&row.id).unwrap_or_default();
                let created = self.config_json(&row.id)?.get("created").and_then(Value::as_str).map(str::to_owned);
                Ok(ImageSummary { id: row.id, tags, digests, created, size: row.size, added_at: row.added_at })
            })
            .collect()
    }

    fn config_json(&self, id: &Digest) -> Result<Value, ImageError> {
        let bytes = self.content().read(id)?;
        serde_json::from_slice(&bytes).map_err(|e| ImageError::Corrupt(format!("the config of image {id}: {e}")))
    }

    /// `image inspect`: Docker's JSON for one image.
    pub fn inspect(&self, reference_or_id: &str) -> Result<Value, ImageError> {
        let id = self.resolve_id(reference_or_id)?;
        let image = self.image(&id)?;
        let (row, last_tag) = {
            let db = self.db();
            let row = records::image(db.conn(), &id)?.ok_or_else(|| ImageError::NotFound(id.to_string()))?;
            (row, records::last_tag_time(db.conn(), &id)?)
        };
        let config = self.config_json(&id)?;
        let text = |key: &str| config.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        for name in &image.references {
            let Ok(reference) = Reference::parse(name) else { continue };
            if reference.digest().is_some() {
                digests.push(reference.familiar())
            } else {
                tags.push(reference.familiar())
            }
        }
        let lower: Vec<String> = image.layer_dirs.iter().rev().map(|d| d.display().to_string()).collect();
        let mut inspect = json!({
            "Id": id.to_string(),
            "RepoTags": tags,
            "RepoDigests": digests,
            "Parent": "",
            "Comment": text("comment"),
            "Created": config.get("created").cloned().unwrap_or(Value::Null),
            "DockerVersion": text("docker_version"),
            "Author": text("author"),
            "Config": docker_config(config.get("config")),
            "Architecture": text("architecture"),
            "Os": text("os"),
            "Size": row.size,
            "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": lower.join(":")}},
            "RootFS": {"Type": "layers", "Layers": config.pointer("/rootfs/diff_ids").cloned().unwrap_or(json!([]))},
            "Metadata": {"LastTagTime": last_tag.map(rfc3339).unwrap_or_else(|| "0001-01-01T00:00:00Z".into())},
        });
        if let Some(variant) = config.get("variant").and_then(Value::as_str) {
            inspect["Variant"] = json!(variant);
        }
        Ok(inspect)
    }
}

/// The image's `config`, with the keys Docker always shows.
fn docker_config(config: Option<&Value>) -> Value {
    let mut shown = json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null,
    });
    if let (Some(Value::Object(given)), Value::Object(shown)) = (config, &mut shown) {
        for (key, value) in given {
            shown.insert(key.clone(), value.clone());
        }
    }
    shown
}

pub fn rfc3339(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

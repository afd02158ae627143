//! `rmi`: untag, and delete an image once no name is left; layers and blobs
//! no image uses any more are freed in the same transaction and their files
//! removed after it commits. Images that containers use are kept unless
//! forced, and even then only untagged (their layers stay in use).

use std::collections::HashSet;

use super::ImageStore;
use super::digest::Digest;
use super::error::ImageError;
use super::records::{self, RefKind};
use super::reference::Reference;

/// One line of what `rmi` did, as Docker prints them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Removed {
    /// A name was removed (its familiar form).
    Untagged(String),
    /// The image was deleted.
    Deleted(Digest),
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Removed::Untagged(name) => write!(f, "Untagged: {name}"),
            Removed::Deleted(id) => write!(f, "Deleted: {id}"),
        }
    }
}

impl ImageStore {
    /// Removes `reference_or_id`. `in_use` holds the IDs (`sha256:..`) of images containers use.
    pub fn remove(
        &self,
        reference_or_id: &str,
        force: bool,
        in_use: &HashSet<String>,
    ) -> Result<Vec<Removed>, ImageError> {
        let id = self.resolve_id(reference_or_id)?;
        let used = in_use.contains(&id.to_string());
        let by_name = match Reference::parse(reference_or_id) {
            Ok(reference) => {
                let db = self.db();
                (records::image_for_ref(db.conn(), &reference)?.as_ref() == Some(&id)).then_some(reference)
            }
            Err(_) => None,
        };
        let mut done = Vec::new();
        let freed = {
            let mut db = self.db();
            let tx = db.write().map_err(ImageError::sql("removing an image"))?;
            let refs = records::image_refs(&tx, &id)?;
            let doomed: Vec<String> = match &by_name {
                Some(reference) => {
                    let name = records::ref_name(reference);
                    let repository = reference.name();
                    let other_tags_here = refs.iter().any(|r| {
                        r.kind == RefKind::Tag && r.name != name && repo_of(&r.name).as_deref() == Some(&repository)
                    });
                    // The last tag of a repository takes the repository's digest names with it, as in Docker.
                    refs.iter()
                        .filter(|r| {
                            r.name == name
                                || (!other_tags_here
                                    && r.kind == RefKind::Digest
                                    && repo_of(&r.name).as_deref() == Some(&repository))
                        })
                        .map(|r| r.name.clone())
                        .collect()
                }
                None => {
                    let repositories: HashSet<String> = refs.iter().filter_map(|r| repo_of(&r.name)).collect();
                    if repositories.len() > 1 && !force {
                        return Err(ImageError::MultipleReferences {
                            id: short(&id),
                            count: refs.len(),
                            names: refs.iter().map(|r| familiar(&r.name)).collect::<Vec<_>>().join(", "),
                        });
                    }
                    refs.iter().map(|r| r.name.clone()).collect()
                }
            };
            let deletes_image = doomed.len() == refs.len();
            if used && deletes_image && !force {
                return Err(ImageError::InUse { reference: reference_or_id.to_owned(), id: short(&id) });
            }
            for name in &doomed {
                records::remove_ref(&tx, name)?;
                done.push(Removed::Untagged(familiar(name)));
            }
            let freed = if deletes_image && !used {
                records::delete_image(&tx, &id)?;
                done.push(Removed::Deleted(id.clone()));
                Some((records::take_unreferenced_layers(&tx)?, records::take_unreferenced_blobs(&tx)?))
            } else {
                None
            };
            tx.commit().map_err(ImageError::sql("removing an image"))?;
            freed
        };
        if let Some((layers, blobs)) = freed {
            self.delete_files(&layers, &blobs);
        }
        Ok(done)
    }

    /// Removes the directories and files of freed layers and blobs. Layers are
    /// first renamed aside, so none is ever seen half-removed under `layers/`.
    pub(crate) fn delete_files(&self, layers: &[Digest], blobs: &[Digest]) {
        for chain_id in layers {
            let dir = self.layer_dir(chain_id);
            let aside = self.root().tmp().join(format!("removing-{}-{}", std::process::id(), chain_id.hex()));
            match std::fs::rename(&dir, &aside) {
                Ok(()) => {
                    if let Err(e) = std::fs::remove_dir_all(&aside) {
                        tracing::warn!(path = %aside.display(), error = %e, "cannot remove a freed layer");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %dir.display(), error = %e, "cannot remove a freed layer"),
            }
        }
        for digest in blobs {
            if let Err(e) = self.content().remove(digest) {
                tracing::warn!(blob = %digest, error = %e, "cannot remove a freed blob");
            }
        }
    }
}

/// `docker.io/library/busybox:latest` -> `docker.io/library/busybox`.
fn repo_of(name: &str) -> Option<String> {
    Reference::parse(name).ok().map(|r| r.name())
}

pub(crate) fn familiar(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_owned(), |r| r.familiar())
}

/// The 12 hex digits Docker shows for an ID.
pub fn short(id: &Digest) -> String {
    id.hex()[..12].to_owned()
}

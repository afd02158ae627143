//! Images: references, the registry client, the blob and layer store, and the
//! image verbs (pull, push, tag, rmi, prune, save, load, import, inspect).
//!
//! State (DESIGN.md, "State"): blobs under `<root>/content/sha256/<hex>`,
//! unpacked layers under `<root>/layers/<chain-id hex>`, metadata in the
//! "images" tables of `<root>/berth.db`.

mod commit;
mod content;
mod digest;
mod error;
mod import;
mod layers;
mod list;
mod load;
mod local;
mod manifest;
mod platform;
mod progress;
mod prune;
mod pull;
mod push;
mod records;
mod reference;
pub mod registry;
mod remove;
mod save;
mod schema;
mod tag;
mod unpack;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use content::ContentStore;
pub use digest::{Digest, DigestError, Hasher, HashingReader};
pub use error::ImageError;
pub use import::{Change, ChangeError, ImportOptions, Imported};
pub use list::{ImageSummary, rfc3339};
pub use load::Loaded;
pub use platform::Platform;
pub use progress::{Event, LayerState, Progress, Silent};
pub use prune::PruneReport;
pub use pull::{PullOptions, Pulled};
pub use push::Pushed;
pub use reference::{Reference, ReferenceError};
pub use registry::RegistryOptions;
pub use remove::{Removed, short};
pub use schema::MIGRATION;
pub use unpack::{UnpackError, Unpacked, unpack};

use crate::store::{Db, Root};

/// The image store on a [`Root`]. Cheap to clone: clones share one database connection.
#[derive(Clone, Debug)]
pub struct ImageStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: Root,
    content: ContentStore,
    db: Mutex<Db>,
}

/// A local image, ready to run.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<config digest hex>`, as Docker's image ID.
    pub id: String,
    /// The image's config blob.
    pub config: oci_spec::image::ImageConfiguration,
    /// Unpacked layers, lowest first (overlayfs lowerdirs).
    pub layer_dirs: Vec<PathBuf>,
    /// Normalised `repo:tag` and `repo@digest` names.
    pub references: Vec<String>,
}

impl ImageStore {
    /// Opens the store, creating its directories and tables if needed.
    pub fn open(root: &Root) -> Result<ImageStore, ImageError> {
        for dir in [root.content(), root.layers(), root.tmp()] {
            std::fs::create_dir_all(&dir).map_err(|source| ImageError::io("cannot create", &dir, source))?;
        }
        let db = Db::open(&root.db(), &[MIGRATION])?;
        let content = ContentStore::new(root.content(), root.tmp());
        Ok(ImageStore { inner: Arc::new(Inner { root: root.clone(), content, db: Mutex::new(db) }) })
    }

    pub fn root(&self) -> &Root {
        &self.inner.root
    }

    pub(crate) fn content(&self) -> &ContentStore {
        &self.inner.content
    }

    /// The database, locked. Hold it briefly: never across an await or a download.
    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        // A panic while holding the lock cannot leave a half-done transaction
        // (rusqlite rolls back on drop), so the data behind a poisoned lock is fine.
        self.inner.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where a layer is unpacked.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.inner.root.layers().join(chain_id.hex())
    }

    /// A local image by reference (`busybox`, `localhost:5000/x:tag`,
    /// `name@sha256:..`) or by (a prefix of) its ID.
    pub fn resolve(&self, reference_or_id: &str) -> Result<Image, ImageError> {
        let id = self.resolve_id(reference_or_id)?;
        self.image(&id)
    }

    /// The ID of a local image, found as [`ImageStore::resolve`] finds it.
    pub fn resolve_id(&self, reference_or_id: &str) -> Result<Digest, ImageError> {
        let db = self.db();
        let conn = db.conn();
        let as_reference = Reference::parse(reference_or_id);
        if let Ok(reference) = &as_reference
            && let Some(id) = records::image_for_ref(conn, reference)?
        {
            return Ok(id);
        }
        let hex = reference_or_id.strip_prefix("sha256:").unwrap_or(reference_or_id);
        let is_id = !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if is_id {
            let matches = records::images_by_prefix(conn, &hex.to_ascii_lowercase())?;
            match matches.len() {
                1 => return Ok(matches.into_iter().next().expect("one match")),
                0 => {}
                count => return Err(ImageError::Ambiguous { prefix: reference_or_id.to_owned(), count }),
            }
        }
        match as_reference {
            Err(error) if !is_id => Err(error.into()),
            Ok(reference) => Err(ImageError::NotFound(reference.familiar())),
            Err(_) => Err(ImageError::NotFound(reference_or_id.to_owned())),
        }
    }

    /// The image with this ID.
    pub fn image(&self, id: &Digest) -> Result<Image, ImageError> {
        let (chain, refs) = {
            let db = self.db();
            let conn = db.conn();
            if records::image(conn, id)?.is_none() {
                return Err(ImageError::NotFound(id.to_string()));
            }
            (records::image_chain(conn, id)?, records::image_refs(conn, id)?)
        };
        let bytes = self.content().read(id)?;
        let config = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Corrupt(format!("the config of image {id} does not parse: {e}")))?;
        Ok(Image {
            id: id.to_string(),
            config,
            layer_dirs: chain.iter().map(|c| self.layer_dir(c)).collect(),
            references: refs.into_iter().map(|r| r.name).collect(),
        })
    }
}

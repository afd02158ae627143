//! Errors of the image layer. Each says what was asked, what failed and, where
//! there is one, what to do.

use std::path::{Path, PathBuf};

use super::digest::{Digest, DigestError};
use super::reference::ReferenceError;
use super::registry::RegistryError;
use super::unpack::UnpackError;
use crate::store::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("image ID prefix {prefix:?} is ambiguous: it matches {count} images; give more digits")]
    Ambiguous { prefix: String, count: usize },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("image database, {context}: {source}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the image store is damaged: {0}; remove the image (berth rmi -f) and pull it again")]
    Corrupt(String),
    #[error("{what} has digest {actual}, expected {expected}: refusing to keep it")]
    DigestMismatch { what: String, expected: Digest, actual: Digest },
    #[error("{what} is {actual} bytes, expected {expected}: refusing to keep it")]
    SizeMismatch { what: String, expected: u64, actual: u64 },
    #[error("{0}")]
    Manifest(String),
    #[error("{0}")]
    Platform(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(
        "conflict: unable to remove {reference}: image {id} is used by a container; stop and remove it first, or use -f"
    )]
    InUse { reference: String, id: String },
    #[error(
        "conflict: unable to delete {id} by ID: it is referenced by {count} names ({names}); remove them by name, or use -f"
    )]
    MultipleReferences { id: String, count: usize, names: String },
    #[error("{path}: {reason}", path = path.display())]
    Archive { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl ImageError {
    pub fn io(context: &'static str, path: &Path, source: std::io::Error) -> Self {
        ImageError::Io { context, path: path.to_owned(), source }
    }

    /// Maps a rusqlite error, naming what was being done.
    pub fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> ImageError {
        move |source| ImageError::Sql { context, source }
    }
}

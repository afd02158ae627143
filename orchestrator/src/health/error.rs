//! Errors of the healthcheck module. Config errors name the key they are about.

use std::path::PathBuf;

use berth_runtime::container::ContainerError;
use berth_runtime::image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A healthcheck setting that cannot be used; `key` names where it came
    /// from (`healthcheck.interval`, `the image's config.Healthcheck.Test`).
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// The image's config blob is not the JSON an image config is.
    #[error("the config of image {image} does not parse: {message}")]
    ImageConfig { image: String, message: String },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The container runs, but has no start time on record to time its start period from.
    #[error("container {0} has no recorded start time")]
    NotStarted(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// The saved health of a container does not parse.
    #[error("{path}: {message}; remove the file and the next probe writes it again")]
    Corrupt { path: PathBuf, message: String },
}

impl HealthError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> HealthError {
        HealthError::Invalid { key: key.into(), message: message.into() }
    }
}

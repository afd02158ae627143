//! The OCI distribution client, on reqwest: anonymous, bearer-token and basic
//! auth, retries with backoff on transient failures, plain http for loopback
//! and user-marked insecure registries (as Docker does).

mod api;
mod challenge;
mod client;
mod credentials;

use std::path::PathBuf;

pub use client::{Access, Registry, backoff};
pub use credentials::{Credentials, DockerConfig, server_key};

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Registries (`host:port`) reached over plain http, besides loopback ones.
    pub insecure: Vec<String>,
    /// The docker client config to take credentials from; `None`: the default place.
    pub config_path: Option<PathBuf>,
}

impl RegistryOptions {
    pub fn config_path(&self) -> PathBuf {
        self.config_path.clone().unwrap_or_else(DockerConfig::default_path)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach registry {registry} ({url}) after {attempts} attempts: {detail}")]
    Unreachable { registry: String, url: String, attempts: u32, detail: String },
    #[error("{what}: not found in registry {registry}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NotFound { registry: String, what: String, detail: Option<String> },
    #[error(
        "registry {registry} requires authentication for {what}{}; run `berth login {registry}`",
        detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    Unauthorized { registry: String, what: String, detail: Option<String> },
    #[error("registry {registry} denied access to {what}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Denied { registry: String, what: String, detail: Option<String> },
    #[error("registry {registry} answered {status} to {what}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status { registry: String, what: String, status: u16, detail: Option<String> },
    #[error("registry {registry}: {what}: {detail}")]
    Protocol { registry: String, what: String, detail: String },
    #[error("token server {realm} for registry {registry}: {detail}")]
    Token { registry: String, realm: String, detail: String },
    #[error("credential helper docker-credential-{helper}: {detail}")]
    Helper { helper: String, detail: String },
    #[error("docker client config {}: {detail}", path.display())]
    Config { path: PathBuf, detail: String },
    #[error("reading {what} from registry {registry}: {detail}")]
    Body { registry: String, what: String, detail: String },
}

impl RegistryError {
    /// Worth another try: the network or the server may do better next time.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::Body { .. } => true,
            RegistryError::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

/// An error and its causes on one line: reqwest's own message alone says little.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

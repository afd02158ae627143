//! Messages of the image endpoints (`/v1/images/...`): what `pull`, `push`,
//! `images`, `tag`, `rmi`, `image inspect|prune`, `save`, `load` and `import`
//! send and get. Registry credentials stay with the user, as Docker keeps
//! them: the CLI reads its `~/.docker/config.json` (and helpers) and sends the
//! registry's credentials with the request, in [`AUTH_HEADER`].

use base64::Engine as _;
use berth_runtime::image::registry::Credentials;
use berth_runtime::image::{Change, Digest, Event, Removed};
use serde::{Deserialize, Serialize};

/// Docker's header for them: base64url of `{"username", "password", "serveraddress"}`.
pub const AUTH_HEADER: &str = "x-registry-auth";

#[derive(Serialize, Deserialize)]
struct AuthConfig {
    username: String,
    password: String,
    serveraddress: String,
}

/// The [`AUTH_HEADER`] value for `credentials` at `registry`.
pub fn encode_auth(registry: &str, credentials: &Credentials) -> String {
    let config = AuthConfig {
        username: credentials.username.clone(),
        password: credentials.secret.clone(),
        serveraddress: registry.to_owned(),
    };
    let json = serde_json::to_vec(&config).expect("credentials serialize");
    base64::engine::general_purpose::URL_SAFE.encode(json)
}

/// The credentials in an [`AUTH_HEADER`] value.
pub fn decode_auth(value: &str) -> Result<Credentials, String> {
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(value.trim())
        .map_err(|e| format!("{AUTH_HEADER} is not base64url: {e}"))?;
    let config: AuthConfig =
        serde_json::from_slice(&json).map_err(|e| format!("{AUTH_HEADER} is not an auth config: {e}"))?;
    Ok(Credentials { username: config.username, secret: config.password })
}

/// `GET /v1/images`: one image and its names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRow {
    pub id: Digest,
    /// Normalised `repo:tag` names.
    pub tags: Vec<String>,
    /// Normalised `repo@digest` names.
    pub digests: Vec<String>,
    /// The config's `created` (RFC 3339).
    pub created: Option<String>,
    pub size: u64,
}

/// `?name=` of `GET /v1/images/inspect` and `GET /v1/images/exists`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameQuery {
    pub name: String,
}

/// `POST /v1/images/tag`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRequest {
    pub source: String,
    pub target: String,
}

/// `POST /v1/images/remove`: what was done, a line each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveRequest {
    pub name: String,
    pub force: bool,
}

/// `POST /v1/images/prune`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneRequest {
    pub all: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pruned {
    pub removed: Vec<Removed>,
    pub reclaimed: u64,
}

/// `POST /v1/images/pull`; credentials in [`AUTH_HEADER`]; the answer: JSON lines of [`Transfer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub reference: String,
    /// `os/arch[/variant]`; the host's when absent.
    pub platform: Option<String>,
    /// Registries (`host:port`) to reach over plain http.
    pub insecure: Vec<String>,
}

/// `POST /v1/images/push`; credentials in [`AUTH_HEADER`]; the answer: JSON lines of [`Transfer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    pub reference: String,
    pub insecure: Vec<String>,
}

/// One line of a pull's or push's progress; the last says how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transfer {
    Progress(Event),
    Pulled { digest: Digest, changed: bool },
    Pushed { digest: Digest, size: usize },
    Failed(String),
}

/// `POST /v1/images/save`: the answer is the tar archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveRequest {
    pub names: Vec<String>,
}

/// `POST /v1/images/load` (the body: an archive): an image it stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImage {
    pub id: Digest,
    /// Familiar names (`busybox:latest`).
    pub names: Vec<String>,
}

/// `POST /v1/images/import?options=JSON` (the body: the root file system tarball).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    pub changes: Vec<Change>,
    pub message: Option<String>,
    /// Where the tarball came from (a path, or `-`), for the history comment.
    pub source: String,
    pub reference: Option<String>,
}

/// The query of `POST /v1/images/import`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportQuery {
    /// An [`ImportRequest`] as JSON.
    pub options: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_travel_in_dockers_header() {
        let credentials = Credentials { username: "alice".into(), secret: "s3cret/+?".into() };
        let header = encode_auth("127.0.0.1:5000", &credentials);
        assert!(header.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b)), "{header}");
        assert_eq!(decode_auth(&header).unwrap(), credentials);
        assert!(decode_auth("not base64!").is_err());
    }
}

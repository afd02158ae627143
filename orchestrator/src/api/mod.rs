//! The daemon's API: HTTP/1.1 with JSON bodies on a Unix socket, under
//! versioned paths (`/v1/...`). The message types here are shared by the
//! server (`crate::daemon`) and the client the CLI uses ([`client`]).

pub mod body;
pub mod client;
pub mod compose;
pub mod containers;
pub mod images;
pub mod networks;

use std::path::PathBuf;

use berth_runtime::store::Root;
use serde::{Deserialize, Serialize};

/// The path prefix of this version of the API.
pub const PREFIX: &str = "/v1";

/// `<run>/berth.sock`.
pub fn socket_path(root: &Root) -> PathBuf {
    root.run().join("berth.sock")
}

/// The socket as the CLI finds it: `$BERTH_RUN/berth.sock` (`/run/berth` by default).
pub fn socket_from_env() -> PathBuf {
    socket_path(&Root::from_env())
}

/// A query string (`?a=1&b=x%2Fy`) of `fields`, for a path of the API.
pub fn query<T: Serialize>(fields: &T) -> String {
    let text = serde_urlencoded::to_string(fields).expect("API queries are flat structs of plain values");
    if text.is_empty() { text } else { format!("?{text}") }
}

/// `GET /v1/version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    pub pid: u32,
    pub root: PathBuf,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub message: String,
    /// The exit code Docker's CLI uses for this failure (125, or 126/127 when
    /// the container's command cannot run), when the request was a container's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
}

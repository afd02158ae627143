//! Talking to a container's monitor over its control socket.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::error::ContainerError;
use super::layout::ContainerDir;
use super::protocol::{Reply, Request, send_request, socket};

/// Connects to the monitor of the container in `dir`.
pub(crate) fn connect(dir: &ContainerDir) -> Result<UnixStream, ContainerError> {
    socket::connect(&dir.control_socket())
        .map_err(|e| ContainerError::Monitor { id: dir.id().to_string(), reason: e.to_string() })
}

/// Sends `request` and waits up to `timeout` (`None`: for ever) for the reply line.
pub(crate) fn request(
    dir: &ContainerDir,
    request: &Request,
    timeout: Option<Duration>,
) -> Result<Reply, ContainerError> {
    let monitor_error = |reason: String| ContainerError::Monitor { id: dir.id().to_string(), reason };
    let mut stream = connect(dir)?;
    stream.set_read_timeout(timeout).map_err(|e| monitor_error(e.to_string()))?;
    send_request(&mut stream, request).map_err(|e| monitor_error(e.to_string()))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(|e| monitor_error(e.to_string()))?;
    if line.is_empty() {
        return Err(monitor_error("it closed the connection without a reply".into()));
    }
    serde_json::from_str(line.trim_end()).map_err(|e| monitor_error(format!("bad reply {line:?}: {e}")))
}

//! Connections upgraded to [`ATTACH_PROTOCOL`]: after the `101 Switching
//! Protocols`, the bytes of a local stream (a container's monitor for an
//! attached start, an exec helper for `exec`) relayed as they are, both ways.

use std::future::Future;
use std::os::unix::net::UnixStream;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::api::containers::ATTACH_PROTOCOL;

/// Relays between the upgraded connection and `stream` until both are done,
/// then runs `after`; the answer that switches the protocol.
pub fn relay(
    upgrade: OnUpgrade,
    stream: UnixStream,
    what: String,
    after: impl Future<Output = ()> + Send + 'static,
) -> Response {
    tokio::spawn(async move {
        let relayed = async {
            stream.set_nonblocking(true)?;
            let mut local = tokio::net::UnixStream::from_std(stream)?;
            let mut client = TokioIo::new(upgrade.await.map_err(std::io::Error::other)?);
            tokio::io::copy_bidirectional(&mut client, &mut local).await
        };
        if let Err(error) = relayed.await {
            tracing::debug!(%what, %error, "attach relay ended");
        }
        after.await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, ATTACH_PROTOCOL)
        .body(Body::empty())
        .expect("a response built from valid parts")
}

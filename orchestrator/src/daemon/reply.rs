//! How endpoints answer: library errors as an HTTP status and the user's
//! message (with Docker's exit code for a container's), and blocking library
//! work run off the async threads with its error as the answer.

use std::io::Write;

use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_network::NetworkError;
use berth_runtime::container::ContainerError;
use berth_runtime::image::ImageError;
use serde::Serialize;

use crate::api::ApiError;
use crate::api::body::ChannelWriter;
use crate::engine::EngineError;

/// An error the API reports: whose fault it is, and the exit code Docker's CLI uses.
pub trait ApiStatus: std::fmt::Display {
    fn status(&self) -> StatusCode;

    fn exit_code(&self) -> Option<u8> {
        None
    }
}

impl ApiStatus for ContainerError {
    fn status(&self) -> StatusCode {
        match self {
            ContainerError::NotFound(_) => StatusCode::NOT_FOUND,
            ContainerError::Ambiguous(_) | ContainerError::Option(_) | ContainerError::User(_) => {
                StatusCode::BAD_REQUEST
            }
            ContainerError::NotRunning(_)
            | ContainerError::AlreadyRunning(_)
            | ContainerError::RemoveRunning(_)
            | ContainerError::NameInUse { .. }
            | ContainerError::AlreadyPaused(_)
            | ContainerError::NotPaused(_)
            | ContainerError::ExecPaused(_)
            | ContainerError::Restarting(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn exit_code(&self) -> Option<u8> {
        Some(ContainerError::exit_code(self))
    }
}

impl ApiStatus for ImageError {
    fn status(&self) -> StatusCode {
        match self {
            ImageError::NotFound(_) => StatusCode::NOT_FOUND,
            ImageError::Reference(_)
            | ImageError::Digest(_)
            | ImageError::Ambiguous { .. }
            | ImageError::Platform(_)
            | ImageError::Invalid(_)
            | ImageError::Unpack(_)
            | ImageError::Archive { .. } => StatusCode::BAD_REQUEST,
            ImageError::InUse { .. } | ImageError::MultipleReferences { .. } => StatusCode::CONFLICT,
            ImageError::Registry(_)
            | ImageError::Manifest(_)
            | ImageError::DigestMismatch { .. }
            | ImageError::SizeMismatch { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiStatus for NetworkError {
    fn status(&self) -> StatusCode {
        match self {
            NetworkError::NotFound(_) | NetworkError::NotConnected { .. } => StatusCode::NOT_FOUND,
            NetworkError::Config(_)
            | NetworkError::Invalid(_)
            | NetworkError::Overlap { .. }
            | NetworkError::AddressOutside { .. } => StatusCode::BAD_REQUEST,
            NetworkError::Exists(_)
            | NetworkError::Predefined(_)
            | NetworkError::InUse { .. }
            | NetworkError::AddressTaken { .. }
            | NetworkError::AlreadyConnected { .. }
            | NetworkError::PortInUse { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiStatus for EngineError {
    fn status(&self) -> StatusCode {
        match self {
            EngineError::Container(error) => error.status(),
            EngineError::Image(_) => StatusCode::NOT_FOUND,
            EngineError::Network(_) | EngineError::Config(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn exit_code(&self) -> Option<u8> {
        match self {
            EngineError::Container(error) => ApiStatus::exit_code(error),
            _ => Some(125),
        }
    }
}

/// The answer for `error`.
pub fn failure(error: &impl ApiStatus) -> Response {
    let body = ApiError { message: error.to_string(), exit_code: error.exit_code() };
    (error.status(), Json(body)).into_response()
}

/// A failure of the daemon itself (a panic in a worker, say).
pub fn internal(message: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Json(ApiError { message: message.to_string(), exit_code: None }))
        .into_response()
}

/// Runs blocking library work off the async threads ([`super::run_blocking`]); its error is the answer.
pub async fn answer<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, Response>
where
    T: Send + 'static,
    E: ApiStatus + Send + 'static,
{
    match super::run_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(failure(&error)),
        Err(panicked) => Err(internal(panicked)),
    }
}

/// The value as JSON, or the failure.
pub fn json<T: Serialize>(result: Result<T, Response>) -> Response {
    result.map_or_else(|failure| failure, |value| Json(value).into_response())
}

/// The answer's body: what blocking `work` writes (an archive), streamed as
/// it is written. A failure before the first byte is an error answer; a later
/// one cuts the body off, so the client sees it fail.
pub async fn streamed<E>(
    content_type: &'static str,
    work: impl FnOnce(&mut dyn Write) -> Result<(), E> + Send + 'static,
) -> Response
where
    E: ApiStatus + Send + 'static,
{
    let (started, first) = tokio::sync::oneshot::channel();
    let (writer, stream) = crate::api::body::pipe();
    tokio::task::spawn_blocking(move || {
        let mut out = FirstWrite { writer, started: Some(started) };
        let result = work(&mut out);
        match (out.started.take(), result) {
            (Some(started), result) => {
                let _ = started.send(result.map_err(|error| failure(&error)));
            }
            (None, Err(error)) => out.writer.fail(std::io::Error::other(error.to_string())),
            (None, Ok(())) => {}
        }
    });
    match first.await {
        Ok(Ok(())) => Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from_stream(stream))
            .expect("a response built from valid parts"),
        Ok(Err(failure)) => failure,
        Err(_) => internal("the work stopped before it wrote anything"),
    }
}

/// Says when the first byte goes out.
struct FirstWrite {
    writer: ChannelWriter,
    started: Option<tokio::sync::oneshot::Sender<Result<(), Response>>>,
}

impl Write for FirstWrite {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(started) = self.started.take() {
            let _ = started.send(Ok(()));
        }
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

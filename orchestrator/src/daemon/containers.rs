//! The single-container endpoints (`/v1/containers/...`): `create`, `run`,
//! `start`, `stop`, `kill`, `restart` and `rm` of the CLI change containers
//! here, so that the daemon knows of every start (it watches the process, and
//! frees the container's ports and names when it exits) and every removal.
//!
//! An attached start upgrades its connection and relays the monitor's attach
//! stream byte for byte: the CLI speaks the monitor's protocol through it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_runtime::container::signal::parse_signal;
use berth_runtime::container::{AttachStreams, ContainerError, RemoveOptions, Started};

use super::Daemon;
use super::reply::{answer as blocking, failure};
use super::routes::Failure;
use crate::api::ApiError;
use crate::api::containers::{CONTAINER_HEADER, Created, KillRequest, PruneRequest, RemoveRequest, StopRequest};
use crate::engine::{EngineError, RunRequest};

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router
        .route("/containers", post(create))
        .route("/containers/run", post(run))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/remove", post(remove))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}/ports", get(ports))
}

/// The largest `run` request body.
const RUN_REQUEST_LIMIT: usize = 8 << 20;

/// `run` in one request: create, then start (attached through the upgraded
/// connection, or detached), so the CLI waits for one round trip, not three.
async fn run(
    State(daemon): State<Arc<Daemon>>,
    Query(query): Query<HashMap<String, String>>,
    mut request: Request,
) -> Response {
    let detach = query.get("detach").is_some_and(|v| v == "true");
    let upgrade = (!detach).then(|| hyper::upgrade::on(&mut request));
    let run: RunRequest = match axum::body::to_bytes(request.into_body(), RUN_REQUEST_LIMIT).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(run) => run,
            Err(error) => return Failure(StatusCode::BAD_REQUEST, format!("run request: {error}")).into_response(),
        },
        Err(error) => return Failure(StatusCode::BAD_REQUEST, format!("run request: {error}")).into_response(),
    };
    let engine = daemon.engine.clone();
    let created = match blocking(move || engine.create(run)).await {
        Ok(record) => Created { id: record.id.to_string(), name: record.name },
        Err(response) => return response,
    };
    let Some(upgrade) = upgrade else {
        return match start_watched(&daemon, created.id.clone(), None).await {
            Ok(_) => (StatusCode::CREATED, Json(created)).into_response(),
            Err(response) => response,
        };
    };
    let stdin = query.get("stdin").is_some_and(|v| v == "true");
    let streams = AttachStreams { stdin, stdout: true, stderr: true };
    let (_, started) = match start_watched(&daemon, created.id.clone(), Some(streams)).await {
        Ok(started) => started,
        Err(response) => return response,
    };
    let Some(stream) = started.attach.map(|a| a.into_stream()) else {
        return failure(&ContainerError::Internal("the monitor gave no attach stream".into()));
    };
    let mut response = super::upgrade::relay(upgrade, stream, format!("container {}", created.id), async {});
    if let Ok(value) = created.id.parse() {
        response.headers_mut().insert(CONTAINER_HEADER, value);
    }
    response
}

async fn create(State(daemon): State<Arc<Daemon>>, Json(request): Json<RunRequest>) -> Response {
    let engine = daemon.engine.clone();
    match blocking(move || engine.create(request)).await {
        Ok(record) => {
            (StatusCode::CREATED, Json(Created { id: record.id.to_string(), name: record.name })).into_response()
        }
        Err(response) => response,
    }
}

/// Starts `reference` (attached or not) and has the daemon watch it; its full ID too.
async fn start_watched(
    daemon: &Arc<Daemon>,
    reference: String,
    attach: Option<AttachStreams>,
) -> Result<(String, Started), Response> {
    let engine = daemon.engine.clone();
    let (id, started) = blocking(move || {
        let id = engine.containers().lookup(&reference)?.id.to_string();
        let started = engine.start(&id, attach)?;
        Ok::<_, EngineError>((id, started))
    })
    .await?;
    daemon.started(&id, started.pid).await;
    Ok((id, started))
}

async fn start(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>) -> Response {
    match start_watched(&daemon, reference, None).await {
        Ok(_) => Json(()).into_response(),
        Err(response) => response,
    }
}

/// Starts the container attached, then relays between the upgraded connection
/// and the monitor until either side is done.
async fn attach(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    mut request: Request,
) -> Response {
    let upgrade = hyper::upgrade::on(&mut request);
    let stdin = query.get("stdin").is_some_and(|v| v == "true");
    let streams = AttachStreams { stdin, stdout: true, stderr: true };
    let (id, started) = match start_watched(&daemon, reference.clone(), Some(streams)).await {
        Ok(started) => started,
        Err(response) => return response,
    };
    let Some(stream) = started.attach.map(|a| a.into_stream()) else {
        return failure(&ContainerError::Internal("the monitor gave no attach stream".into()));
    };
    let mut response = super::upgrade::relay(upgrade, stream, format!("container {reference}"), async {});
    if let Ok(value) = id.parse() {
        response.headers_mut().insert(CONTAINER_HEADER, value);
    }
    response
}

async fn stop(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Json(request): Json<StopRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    match blocking(move || engine.stop(&reference, request.timeout)).await {
        Ok(_) => Json(()).into_response(),
        Err(response) => response,
    }
}

async fn restart(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Json(request): Json<StopRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    let target = reference.clone();
    if let Err(response) = blocking(move || engine.stop(&target, request.timeout)).await {
        return response;
    }
    match start_watched(&daemon, reference, None).await {
        Ok(_) => Json(()).into_response(),
        Err(response) => response,
    }
}

async fn kill(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Json(request): Json<KillRequest>,
) -> Response {
    let signal = match parse_signal(&request.signal) {
        Ok(signal) => signal,
        Err(message) => {
            return (StatusCode::BAD_REQUEST, Json(ApiError { message: message.to_string(), exit_code: Some(125) }))
                .into_response();
        }
    };
    let engine = daemon.engine.clone();
    match blocking(move || engine.kill(&reference, signal)).await {
        Ok(()) => Json(()).into_response(),
        Err(response) => response,
    }
}

async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Json(request): Json<RemoveRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    let options = RemoveOptions { force: request.force, volumes: request.volumes };
    match blocking(move || engine.remove(&reference, options)).await {
        Ok(_) => Json(()).into_response(),
        Err(response) => response,
    }
}

async fn prune(State(daemon): State<Arc<Daemon>>, Json(request): Json<PruneRequest>) -> Response {
    let engine = daemon.engine.clone();
    match blocking(move || engine.prune(request.until, &request.labels)).await {
        Ok(pruned) => Json(pruned).into_response(),
        Err(response) => response,
    }
}

/// The ports published for the container now (none while it is stopped).
async fn ports(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>) -> Response {
    let engine = daemon.engine.clone();
    let found = blocking(move || {
        let id = engine.containers().lookup(&reference)?.id;
        Ok::<_, EngineError>(engine.network().ports(id.as_str())?)
    })
    .await;
    match found {
        Ok(ports) => Json(ports).into_response(),
        Err(response) => response,
    }
}

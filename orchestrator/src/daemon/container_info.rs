//! The container endpoints besides the lifecycle verbs of `containers.rs`:
//! `ps`, `inspect`, `top`, `stats`, `wait`, `rename` and `logs` (followed
//! until the container stops or the client goes away).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use berth_runtime::container::{ContainerError, LogOptions};
use tokio::sync::mpsc;

use super::Daemon;
use super::reply::{answer, json};
use super::routes::{Failure, json_lines_holding};
use crate::api::containers::{ContainerRow, ListQuery, LogMessage, LogsQuery, RenameRequest, StatsRequest};
use crate::engine::{EngineError, network_settings};

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router
        .route("/containers", get(list))
        .route("/containers/stats", post(stats))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/logs", get(logs))
}

/// Every container (or the running ones), with the ports each publishes now.
async fn list(State(daemon): State<Arc<Daemon>>, Query(query): Query<ListQuery>) -> Response {
    let filters = match query.filters() {
        Ok(filters) => filters,
        Err(error) => return Failure(StatusCode::BAD_REQUEST, format!("filters: {error}")).into_response(),
    };
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let summaries = engine.containers().list(query.all, &filters)?;
            let network = engine.network();
            summaries
                .into_iter()
                .map(|summary| Ok(ContainerRow { ports: network.ports(&summary.id)?, summary }))
                .collect::<Result<Vec<_>, EngineError>>()
        })
        .await,
    )
}

/// Docker's document, with the container's NetworkSettings from the network manager.
async fn inspect(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let document = engine.containers().inspect(&reference)?;
            let network = engine.network();
            let attachments = network.attachments(&document.id)?;
            let ports = network.ports(&document.id)?;
            let sandbox = (!attachments.is_empty()).then(|| network.netns_path(&document.id));
            let mut value = serde_json::to_value(document).map_err(|e| ContainerError::Internal(e.to_string()))?;
            value["NetworkSettings"] = network_settings(&attachments, &ports, sandbox.as_deref());
            Ok::<_, EngineError>(value)
        })
        .await,
    )
}

async fn top(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || engine.containers().top(&reference)).await)
}

/// One reading (it takes a sampling interval); the CLI asks again to stream.
async fn stats(State(daemon): State<Arc<Daemon>>, Json(request): Json<StatsRequest>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let containers = engine.own_containers()?;
            let references = if request.containers.is_empty() {
                containers.list(request.all, &[])?.into_iter().map(|summary| summary.id).collect()
            } else {
                request.containers
            };
            Ok::<_, EngineError>(containers.stats(&references)?)
        })
        .await,
    )
}

/// Answers when the container stops, with its exit status.
async fn wait(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || Ok::<_, EngineError>(engine.own_containers()?.wait(&reference)?)).await)
}

async fn rename(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Json(request): Json<RenameRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || engine.containers().rename(&reference, &request.name)).await)
}

/// Sets its flag when dropped: the response stream is gone, so is the reader
/// (a log follow that sees it ends).
pub(super) struct StopOnDrop(pub Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The log as JSON lines of [`LogMessage`]; an unknown container is an error answer, not a stream.
async fn logs(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Response {
    let engine = daemon.engine.clone();
    let id = match answer(move || engine.containers().lookup(&reference).map(|record| record.id.to_string())).await {
        Ok(id) => id,
        Err(failure) => return failure,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let options = LogOptions {
        follow: query.follow,
        tail: query.tail,
        since: query.since,
        until: query.until,
        stop: Some(stop.clone()),
    };
    let (sender, receiver) = mpsc::unbounded_channel();
    let engine = daemon.engine.clone();
    tokio::task::spawn_blocking(move || {
        let mut sink = |entry: &berth_runtime::container::logfile::Entry| {
            sender
                .send(LogMessage::Entry(entry.clone()))
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        };
        let read = engine.own_containers().and_then(|containers| Ok(containers.logs(&id, &options, &mut sink)?));
        if let Err(error) = read
            && !sender.is_closed()
        {
            let _ = sender.send(LogMessage::Error(error.to_string()));
        }
    });
    json_lines_holding(receiver, StopOnDrop(stop))
}

//! `pause` and `unpause` of one container (`POST /v1/containers/{id}/pause`,
//! `.../unpause`): the freezer, through the daemon like every verb that
//! changes a container. The daemon's health checks and reconciler leave a
//! paused container alone (it is neither stopped nor unhealthy).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::Daemon;
use super::reply::answer as blocking;

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router
        .route("/containers/{id}/pause", post(|s, p| freezer(s, p, true)))
        .route("/containers/{id}/unpause", post(|s, p| freezer(s, p, false)))
}

/// `pause` (or, not `pause`, `unpause`).
async fn freezer(State(daemon): State<Arc<Daemon>>, Path(reference): Path<String>, pause: bool) -> Response {
    let engine = daemon.engine.clone();
    let done = blocking(move || if pause { engine.pause(&reference) } else { engine.unpause(&reference) }).await;
    match done {
        Ok(()) => Json(()).into_response(),
        Err(response) => response,
    }
}

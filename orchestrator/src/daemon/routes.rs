//! The API's routes: each handler parses, calls the daemon's library code, and answers JSON.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::Daemon;
use super::projects::ProjectRecord;
use crate::api::{ApiError, PREFIX, Version};

pub fn router(daemon: Arc<Daemon>) -> Router {
    let v1 = Router::new()
        .route("/version", get(version))
        .route("/projects", get(list_projects))
        .route("/projects/{name}", get(get_project));
    Router::new().nest(PREFIX, v1).with_state(daemon)
}

/// An error answer: a status and a message for the user.
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { message: self.1 })).into_response()
    }
}

fn internal(error: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

async fn version(State(daemon): State<Arc<Daemon>>) -> Json<Version> {
    Json(Version {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        root: daemon.root.root().to_path_buf(),
    })
}

async fn list_projects(State(daemon): State<Arc<Daemon>>) -> Result<Json<Vec<ProjectRecord>>, Failure> {
    daemon.projects.lock().await.list().map(Json).map_err(internal)
}

async fn get_project(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
) -> Result<Json<ProjectRecord>, Failure> {
    match daemon.projects.lock().await.get(&name).map_err(internal)? {
        Some(record) => Ok(Json(record)),
        None => Err(Failure(StatusCode::NOT_FOUND, format!("no such project: {name}"))),
    }
}

//! The API's routes: each handler parses, calls the daemon's library code, and
//! answers JSON (or streams JSON lines for long operations).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::mpsc::{self, UnboundedSender};

use super::Daemon;
use super::compose;
use super::containers;
use super::logs::LogsRequest;
use super::ops::{self, Verb};
use crate::api::compose::{DownRequest, ImagesRequest, Progress, ProjectSummary, PsEntry, ServicesRequest, UpRequest};
use crate::api::{ApiError, PREFIX, Version};

pub fn router(daemon: Arc<Daemon>) -> Router {
    let v1 = Router::new()
        .route("/version", get(version))
        .route("/projects", get(list_projects))
        .route("/projects/{name}/up", post(up))
        .route("/projects/{name}/down", post(down))
        .route("/projects/{name}/ps", get(ps))
        .route("/projects/{name}/logs", get(logs))
        .route("/projects/{name}/events", get(events))
        .route("/projects/{name}/pull", post(pull))
        .route("/projects/{name}/push", post(push))
        .route("/projects/{name}/stop", post(|s, p, b| verb(s, p, b, Verb::Stop)))
        .route("/projects/{name}/start", post(|s, p, b| verb(s, p, b, Verb::Start)))
        .route("/projects/{name}/restart", post(|s, p, b| verb(s, p, b, Verb::Restart)))
        .route("/projects/{name}/kill", post(|s, p, b| verb(s, p, b, Verb::Kill)))
        .route("/projects/{name}/rm", post(|s, p, b| verb(s, p, b, Verb::Remove)))
        .route("/projects/{name}/pause", post(|s, p, b| verb(s, p, b, Verb::Pause)))
        .route("/projects/{name}/unpause", post(|s, p, b| verb(s, p, b, Verb::Unpause)));
    let areas = [
        containers::routes,
        super::container_info::routes,
        super::exec::routes,
        super::archive::routes,
        super::images::routes,
        super::networks::routes,
        super::pause::routes,
        super::top::routes,
        super::oneoff::routes,
    ];
    let v1 = areas.into_iter().fold(v1, |router, add| add(router));
    Router::new().nest(PREFIX, v1).with_state(daemon)
}

/// An error answer: a status and a message for the user.
pub struct Failure(pub StatusCode, pub String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { message: self.1, exit_code: None })).into_response()
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

/// Streams what arrives on `receiver` as JSON lines until every sender is gone.
pub(super) fn json_lines<T: serde::Serialize + Send + 'static>(receiver: mpsc::UnboundedReceiver<T>) -> Response {
    json_lines_holding(receiver, ())
}

/// [`json_lines`], keeping `held` until the stream ends or the client goes away
/// (a guard whose drop tells the producer to stop).
pub(super) fn json_lines_holding<T, H>(receiver: mpsc::UnboundedReceiver<T>, held: H) -> Response
where
    T: serde::Serialize + Send + 'static,
    H: Send + 'static,
{
    let lines = futures_util::stream::unfold((receiver, held), |(mut receiver, held)| async move {
        let item = receiver.recv().await?;
        let mut line = serde_json::to_vec(&item).expect("API messages serialize");
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(line), (receiver, held)))
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(lines))
        .expect("a response built from valid parts")
}

/// Streams the progress of `work` as JSON lines, ending with `Done`.
fn stream<F, Fut>(work: F) -> Response
where
    F: FnOnce(UnboundedSender<Progress>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let result = work(sender.clone()).await;
        let _ = sender.send(Progress::Done { error: result.err() });
    });
    json_lines(receiver)
}

async fn up(State(daemon): State<Arc<Daemon>>, Path(name): Path<String>, Json(request): Json<UpRequest>) -> Response {
    if request.project.name != name {
        return Failure(
            StatusCode::BAD_REQUEST,
            format!("the body is for project {}, not {name}", request.project.name),
        )
        .into_response();
    }
    stream(move |progress| async move { compose::up(&daemon, request, &progress).await })
}

async fn down(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<DownRequest>,
) -> Response {
    stream(move |progress| async move { compose::down(&daemon, &name, request, &progress).await })
}

async fn ps(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<PsEntry>>, Failure> {
    let flag = |key: &str| query.get(key).is_some_and(|v| v == "true" || v == "1");
    compose::ps(&daemon, &name, flag("all"), flag("oneoff")).await.map(Json).map_err(internal)
}

async fn list_projects(State(daemon): State<Arc<Daemon>>) -> Result<Json<Vec<ProjectSummary>>, Failure> {
    let records = daemon.projects.lock().await.list().map_err(internal)?;
    let mut summaries = Vec::new();
    for record in records {
        let entries = compose::ps(&daemon, &record.project.name, true, false).await.map_err(internal)?;
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for entry in &entries {
            *counts.entry(entry.state.clone()).or_default() += 1;
        }
        let status = counts.iter().map(|(state, n)| format!("{state}({n})")).collect::<Vec<_>>().join(", ");
        summaries.push(ProjectSummary {
            name: record.project.name,
            status,
            config_files: record.config_files.join(","),
        });
    }
    Ok(Json(summaries))
}

async fn verb(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<ServicesRequest>,
    verb: Verb,
) -> Response {
    stream(move |progress| async move { ops::run(&daemon, &name, verb, request, &progress).await })
}

async fn logs(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = LogsRequest {
        stop: Some(stop.clone()),
        services: query
            .get("services")
            .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
        follow: query.get("follow").is_some_and(|v| v == "true"),
        tail: match query.get("tail").map(String::as_str) {
            None | Some("all") => None,
            Some(n) => {
                Some(n.parse().map_err(|_| Failure(StatusCode::BAD_REQUEST, format!("--tail {n}: not a number")))?)
            }
        },
    };
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        if let Err(error) = super::logs::logs(&daemon, &name, request, sender).await {
            tracing::warn!(project = %name, %error, "logs failed");
        }
    });
    Ok(json_lines_holding(receiver, super::container_info::StopOnDrop(stop)))
}

/// Streams the project's events as they happen, until the client goes away.
async fn events(State(daemon): State<Arc<Daemon>>, Path(name): Path<String>) -> Response {
    let mut subscription = daemon.events.subscribe();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match subscription.recv().await {
                Ok(event) if event.project == name => {
                    if sender.send(event).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "an events subscriber fell behind");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    json_lines(receiver)
}

async fn pull(State(daemon): State<Arc<Daemon>>, Json(request): Json<ImagesRequest>) -> Response {
    stream(move |progress| async move { compose::pull(&daemon, request.project, request.services, &progress).await })
}

async fn push(State(daemon): State<Arc<Daemon>>, Json(request): Json<ImagesRequest>) -> Response {
    stream(move |progress| async move { compose::push(&daemon, request.project, request.services, &progress).await })
}

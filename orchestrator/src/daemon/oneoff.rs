//! `compose run`'s one-off container (`POST /v1/projects/{name}/run`): made
//! from the service's config with the run's overrides, once an `up` with
//! `run` brought up what it needs. The CLI then starts it, attached or not,
//! through the container endpoints, as `berth run` does.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use berth_runtime::container::ContainerId;

use super::Daemon;
use super::compose::local_images;
use super::execute::engine_request;
use super::routes::Failure;
use crate::api::compose::OneOffRequest;
use crate::api::containers::Created;
use crate::reconcile::oneoff::{OneOffIds, oneoff_spec};

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router.route("/projects/{name}/run", post(create))
}

async fn create(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<OneOffRequest>,
) -> Response {
    if request.project.name != name {
        let message = format!("the body is for project {}, not {name}", request.project.name);
        return Failure(StatusCode::BAD_REQUEST, message).into_response();
    }
    match create_one_off(&daemon, request).await {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(message) => Failure(StatusCode::BAD_REQUEST, message).into_response(),
    }
}

async fn create_one_off(daemon: &Arc<Daemon>, request: OneOffRequest) -> Result<Created, String> {
    let service = request
        .project
        .services
        .get(&request.service)
        .ok_or_else(|| format!("no such service: {}", request.service))?;
    let (references, ids) = local_images(daemon, &request.project);
    let image = references[&request.service].clone();
    let image_id = ids.get(&request.service).ok_or_else(|| format!("image {image} is not present"))?;
    let slug = ContainerId::generate().map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let ids = OneOffIds {
        slug: slug.as_str(),
        image_id,
        working_dir: &request.working_dir,
        config_files: &request.config_files,
    };
    let spec = oneoff_spec(&request.project, &request.service, &request.options, ids).map_err(|e| e.to_string())?;
    let run = engine_request(service, image, spec);
    let engine = daemon.engine.clone();
    let record = super::blocking(move || engine.create(run)).await?;
    Ok(Created { id: record.id.to_string(), name: record.name })
}

//! `compose top` (`GET /v1/projects/{name}/top?services=a,b`): the processes
//! of each running container of the project (`compose run` one-offs too, as
//! compose lists them), by container name.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::Daemon;
use super::observe::project_containers;
use super::routes::Failure;
use crate::api::compose::TopEntry;

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router.route("/projects/{name}/top", get(top))
}

async fn top(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<TopEntry>>, Failure> {
    let services: HashSet<String> = query
        .get("services")
        .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let engine = daemon.engine.clone();
    let entries = super::blocking(move || {
        let mut entries = Vec::new();
        for c in project_containers(&engine, &name, &HashMap::new(), &HashMap::new())? {
            if !c.observed.is_running() || !(services.is_empty() || services.contains(&c.observed.service)) {
                continue;
            }
            match engine.containers().top(c.record.id.as_str()) {
                Ok(top) => entries.push(TopEntry {
                    name: c.record.name,
                    service: c.observed.service,
                    titles: top.titles,
                    processes: top.processes,
                }),
                // It stopped since it was listed.
                Err(berth_runtime::container::ContainerError::NotRunning(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok::<_, crate::engine::EngineError>(entries)
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(Json(entries))
}

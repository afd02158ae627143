//! `cp`: the container's side of a copy, as tar streams. `GET
//! /containers/{id}/archive?path=` answers the archive of `path`; `PUT` places
//! the archive in its body at `path`. The host's side (its files) is the CLI's.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use axum::routing::get;

use super::Daemon;
use super::reply::{answer, json, streamed};
use crate::api::body;
use crate::api::containers::ArchiveQuery;
use crate::engine::EngineError;

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router.route("/containers/{id}/archive", get(archive).put(extract))
}

/// The archive of `path`; a missing path (or container) is an error answer, not a stream.
async fn archive(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Query(query): Query<ArchiveQuery>,
) -> Response {
    let engine = daemon.engine.clone();
    streamed("application/x-tar", move |out| {
        let source = engine.own_containers()?.copy_source(&reference, &query.path)?;
        Ok::<_, EngineError>(source.write(out)?)
    })
    .await
}

/// Places the archive in the body at `path`.
async fn extract(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Query(query): Query<ArchiveQuery>,
    request: Request,
) -> Response {
    let engine = daemon.engine.clone();
    let input = body::reader(request.into_body().into_data_stream());
    json(
        answer(move || {
            let containers = engine.own_containers()?;
            Ok::<_, EngineError>(containers.extract_into(
                &reference,
                &query.path,
                query.contents_only,
                query.archive,
                input,
            )?)
        })
        .await,
    )
}

//! The image endpoints (`/v1/images/...`): `images`, `image inspect`, `tag`,
//! `rmi`, `image prune`, `pull` and `push` (their progress as JSON lines),
//! `save` (the archive as the answer), `load` and `import` (the archive as
//! the body). Registries are reached with the credentials the request
//! carries, never with the daemon's own.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_runtime::image::registry::{Credentials, Registry};
use berth_runtime::image::{
    Event, ImageError, ImageStore, ImportOptions, Platform, Progress, PullOptions, Reference, RegistryOptions,
};
use tokio::sync::mpsc;

use super::Daemon;
use super::reply::{answer, failure, json, streamed};
use super::routes::{Failure, json_lines};
use crate::api::body;
use crate::api::images::{
    AUTH_HEADER, ImageRow, ImportQuery, ImportRequest, LoadedImage, NameQuery, PruneRequest, Pruned, PullRequest,
    PushRequest, RemoveRequest, SaveRequest, TagRequest, Transfer, decode_auth,
};
use crate::engine::{Engine, EngineError};

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router
        .route("/images", get(list))
        .route("/images/inspect", get(inspect))
        .route("/images/tag", post(tag))
        .route("/images/remove", post(remove))
        .route("/images/prune", post(prune))
        .route("/images/pull", post(pull))
        .route("/images/push", post(push))
        .route("/images/save", post(save))
        .route("/images/load", post(load))
        .route("/images/import", post(import))
}

fn store(daemon: &Daemon) -> ImageStore {
    daemon.engine.images().clone()
}

async fn list(State(daemon): State<Arc<Daemon>>) -> Response {
    let store = store(&daemon);
    json(
        answer(move || {
            let images = store.list()?.into_iter().map(|image| ImageRow {
                id: image.id,
                tags: image.tags.iter().map(ToString::to_string).collect(),
                digests: image.digests.iter().map(ToString::to_string).collect(),
                created: image.created,
                size: image.size,
            });
            Ok::<_, ImageError>(images.collect::<Vec<_>>())
        })
        .await,
    )
}

async fn inspect(State(daemon): State<Arc<Daemon>>, Query(query): Query<NameQuery>) -> Response {
    let store = store(&daemon);
    json(answer(move || store.inspect(&query.name)).await)
}

async fn tag(State(daemon): State<Arc<Daemon>>, Json(request): Json<TagRequest>) -> Response {
    let store = store(&daemon);
    json(answer(move || store.tag(&request.source, &request.target).map(drop)).await)
}

/// IDs of the images containers were created from: rmi and prune keep those.
fn images_in_use(engine: &Engine) -> Result<HashSet<String>, EngineError> {
    Ok(engine.containers().all()?.into_iter().map(|record| record.config.image_id).collect())
}

async fn remove(State(daemon): State<Arc<Daemon>>, Json(request): Json<RemoveRequest>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let in_use = images_in_use(&engine)?;
            Ok::<_, EngineError>(engine.images().remove(&request.name, request.force, &in_use)?)
        })
        .await,
    )
}

async fn prune(State(daemon): State<Arc<Daemon>>, Json(request): Json<PruneRequest>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let in_use = images_in_use(&engine)?;
            let report = engine.images().prune(request.all, &in_use)?;
            Ok::<_, EngineError>(Pruned { removed: report.removed, reclaimed: report.reclaimed })
        })
        .await,
    )
}

/// The credentials the client sent for the registry, if any.
fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, ImageError> {
    let Some(value) = headers.get(AUTH_HEADER) else { return Ok(None) };
    let text = value.to_str().map_err(|_| ImageError::Invalid(format!("{AUTH_HEADER} is not text")))?;
    decode_auth(text).map(Some).map_err(ImageError::Invalid)
}

fn bad_request(message: String) -> Response {
    Failure(StatusCode::BAD_REQUEST, message).into_response()
}

/// A registry client for `reference`'s registry with the request's credentials.
fn registry(
    reference: &Reference,
    insecure: Vec<String>,
    headers: &HeaderMap,
) -> Result<(Registry, RegistryOptions), ImageError> {
    let credentials = credentials(headers)?;
    let options = RegistryOptions { insecure, config_path: None };
    let registry = Registry::with_credentials(reference.registry(), &options, credentials)?;
    Ok((registry, options))
}

/// Sends a pull's or push's progress to the client.
struct Reporter(mpsc::UnboundedSender<Transfer>);

impl Progress for Reporter {
    fn report(&self, event: Event) {
        let _ = self.0.send(Transfer::Progress(event));
    }
}

/// Runs `work` with a progress reporter, streaming its events and then its
/// last line; a client that goes away stops it (a pull or push stopped
/// half-way leaves only whole pieces). The library's transfer futures are not
/// provably Send (a compiler limit with their borrowing closures), so they
/// run on a blocking thread of their own.
fn transfer<F>(work: impl FnOnce(Reporter) -> F + Send + 'static) -> Response
where
    F: std::future::Future<Output = Transfer>,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        runtime.block_on(async {
            tokio::select! {
                last = work(Reporter(sender.clone())) => {
                    let _ = sender.send(last);
                }
                () = sender.closed() => tracing::info!("the client went away: transfer stopped"),
            }
        })
    });
    json_lines(receiver)
}

async fn pull(State(daemon): State<Arc<Daemon>>, headers: HeaderMap, Json(request): Json<PullRequest>) -> Response {
    let reference = match Reference::parse(&request.reference) {
        Ok(reference) => reference,
        Err(error) => return failure(&ImageError::from(error)),
    };
    let platform = match request.platform.as_deref().map(str::parse::<Platform>).transpose() {
        Ok(platform) => platform,
        Err(error) => return failure(&error),
    };
    let (registry, options) = match registry(&reference, request.insecure, &headers) {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let store = store(&daemon);
    transfer(move |progress| async move {
        let options = PullOptions { platform, registry: options };
        match store.pull_from(&registry, &reference, &options, &progress).await {
            Ok(pulled) => Transfer::Pulled { digest: pulled.digest, changed: pulled.changed },
            Err(error) => Transfer::Failed(error.to_string()),
        }
    })
}

async fn push(State(daemon): State<Arc<Daemon>>, headers: HeaderMap, Json(request): Json<PushRequest>) -> Response {
    let reference = match Reference::parse(&request.reference) {
        Ok(reference) => reference,
        Err(error) => return failure(&ImageError::from(error)),
    };
    let (registry, _) = match registry(&reference, request.insecure, &headers) {
        Ok(found) => found,
        Err(error) => return failure(&error),
    };
    let store = store(&daemon);
    transfer(move |progress| async move {
        match store.push_to(&registry, &reference, &progress).await {
            Ok(pushed) => Transfer::Pushed { digest: pushed.digest, size: pushed.size },
            Err(error) => Transfer::Failed(error.to_string()),
        }
    })
}

/// The archive of the images; an unknown one is an error answer (it is found before anything is written).
async fn save(State(daemon): State<Arc<Daemon>>, Json(request): Json<SaveRequest>) -> Response {
    let store = store(&daemon);
    streamed("application/x-tar", move |out| store.save(&request.names, out)).await
}

async fn load(State(daemon): State<Arc<Daemon>>, request: Request) -> Response {
    let store = store(&daemon);
    let input = body::reader(request.into_body().into_data_stream());
    json(
        answer(move || {
            let loaded = store.load(std::io::BufReader::new(input))?;
            let images = loaded.into_iter().map(|image| LoadedImage {
                id: image.id,
                names: image.names.iter().map(Reference::familiar).collect(),
            });
            Ok::<_, ImageError>(images.collect::<Vec<_>>())
        })
        .await,
    )
}

async fn import(State(daemon): State<Arc<Daemon>>, Query(query): Query<ImportQuery>, request: Request) -> Response {
    let options: ImportRequest = match serde_json::from_str(&query.options) {
        Ok(options) => options,
        Err(error) => return bad_request(format!("import options: {error}")),
    };
    let reference = match options.reference.as_deref().map(Reference::parse).transpose() {
        Ok(reference) => reference,
        Err(error) => return failure(&ImageError::from(error)),
    };
    let options =
        ImportOptions { changes: options.changes, message: options.message, source: options.source, reference };
    let store = store(&daemon);
    let input = body::reader(request.into_body().into_data_stream());
    json(answer(move || store.import(input, &options).map(|imported| imported.id)).await)
}

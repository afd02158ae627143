//! The network endpoints (`/v1/networks/...`): `network create`, `ls`,
//! `inspect`, `rm`, `prune`, `connect` and `disconnect`, on the daemon's
//! network manager (the one that also attaches its containers).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use berth_network::{ConnectOptions, NetworkSpec};
use berth_runtime::container::ContainerError;

use super::Daemon;
use super::reply::{answer, json};
use crate::api::networks::{ConnectRequest, DisconnectRequest, PruneRequest, RemoveRequest};
use crate::engine::{Engine, EngineError};

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router
        .route("/networks", get(list).post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{name}", get(inspect))
        .route("/networks/{name}/remove", post(remove))
        .route("/networks/{name}/connect", post(connect))
        .route("/networks/{name}/disconnect", post(disconnect))
}

async fn create(State(daemon): State<Arc<Daemon>>, Json(spec): Json<NetworkSpec>) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || engine.network().create_network(&spec)).await)
}

/// Every network, the default bridge among them (made now if a reboot took it).
async fn list(State(daemon): State<Arc<Daemon>>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let network = engine.network();
            network.ensure_default_bridge()?;
            network.list_networks()
        })
        .await,
    )
}

async fn inspect(State(daemon): State<Arc<Daemon>>, Path(name): Path<String>) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let network = engine.network();
            network.ensure_default_bridge()?;
            network.inspect_network(&name)
        })
        .await,
    )
}

async fn remove(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<RemoveRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || engine.network().remove_network(&name, request.force)).await)
}

async fn prune(State(daemon): State<Arc<Daemon>>, Json(request): Json<PruneRequest>) -> Response {
    let engine = daemon.engine.clone();
    json(answer(move || engine.network().prune_networks(&request.labels)).await)
}

/// The container's ID and name.
fn container(engine: &Engine, reference: &str) -> Result<(String, String), ContainerError> {
    let record = engine.containers().lookup(reference)?;
    Ok((record.id.to_string(), record.name))
}

async fn connect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<ConnectRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let (id, container_name) = container(&engine, &request.container)?;
            let network = engine.network();
            let netns = network.netns_path(&id);
            if !netns.exists() {
                return Err(EngineError::Container(ContainerError::Internal(format!(
                    "container {container_name} has no network namespace ({}): create it with berth first",
                    netns.display()
                ))));
            }
            let options = ConnectOptions {
                ip: request.ip,
                ip6: request.ip6,
                container_name,
                aliases: request.aliases,
                links: request.links,
                ..Default::default()
            };
            network.connect(&id, &netns, &name, &options)?;
            Ok(())
        })
        .await,
    )
}

async fn disconnect(
    State(daemon): State<Arc<Daemon>>,
    Path(name): Path<String>,
    Json(request): Json<DisconnectRequest>,
) -> Response {
    let engine = daemon.engine.clone();
    json(
        answer(move || {
            let (id, _) = container(&engine, &request.container)?;
            Ok::<_, EngineError>(engine.network().disconnect(&id, &name)?)
        })
        .await,
    )
}

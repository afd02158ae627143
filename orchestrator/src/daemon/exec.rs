//! `exec`: a process in a running container, started by the exec helper (a
//! single-threaded re-exec of berth, as libcontainer's fork requires). Its
//! stdio travels on the upgraded connection in the attach protocol: input and
//! window size from the CLI, output and the exit status to it. `exec -d`
//! answers once the process runs.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use berth_runtime::container::{ContainerError, ExecOptions};

use super::Daemon;
use super::reply::{ApiStatus, answer};
use super::routes::Failure;

pub fn routes(router: Router<Arc<Daemon>>) -> Router<Arc<Daemon>> {
    router.route("/containers/{id}/exec", post(exec))
}

/// The largest exec request body (the options: a command line and environment).
const OPTIONS_LIMIT: usize = 1 << 20;

/// Whatever keeps an exec from starting exits 126 in Docker's CLI.
struct ExecFailure(ContainerError);

impl std::fmt::Display for ExecFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ApiStatus for ExecFailure {
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn exit_code(&self) -> Option<u8> {
        Some(126)
    }
}

async fn exec(
    State(daemon): State<Arc<Daemon>>,
    Path(reference): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    mut request: Request,
) -> Response {
    let upgrade = hyper::upgrade::on(&mut request);
    let options: ExecOptions = match axum::body::to_bytes(request.into_body(), OPTIONS_LIMIT).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(options) => options,
            Err(error) => return Failure(StatusCode::BAD_REQUEST, format!("exec options: {error}")).into_response(),
        },
        Err(error) => return Failure(StatusCode::BAD_REQUEST, format!("exec options: {error}")).into_response(),
    };
    let engine = daemon.engine.clone();
    let what = format!("exec in {reference}");
    if query.get("detach").is_some_and(|v| v == "true") {
        let started = answer(move || {
            let mut command = engine.containers().exec_command(&reference, &options).map_err(ExecFailure)?;
            command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            tokio::process::Command::from(command)
                .spawn()
                .map_err(|e| ExecFailure(ContainerError::Internal(format!("cannot start the exec helper: {e}"))))
        })
        .await;
        return match started {
            Ok(mut child) => {
                // Reaped when it ends.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                Json(()).into_response()
            }
            Err(failure) => failure,
        };
    }
    let started = answer(move || {
        let (command, stream) = engine.containers().exec_attached(&reference, &options).map_err(ExecFailure)?;
        let child = tokio::process::Command::from(command)
            .spawn()
            .map_err(|e| ExecFailure(ContainerError::Internal(format!("cannot start the exec helper: {e}"))))?;
        Ok::<_, ExecFailure>((child, stream))
    })
    .await;
    match started {
        Ok((mut child, stream)) => super::upgrade::relay(upgrade, stream, what, async move {
            if let Err(error) = child.wait().await {
                tracing::warn!(%error, "cannot reap an exec helper");
            }
        }),
        Err(failure) => failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_failures_exit_126() {
        let failure = ExecFailure(ContainerError::NotRunning("web".into()));
        assert_eq!(failure.exit_code(), Some(126));
        assert_eq!(failure.status(), StatusCode::CONFLICT);
    }
}

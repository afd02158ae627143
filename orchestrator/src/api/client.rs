//! The CLI's side of the API: one HTTP/1.1 request per connection to the
//! daemon's socket, starting the daemon first when none answers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::containers::ATTACH_PROTOCOL;
use super::{ApiError, PREFIX, Version, socket_path};
use berth_runtime::store::Root;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the berth daemon at {socket}: {source}")]
    Connect { socket: PathBuf, source: std::io::Error },
    #[error("the berth daemon did not start within {seconds} s; see {log}")]
    StartTimeout { seconds: u64, log: PathBuf },
    #[error("cannot start the berth daemon: {0}")]
    Spawn(std::io::Error),
    #[error("talking to the berth daemon: {0}")]
    Http(#[from] hyper::Error),
    #[error("the berth daemon sent a response this berth cannot read: {0}")]
    Decode(#[from] serde_json::Error),
    /// The daemon refused the request; its message is for the user as it is.
    #[error("{message}")]
    Api { status: StatusCode, message: String, exit_code: Option<u8> },
    #[error("the berth daemon did not switch to the attach protocol (status {0})")]
    NoUpgrade(StatusCode),
    #[error("the attach stream: {0}")]
    Attach(std::io::Error),
}

/// How long `connect_or_start` waits for a daemon it started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(root: &Root) -> Self {
        Client { socket: socket_path(root) }
    }

    /// A client of a daemon that answers, starting one in the background when
    /// none does (and saying so on stderr), as the CLI does for every command.
    pub async fn connect_or_start(root: &Root) -> Result<Client, ClientError> {
        let client = Client::new(root);
        if client.version().await.is_ok() {
            return Ok(client);
        }
        let log = root.run().join("daemon.log");
        let pid = spawn_daemon(root, &log)?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if client.version().await.is_ok() {
                eprintln!("started the berth daemon (pid {pid}; log: {})", log.display());
                return Ok(client);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ClientError::StartTimeout { seconds: START_TIMEOUT.as_secs(), log })
    }

    pub async fn version(&self) -> Result<Version, ClientError> {
        self.get("/version").await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.send(Method::GET, path, None).await?;
        decode(response).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body)?;
        let response = self.send(Method::POST, path, Some(body)).await?;
        decode(response).await
    }

    /// A POST whose response is a stream of JSON lines; `on_line` sees each as it arrives.
    pub async fn stream<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        on_line: impl FnMut(T),
    ) -> Result<(), ClientError> {
        let body = serde_json::to_vec(body)?;
        let response = self.send(Method::POST, path, Some(body)).await?;
        read_lines(response, on_line).await
    }

    /// A GET whose response is a stream of JSON lines.
    pub async fn stream_get<T: DeserializeOwned>(&self, path: &str, on_line: impl FnMut(T)) -> Result<(), ClientError> {
        let response = self.send(Method::GET, path, None).await?;
        read_lines(response, on_line).await
    }

    /// Upgrades a POST to `path` to [`ATTACH_PROTOCOL`] and hands back the
    /// socket (blocking, for the attach pump) and what was already read of it.
    pub async fn attach(&self, path: &str) -> Result<(std::os::unix::net::UnixStream, Vec<u8>), ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection.with_upgrades());
        let request = request(Method::POST, path, Vec::new())
            .map(|mut request| {
                let headers = request.headers_mut();
                headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("Upgrade"));
                headers.insert(hyper::header::UPGRADE, hyper::header::HeaderValue::from_static(ATTACH_PROTOCOL));
                request
            })
            .expect("a request built from valid parts");
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status();
            decode::<serde_json::Value>(response).await?;
            return Err(ClientError::NoUpgrade(status));
        }
        let upgraded = hyper::upgrade::on(response).await?;
        drop(connection);
        let parts = upgraded
            .downcast::<TokioIo<UnixStream>>()
            .map_err(|_| ClientError::Attach(std::io::Error::other("the upgraded connection is not the socket")))?;
        let socket = parts.io.into_inner().into_std().map_err(ClientError::Attach)?;
        socket.set_nonblocking(false).map_err(ClientError::Attach)?;
        Ok((socket, parts.read_buf.to_vec()))
    }

    async fn connect(&self) -> Result<UnixStream, ClientError> {
        UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::Connect { socket: self.socket.clone(), source })
    }

    async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Response<Incoming>, ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "daemon connection ended");
            }
        });
        let request = request(method, path, body.unwrap_or_default()).expect("a request built from valid parts");
        Ok(sender.send_request(request).await?)
    }
}

fn request(method: Method, path: &str, body: Vec<u8>) -> hyper::http::Result<Request<Full<Bytes>>> {
    Request::builder()
        .method(method)
        .uri(format!("{PREFIX}{path}"))
        .header(hyper::header::HOST, "berth")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
}

async fn read_lines<T: DeserializeOwned>(
    response: Response<Incoming>,
    mut on_line: impl FnMut(T),
) -> Result<(), ClientError> {
    if !response.status().is_success() {
        return decode::<serde_json::Value>(response).await.map(|_| ());
    }
    let mut body = response.into_body();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if line.len() > 1 {
                    on_line(serde_json::from_slice(&line)?);
                }
            }
        }
    }
    Ok(())
}

async fn decode<T: DeserializeOwned>(response: Response<Incoming>) -> Result<T, ClientError> {
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        let (message, exit_code) = serde_json::from_slice::<ApiError>(&bytes)
            .map(|e| (e.message, e.exit_code))
            .unwrap_or_else(|_| (String::from_utf8_lossy(&bytes).into_owned(), None));
        return Err(ClientError::Api { status, message, exit_code });
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// Starts `berth daemon` detached from this terminal, its output appended to `log`.
fn spawn_daemon(root: &Root, log: &Path) -> Result<u32, ClientError> {
    std::fs::create_dir_all(root.run()).map_err(ClientError::Spawn)?;
    let output = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(ClientError::Spawn)?;
    let exe = std::env::current_exe().map_err(ClientError::Spawn)?;
    let child = std::process::Command::new(exe)
        .arg("daemon")
        .env("BERTH_ROOT", root.root())
        .env("BERTH_RUN", root.run())
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone().map_err(ClientError::Spawn)?)
        .stderr(output)
        .spawn()
        .map_err(ClientError::Spawn)?;
    Ok(child.id())
}

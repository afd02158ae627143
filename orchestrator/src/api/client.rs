//! The CLI's side of the API: one HTTP/1.1 request per connection to the
//! daemon's socket, starting the daemon first when none answers (as root).
//! The CLI needs only the socket: it never opens berth's state itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::containers::{ATTACH_PROTOCOL, CONTAINER_HEADER};
use super::{ApiError, PREFIX, Version, body};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the berth daemon at {socket}: {source}")]
    Connect { socket: PathBuf, source: std::io::Error },
    #[error(
        "permission denied on the socket {}: the berth daemon lets in root and the members of its socket group (`berth daemon --group GROUP`)",
        socket.display()
    )]
    PermissionDenied { socket: PathBuf },
    #[error(
        "no berth daemon answers at {}; only root can start one (`berth daemon`, or examples/systemd/berth.service)",
        socket.display()
    )]
    NotRunning { socket: PathBuf },
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
    /// This side failed with what the daemon sent (writing it out, say).
    #[error(transparent)]
    Local(std::io::Error),
}

/// An upgraded connection, handed back for the blocking attach pump.
#[derive(Debug)]
pub struct Attached {
    pub socket: std::os::unix::net::UnixStream,
    /// What was already read of it.
    pub pending: Vec<u8>,
    /// The container the answer named (an attached start or run).
    pub container: Option<String>,
}

/// How long `connect_or_start` waits for a daemon it started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A request body: JSON, nothing, or a stream (an archive being uploaded).
pub type Outgoing = BoxBody<Bytes, std::io::Error>;

/// A request body of JSON.
pub fn json_body<B: Serialize>(body: &B) -> Result<Outgoing, ClientError> {
    Ok(Full::new(Bytes::from(serde_json::to_vec(body)?)).map_err(|never| match never {}).boxed())
}

/// A request body streamed from `input`, read on a thread of its own.
pub fn reader_body(mut input: impl Read + Send + 'static) -> Outgoing {
    writer_body(move |writer| std::io::copy(&mut input, writer).map(drop))
}

/// A request body of what `work` writes (an archive), on a thread of its own;
/// its failure cuts the body off, so the daemon sees the body fail.
pub fn writer_body(work: impl FnOnce(&mut body::ChannelWriter) -> std::io::Result<()> + Send + 'static) -> Outgoing {
    let (mut writer, stream) = body::pipe();
    std::thread::spawn(move || {
        if let Err(error) = work(&mut writer) {
            writer.fail(error);
        }
    });
    StreamBody::new(futures_util::StreamExt::map(stream, |chunk| chunk.map(Frame::data))).boxed()
}

#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: PathBuf) -> Self {
        Client { socket }
    }

    /// A client of a daemon that answers, starting one in the background when
    /// none does (and saying so on stderr), as the CLI does for every command.
    /// Only root starts one: anyone else gets told that none runs.
    pub async fn connect_or_start() -> Result<Client, ClientError> {
        let client = Client::new(super::socket_from_env());
        // A daemon that accepts the connection answers: no request needed to know.
        match client.connect().await {
            Ok(_) => return Ok(client),
            Err(ClientError::Connect { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(ClientError::PermissionDenied { socket: client.socket });
            }
            Err(_) if !nix::unistd::geteuid().is_root() => {
                return Err(ClientError::NotRunning { socket: client.socket });
            }
            Err(_) => {}
        }
        let run = client.socket.parent().unwrap_or(Path::new("/")).to_path_buf();
        let log = run.join("daemon.log");
        let pid = spawn_daemon(&run, &log)?;
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
        let response = self.send(Method::GET, path, &[], empty_body()).await?;
        decode(response).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let response = self.send(Method::POST, path, &[], json_body(body)?).await?;
        decode(response).await
    }

    /// A POST whose response is a stream of JSON lines; `on_line` sees each as it arrives.
    pub async fn stream<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        on_line: impl FnMut(T),
    ) -> Result<(), ClientError> {
        let response = self.send(Method::POST, path, &[], json_body(body)?).await?;
        read_lines(response, on_line).await
    }

    /// A GET whose response is a stream of JSON lines.
    pub async fn stream_get<T: DeserializeOwned>(&self, path: &str, on_line: impl FnMut(T)) -> Result<(), ClientError> {
        let response = self.send(Method::GET, path, &[], empty_body()).await?;
        read_lines(response, on_line).await
    }

    /// A GET whose response is a stream of JSON lines, read until `on_line`
    /// fails (say, writing to a closed pipe): its error ends the request.
    pub async fn get_lines<T: DeserializeOwned>(
        &self,
        path: &str,
        on_line: impl FnMut(T) -> std::io::Result<()>,
    ) -> Result<(), ClientError> {
        let response = self.send(Method::GET, path, &[], empty_body()).await?;
        read_lines_until(response, on_line).await
    }

    /// Any request; an error status comes back as [`ClientError::Api`], a
    /// success as the response, its body still to read (an archive, say).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Outgoing,
    ) -> Result<Response<Incoming>, ClientError> {
        let response = self.send(method, path, headers, body).await?;
        if !response.status().is_success() {
            return Err(decode::<serde_json::Value>(response).await.err().unwrap_or(ClientError::Api {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "the berth daemon failed without saying why".into(),
                exit_code: None,
            }));
        }
        Ok(response)
    }

    /// Upgrades a POST of `body` to `path` to [`ATTACH_PROTOCOL`] and hands
    /// back the socket (blocking, for the attach pump) and what was already read of it.
    pub async fn attach<B: Serialize>(&self, path: &str, body: &B) -> Result<Attached, ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let connection = tokio::spawn(connection.with_upgrades());
        let headers = [("connection", "Upgrade".to_string()), ("upgrade", ATTACH_PROTOCOL.to_string())];
        let request = request(Method::POST, path, &headers, json_body(body)?);
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status();
            decode::<serde_json::Value>(response).await?;
            return Err(ClientError::NoUpgrade(status));
        }
        let container = response.headers().get(CONTAINER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let upgraded = hyper::upgrade::on(response).await?;
        drop(connection);
        let parts = upgraded
            .downcast::<TokioIo<UnixStream>>()
            .map_err(|_| ClientError::Attach(std::io::Error::other("the upgraded connection is not the socket")))?;
        let socket = parts.io.into_inner().into_std().map_err(ClientError::Attach)?;
        socket.set_nonblocking(false).map_err(ClientError::Attach)?;
        Ok(Attached { socket, pending: parts.read_buf.to_vec(), container })
    }

    async fn connect(&self) -> Result<UnixStream, ClientError> {
        UnixStream::connect(&self.socket)
            .await
            .map_err(|source| ClientError::Connect { socket: self.socket.clone(), source })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&'static str, String)],
        body: Outgoing,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream = self.connect().await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "daemon connection ended");
            }
        });
        Ok(sender.send_request(request(method, path, headers, body)).await?)
    }
}

/// An empty request body.
pub fn empty_body() -> Outgoing {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
}

fn request(method: Method, path: &str, headers: &[(&'static str, String)], body: Outgoing) -> Request<Outgoing> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("{PREFIX}{path}"))
        .header(hyper::header::HOST, "berth")
        .header(hyper::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.body(body).expect("a request built from valid parts")
}

/// Reads a response of JSON lines, handing each to `on_line`.
pub async fn read_lines<T: DeserializeOwned>(
    response: Response<Incoming>,
    mut on_line: impl FnMut(T),
) -> Result<(), ClientError> {
    read_lines_until(response, |line| {
        on_line(line);
        Ok(())
    })
    .await
}

/// [`read_lines`] until `on_line` fails.
pub async fn read_lines_until<T: DeserializeOwned>(
    response: Response<Incoming>,
    mut on_line: impl FnMut(T) -> std::io::Result<()>,
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
                    on_line(serde_json::from_slice(&line)?).map_err(ClientError::Local)?;
                }
            }
        }
    }
    Ok(())
}

/// The JSON of a response, or the daemon's error as [`ClientError::Api`].
pub async fn decode<T: DeserializeOwned>(response: Response<Incoming>) -> Result<T, ClientError> {
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

/// A blocking reader of a response's body (an archive), for a blocking task.
pub fn body_reader(response: Response<Incoming>) -> body::ChannelReader {
    body::reader(response.into_body().into_data_stream())
}

/// Starts `berth daemon` detached from this terminal, its output appended to
/// `log`. It inherits this environment (BERTH_ROOT and the like are its business).
fn spawn_daemon(run: &Path, log: &Path) -> Result<u32, ClientError> {
    std::fs::create_dir_all(run).map_err(ClientError::Spawn)?;
    let output = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(ClientError::Spawn)?;
    let exe = std::env::current_exe().map_err(ClientError::Spawn)?;
    let child = std::process::Command::new(exe)
        .arg("daemon")
        .env("BERTH_RUN", run)
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone().map_err(ClientError::Spawn)?)
        .stderr(output)
        .spawn()
        .map_err(ClientError::Spawn)?;
    Ok(child.id())
}

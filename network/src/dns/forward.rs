//! Relaying queries we do not answer: the query bytes go upstream as they are
//! and the answer comes back as it is, over the transport the client used.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout, timeout_at};

use super::resolve::error_reply;

/// How long one upstream gets before the next is tried (resolv.conf's default is 5 s
/// for the whole client; two servers fit in it).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

fn servfail(query: &[u8]) -> Vec<u8> {
    error_reply(u16::from_be_bytes([query[0], query[1]]), ResponseCode::ServFail)
}

/// Over UDP; SERVFAIL when no upstream answers.
pub(crate) async fn udp(query: &[u8], upstreams: &[SocketAddr]) -> Vec<u8> {
    for upstream in upstreams {
        match udp_once(query, *upstream).await {
            Ok(answer) => return answer,
            Err(e) => tracing::debug!(%upstream, error = %e, "upstream did not answer"),
        }
    }
    servfail(query)
}

async fn udp_once(query: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("a literal");
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let deadline = Instant::now() + UPSTREAM_TIMEOUT;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = timeout_at(deadline, socket.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        // Only the answer to this query (same id) is relayed.
        if n >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

/// Over TCP (the client asked over TCP, usually because a UDP answer was truncated).
pub(crate) async fn tcp(query: &[u8], upstreams: &[SocketAddr]) -> Vec<u8> {
    for upstream in upstreams {
        match timeout(UPSTREAM_TIMEOUT, tcp_once(query, *upstream)).await {
            Ok(Ok(answer)) => return answer,
            Ok(Err(e)) => tracing::debug!(%upstream, error = %e, "upstream did not answer"),
            Err(_) => tracing::debug!(%upstream, "upstream timed out"),
        }
    }
    servfail(query)
}

async fn tcp_once(query: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_frame(&mut stream, query).await?;
    read_frame(&mut stream).await
}

/// DNS over TCP frames each message with a two-byte length.
pub(crate) async fn read_frame<S: AsyncReadExt + Unpin>(stream: &mut S) -> std::io::Result<Vec<u8>> {
    let length = stream.read_u16().await?;
    let mut message = vec![0u8; usize::from(length)];
    stream.read_exact(&mut message).await?;
    Ok(message)
}

pub(crate) async fn write_frame<S: AsyncWriteExt + Unpin>(stream: &mut S, message: &[u8]) -> std::io::Result<()> {
    let length = u16::try_from(message.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "DNS message over 64 KiB"))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await
}

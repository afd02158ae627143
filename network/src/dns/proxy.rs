//! Ports published on IPv6 loopback, relayed in user space: the kernel drops
//! traffic from or to ::1 that arrives on any interface but lo (RFC 4291), so
//! a DNAT from [::1] to a container can never be answered (Docker's
//! docker-proxy does the same job). The server listens on [::1]:port and
//! copies each TCP connection, or each UDP client's datagrams, to the container.

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

use super::files::Proxy;
use crate::ports::Protocol;

/// A UDP client's flow is forgotten after this long without a datagram.
const UDP_IDLE: Duration = Duration::from_secs(30);

/// One proxied port; [`Running::stop`] closes it and every connection through it.
#[derive(Debug)]
pub(crate) struct Running {
    task: JoinHandle<()>,
}

impl Running {
    /// Binds [::1]:port now (so the manager's reload fails loudly if it cannot)
    /// and relays in the background.
    pub fn start(proxy: Proxy) -> std::io::Result<Running> {
        let address = SocketAddr::from((Ipv6Addr::LOCALHOST, proxy.port));
        let task = match proxy.protocol {
            Protocol::Tcp => {
                let listener = std::net::TcpListener::bind(address)?;
                listener.set_nonblocking(true)?;
                tokio::spawn(relay_tcp(TcpListener::from_std(listener)?, proxy.target))
            }
            Protocol::Udp => {
                let socket = std::net::UdpSocket::bind(address)?;
                socket.set_nonblocking(true)?;
                tokio::spawn(relay_udp(Arc::new(UdpSocket::from_std(socket)?), proxy.target))
            }
        };
        Ok(Running { task })
    }

    /// Stops relaying and waits until the port is closed, so that it is free
    /// again when the manager hears back (a restart publishes it anew).
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn relay_tcp(listener: TcpListener, target: SocketAddr) {
    // Dropped with this task: every connection ends with the proxy.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut client, _)) = accepted else { continue };
                connections.spawn(async move {
                    match TcpStream::connect(target).await {
                        Ok(mut upstream) => {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(e) => tracing::debug!(%target, error = %e, "proxied connection refused"),
                    }
                });
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn relay_udp(socket: Arc<UdpSocket>, target: SocketAddr) {
    let mut flows: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut replies: JoinSet<SocketAddr> = JoinSet::new();
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((len, client)) = received else { continue };
                let upstream = match flows.get(&client) {
                    Some(upstream) => Arc::clone(upstream),
                    None => match flow(target).await {
                        Ok(upstream) => {
                            flows.insert(client, Arc::clone(&upstream));
                            replies.spawn(relay_replies(Arc::clone(&upstream), Arc::clone(&socket), client));
                            upstream
                        }
                        Err(e) => {
                            tracing::debug!(%target, error = %e, "cannot open a proxied UDP flow");
                            continue;
                        }
                    },
                };
                let _ = upstream.send(&buf[..len]).await;
            }
            Some(Ok(client)) = replies.join_next() => {
                flows.remove(&client);
            }
        }
    }
}

/// A socket of one client's own towards the container.
async fn flow(target: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    let upstream = UdpSocket::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))).await?;
    upstream.connect(target).await?;
    Ok(Arc::new(upstream))
}

/// The container's answers back to `client`, until the flow is idle; returns the client.
async fn relay_replies(upstream: Arc<UdpSocket>, socket: Arc<UdpSocket>, client: SocketAddr) -> SocketAddr {
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok(len)) = tokio::time::timeout(UDP_IDLE, upstream.recv(&mut buf)).await {
        let _ = socket.send_to(&buf[..len], client).await;
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// A free port on [::1] for `protocol`, as the manager's check would find it.
    fn free(protocol: Protocol) -> u16 {
        crate::ports::ephemeral_port(protocol, Ipv6Addr::LOCALHOST.into()).unwrap()
    }

    #[test]
    fn tcp_connections_are_relayed_and_the_port_freed_on_stop() {
        runtime().block_on(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let backend = TcpListener::bind("[::1]:0").await.unwrap();
            let target = backend.local_addr().unwrap();
            tokio::spawn(async move {
                let (mut stream, _) = backend.accept().await.unwrap();
                let mut buf = [0u8; 5];
                stream.read_exact(&mut buf).await.unwrap();
                stream.write_all(&buf.map(|b| b.to_ascii_uppercase())).await.unwrap();
            });
            let port = free(Protocol::Tcp);
            let running = Running::start(Proxy { protocol: Protocol::Tcp, port, target }).unwrap();
            let mut client = TcpStream::connect(("::1", port)).await.unwrap();
            client.write_all(b"hello").await.unwrap();
            let mut answer = [0u8; 5];
            client.read_exact(&mut answer).await.unwrap();
            assert_eq!(&answer, b"HELLO");
            running.stop().await;
            std::net::TcpListener::bind(("::1", port)).expect("the port is free once the proxy stopped");
        });
    }

    #[test]
    fn udp_datagrams_go_both_ways_per_client() {
        runtime().block_on(async {
            let backend = UdpSocket::bind("[::1]:0").await.unwrap();
            let target = backend.local_addr().unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                loop {
                    let (len, from) = backend.recv_from(&mut buf).await.unwrap();
                    backend.send_to(&buf[..len], from).await.unwrap();
                }
            });
            let port = free(Protocol::Udp);
            let running = Running::start(Proxy { protocol: Protocol::Udp, port, target }).unwrap();
            for text in [&b"one"[..], b"two"] {
                let client = UdpSocket::bind("[::1]:0").await.unwrap();
                client.send_to(text, ("::1", port)).await.unwrap();
                let mut buf = [0u8; 64];
                let len = tokio::time::timeout(Duration::from_secs(5), client.recv(&mut buf)).await.unwrap().unwrap();
                assert_eq!(&buf[..len], text);
            }
            running.stop().await;
            std::net::UdpSocket::bind(("::1", port)).expect("the port is free once the proxy stopped");
        });
    }
}

//! Is a host port free? Asked of the kernel by binding it for a moment, so a
//! port some other program listens on is a clear error before the container
//! starts, rather than a DNAT rule silently stealing that program's traffic.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use super::Protocol;

fn bind(protocol: Protocol, addr: SocketAddrV4) -> io::Result<u16> {
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr)?.local_addr().map(|a| a.port()),
        Protocol::Udp => UdpSocket::bind(addr)?.local_addr().map(|a| a.port()),
    }
}

/// Ok if nothing on the host holds `ip:port` for `protocol`.
pub(crate) fn check_free(protocol: Protocol, ip: Ipv4Addr, port: u16) -> io::Result<()> {
    bind(protocol, SocketAddrV4::new(ip, port)).map(|_| ())
}

/// A port from the kernel's ephemeral range that is free right now.
pub(crate) fn ephemeral_port(protocol: Protocol, ip: Ipv4Addr) -> io::Result<u16> {
    bind(protocol, SocketAddrV4::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_is_not_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = check_free(Protocol::Tcp, Ipv4Addr::LOCALHOST, port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(listener);
        check_free(Protocol::Tcp, Ipv4Addr::LOCALHOST, port).unwrap();
        assert_ne!(ephemeral_port(Protocol::Udp, Ipv4Addr::LOCALHOST).unwrap(), 0);
    }
}

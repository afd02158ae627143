//! Is a host port free? Asked of the kernel by binding it for a moment, so a
//! port some other program listens on is a clear error before the container
//! starts, rather than a DNAT rule silently stealing that program's traffic.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage, sockopt};

use super::Protocol;

/// Binds `addr` and returns the port bound. An IPv6 socket is IPv6 only: `::`
/// asks about every IPv6 address, not about IPv4 as well (a program on
/// 0.0.0.0 does not hold [::]).
fn bind(protocol: Protocol, addr: SocketAddr) -> io::Result<u16> {
    let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let kind = match protocol {
        Protocol::Tcp => SockType::Stream,
        Protocol::Udp => SockType::Datagram,
    };
    let fd: OwnedFd = socket::socket(family, kind, SockFlag::SOCK_CLOEXEC, None)?;
    if addr.is_ipv6() {
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    let bound: SockaddrStorage = socket::getsockname(fd.as_raw_fd())?;
    let port = bound
        .as_sockaddr_in()
        .map(|a| a.port())
        .or_else(|| bound.as_sockaddr_in6().map(|a| a.port()))
        .ok_or_else(|| io::Error::other("the kernel bound a socket of another family"))?;
    Ok(port)
}

/// Ok if nothing on the host holds `ip:port` for `protocol`.
pub(crate) fn check_free(protocol: Protocol, ip: IpAddr, port: u16) -> io::Result<()> {
    bind(protocol, SocketAddr::new(ip, port)).map(|_| ())
}

/// A port from the kernel's ephemeral range that is free right now.
pub(crate) fn ephemeral_port(protocol: Protocol, ip: IpAddr) -> io::Result<u16> {
    bind(protocol, SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};

    #[test]
    fn a_listening_port_is_not_free() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = check_free(Protocol::Tcp, IpAddr::V4(Ipv4Addr::LOCALHOST), port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(listener);
        check_free(Protocol::Tcp, IpAddr::V4(Ipv4Addr::LOCALHOST), port).unwrap();
        assert_ne!(ephemeral_port(Protocol::Udp, IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap(), 0);
    }

    #[test]
    fn ipv6_probes_ask_about_ipv6_only() {
        let v4 = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = v4.local_addr().unwrap().port();
        check_free(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).unwrap();
        let v6 = TcpListener::bind(("::1", 0)).unwrap();
        let port = v6.local_addr().unwrap().port();
        let err = check_free(Protocol::Tcp, IpAddr::V6(Ipv6Addr::UNSPECIFIED), port).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_ne!(ephemeral_port(Protocol::Tcp, IpAddr::V6(Ipv6Addr::LOCALHOST)).unwrap(), 0);
    }
}

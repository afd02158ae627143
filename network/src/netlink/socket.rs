//! One request, one answer: send a message, read until its ACK (or the end of a dump).

use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

#[derive(Debug, thiserror::Error)]
#[error("netlink: cannot {op}: {source}")]
pub struct NetlinkError {
    pub op: String,
    #[source]
    pub source: io::Error,
}

impl NetlinkError {
    /// The kernel's errno, to tell "exists" or "no such device" from real failures.
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// A route netlink socket bound to the namespace of the thread that opened it.
#[derive(Debug)]
pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

const RECV_BUF: usize = 64 * 1024;

impl Rtnl {
    pub fn open() -> Result<Self, NetlinkError> {
        let err = |source| NetlinkError { op: "open a netlink socket".into(), source };
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(err)?;
        socket.bind_auto().map_err(err)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(err)?;
        // Extended acks carry the kernel's own message on errors; best effort.
        let _ = socket.set_ext_ack(true);
        Ok(Rtnl { socket, seq: 0, buf: Vec::with_capacity(RECV_BUF) })
    }

    /// Sends `message` with `flags` (plus REQUEST|ACK) and waits for its
    /// acknowledgement; returns what the kernel answered before it (a GET's object).
    pub fn request(
        &mut self,
        op: impl Fn() -> String,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let seq = self
            .send(message, flags | NLM_F_REQUEST | NLM_F_ACK)
            .map_err(|source| NetlinkError { op: op(), source })?;
        let mut out = Vec::new();
        loop {
            for reply in self.receive().map_err(|source| NetlinkError { op: op(), source })? {
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(NetlinkError { op: op(), source: e.to_io() });
                    }
                    NetlinkPayload::Error(_) => return Ok(out),
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }

    /// Sends a dump request and collects every message of the answer.
    pub fn dump(&mut self, op: &str, message: RouteNetlinkMessage) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let err = |source| NetlinkError { op: op.to_string(), source };
        let seq = self.send(message, NLM_F_REQUEST | NLM_F_DUMP).map_err(err)?;
        let mut out = Vec::new();
        loop {
            for reply in self.receive().map_err(err)? {
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(err(e.to_io())),
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        Ok(self.seq)
    }

    /// Reads one datagram and splits it into messages.
    fn receive(&mut self) -> io::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
        self.buf.clear();
        self.socket.recv(&mut self.buf, 0)?;
        let mut messages = Vec::new();
        let mut offset = 0;
        while offset < self.buf.len() {
            let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[offset..])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let length = message.header.length as usize;
            messages.push(message);
            if length == 0 {
                break;
            }
            // Messages are 4-byte aligned within a datagram.
            offset += (length + 3) & !3;
        }
        Ok(messages)
    }
}

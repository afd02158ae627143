//! Connections to the monitor's control socket.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::container::protocol::{self, FrameKind, Reply, Request};

/// A client with more than this waiting to be sent holds the container's
/// output back until it catches up (as a slow `docker attach` does).
pub(super) const MAX_BUFFERED: usize = 1024 * 1024;

/// How long a finished client gets to take its last bytes.
const FINAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The request line has not arrived yet.
    Pending,
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
    },
    /// Gets a [`Reply`] line when the container exits.
    Waiter,
}

/// What a client's bytes amounted to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Input {
    Request(Request),
    Frame(FrameKind, Vec<u8>),
}

#[derive(Debug)]
pub(super) struct Client {
    pub stream: UnixStream,
    pub role: Role,
    input: Vec<u8>,
    pub output: Vec<u8>,
    /// Nothing more will be read; close once `output` is sent.
    pub closing: bool,
}

impl Client {
    pub fn new(stream: UnixStream, role: Role) -> io::Result<Client> {
        stream.set_nonblocking(true)?;
        Ok(Client { stream, role, input: Vec::new(), output: Vec::new(), closing: false })
    }

    /// Reads what is available; `Ok(None)` at end of stream.
    pub fn read(&mut self) -> io::Result<Option<Vec<Input>>> {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buffer) {
                Ok(0) => return Ok(None),
                Ok(n) => self.input.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut inputs = Vec::new();
        if self.role == Role::Pending {
            let Some(newline) = self.input.iter().position(|b| *b == b'\n') else {
                if self.input.len() > 64 * 1024 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "request line too long"));
                }
                return Ok(Some(inputs));
            };
            let line: Vec<u8> = self.input.drain(..=newline).collect();
            let request: Request = serde_json::from_slice(&line[..newline])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad request: {e}")))?;
            // The role is set by whoever handles the request; frames may follow an attach.
            if let Request::Attach { stdin, stdout, stderr } = request {
                self.role = Role::Attach { stdin, stdout, stderr };
            }
            inputs.push(Input::Request(request));
        }
        if matches!(self.role, Role::Attach { .. }) {
            inputs.extend(protocol::decode(&mut self.input)?.into_iter().map(|(kind, data)| Input::Frame(kind, data)));
        }
        Ok(Some(inputs))
    }

    /// Sends what it can without blocking.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn wants(&self, kind: FrameKind) -> bool {
        match self.role {
            Role::Attach { stdout, stderr, .. } => match kind {
                FrameKind::Stdout => stdout,
                FrameKind::Stderr => stderr,
                _ => true,
            },
            _ => false,
        }
    }

    pub fn frame(&mut self, kind: FrameKind, data: &[u8]) {
        protocol::encode(kind, data, &mut self.output);
    }

    /// A reply line (or for an attached client, its last frame), then close.
    pub fn finish(&mut self, reply: &Reply) {
        let json = serde_json::to_vec(reply).unwrap_or_default();
        match self.role {
            Role::Attach { .. } => self.frame(FrameKind::Exit, &json),
            _ => {
                self.output.extend_from_slice(&json);
                self.output.push(b'\n');
            }
        }
        self.closing = true;
    }

    /// Blocks briefly to hand over the last bytes (the monitor is about to exit).
    pub fn flush_before_exit(&mut self) {
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(Some(FINAL_WRITE_TIMEOUT));
        let _ = self.stream.write_all(&self.output);
        self.output.clear();
    }
}

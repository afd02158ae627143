//! Attaching to a container's stdio through its monitor, and the client loop
//! that copies between the attach stream and local descriptors.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::containers::Containers;
use super::error::ContainerError;
use super::protocol::{self, FrameKind, Reply, Request, send_request};

/// Which of the container's streams to attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// A live attachment: the container's output arrives as frames, its input goes out as frames.
#[derive(Debug)]
pub struct AttachStream {
    stream: UnixStream,
    /// Bytes of the stream already read by whoever carried it here (an HTTP
    /// client reading past an upgrade response), not yet decoded.
    pending: Vec<u8>,
}

/// The local side of an attachment.
pub struct Pump<'a> {
    /// Copied to the container until it ends; `None` sends nothing.
    pub stdin: Option<BorrowedFd<'a>>,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    pub events: Option<Events<'a>>,
}

/// Local events during an attachment (say, a signalfd for SIGWINCH and the
/// signals to pass on to the container).
pub struct Events<'a> {
    /// Becomes readable when something happened.
    pub fd: BorrowedFd<'a>,
    /// Consumes the event; a size it returns (rows, columns) goes to the container's terminal.
    pub handle: &'a mut dyn FnMut() -> Option<(u16, u16)>,
}

impl std::fmt::Debug for Pump<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump").field("stdin", &self.stdin).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Events<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").field("fd", &self.fd).finish_non_exhaustive()
    }
}

/// Writes out the complete frames in `received`; the reply when the exit frame is among them.
fn deliver(received: &mut Vec<u8>, pump: &mut Pump<'_>) -> io::Result<Option<Reply>> {
    for (kind, data) in protocol::decode(received)? {
        match kind {
            FrameKind::Stdout => {
                pump.stdout.write_all(&data)?;
                pump.stdout.flush()?;
            }
            FrameKind::Stderr => {
                pump.stderr.write_all(&data)?;
                pump.stderr.flush()?;
            }
            FrameKind::Exit => {
                return serde_json::from_slice(&data)
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
            }
            FrameKind::Stdin | FrameKind::Resize => {}
        }
    }
    Ok(None)
}

impl AttachStream {
    pub(crate) fn new(stream: UnixStream) -> AttachStream {
        AttachStream { stream, pending: Vec::new() }
    }

    /// An attachment carried over another connection (the daemon relays the
    /// monitor's stream byte for byte): `pending` is what was already read of it.
    pub fn relayed(stream: UnixStream, pending: Vec<u8>) -> AttachStream {
        AttachStream { stream, pending }
    }

    /// The stream to the monitor, for a relay; nothing of it has been read.
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }

    /// Tells the container's terminal its size.
    pub fn resize(&mut self, rows: u16, cols: u16) -> io::Result<()> {
        let mut frame = Vec::new();
        let mut size = rows.to_be_bytes().to_vec();
        size.extend_from_slice(&cols.to_be_bytes());
        protocol::encode(FrameKind::Resize, &size, &mut frame);
        self.stream.write_all(&frame)
    }

    /// Copies until the container exits; returns how it ended.
    pub fn pump(mut self, mut pump: Pump<'_>) -> io::Result<Reply> {
        let mut input = pump.stdin;
        let mut received = std::mem::take(&mut self.pending);
        if let Some(reply) = deliver(&mut received, &mut pump)? {
            return Ok(reply);
        }
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            let mut fds = vec![PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
            if let Some(stdin) = input {
                fds.push(PollFd::new(stdin, PollFlags::POLLIN));
            }
            let events_at = fds.len();
            if let Some(events) = &pump.events {
                fds.push(PollFd::new(events.fd, PollFlags::POLLIN));
            }
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            let events: Vec<PollFlags> = fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty())).collect();
            drop(fds);
            if !events[0].is_empty() {
                let n = self.stream.read(&mut buffer)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the container's monitor went away"));
                }
                received.extend_from_slice(&buffer[..n]);
                if let Some(reply) = deliver(&mut received, &mut pump)? {
                    return Ok(reply);
                }
            }
            if let Some(stdin) = input
                && events.get(1).is_some_and(|e| !e.is_empty())
            {
                let n = match nix::unistd::read(stdin.as_raw_fd(), &mut buffer) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => continue,
                    Err(_) => 0,
                };
                let mut frame = Vec::new();
                protocol::encode(FrameKind::Stdin, &buffer[..n], &mut frame);
                // The container may be gone already; its exit frame is still to come.
                let _ = self.stream.write_all(&frame);
                if n == 0 {
                    input = None;
                }
            }
            if let Some(local) = &mut pump.events
                && events.get(events_at).is_some_and(|e| !e.is_empty())
                && let Some((rows, cols)) = (local.handle)()
            {
                let _ = self.resize(rows, cols);
            }
        }
    }
}

impl Containers {
    /// Attaches to a running container.
    pub fn attach(&self, reference: &str, streams: AttachStreams) -> Result<AttachStream, ContainerError> {
        let record = self.lookup(reference)?;
        let dir = self.dir(&record);
        if !self.state(&record)?.is_running() {
            return Err(ContainerError::NotRunning(record.name));
        }
        let mut stream = super::client::connect(&dir)?;
        send_request(
            &mut stream,
            &Request::Attach { stdin: streams.stdin, stdout: streams.stdout, stderr: streams.stderr },
        )
        .map_err(|e| ContainerError::Monitor { id: record.id.to_string(), reason: e.to_string() })?;
        Ok(AttachStream::new(stream))
    }
}

//! The monitor's control socket: a client sends one JSON request line; for
//! `Attach` the connection then carries frames both ways. A frame is Docker's
//! stream header (kind, three zero bytes, big-endian u32 length) and payload.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// What a client asks the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Stream the container's output (and take its input) until it exits.
    Attach { stdin: bool, stdout: bool, stderr: bool },
    /// Reply when the container's process exits.
    Wait,
    /// Send `signal`; SIGKILL after `timeout_secs`; reply when it exited.
    Stop { signal: i32, timeout_secs: u32 },
    /// Send `signal` and reply at once.
    Kill { signal: i32 },
    /// Set the terminal size of a TTY container.
    Resize { rows: u16, cols: u16 },
}

/// The monitor's answer to `Wait`, `Stop`, `Kill` and `Resize`, and the
/// payload of an attach stream's [`FrameKind::Exit`] frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Exited(ExitStatus),
    Done,
    Error(String),
}

/// How the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExitStatus {
    /// The exit code, or 128 + the signal that killed it.
    pub exit_code: i32,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
}

/// What a new monitor tells whoever started it, once, as one JSON line on its stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartReport {
    Started { pid: i32 },
    Failed { kind: super::error::StartFailure, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Client to monitor: input for the container; an empty frame closes its stdin.
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
    /// Monitor to client, last frame: a JSON [`Reply`].
    Exit = 4,
    /// Client to monitor: rows and columns, two big-endian u16.
    Resize = 5,
}

impl FrameKind {
    pub fn from_byte(byte: u8) -> Option<FrameKind> {
        Some(match byte {
            0 => FrameKind::Stdin,
            1 => FrameKind::Stdout,
            2 => FrameKind::Stderr,
            4 => FrameKind::Exit,
            5 => FrameKind::Resize,
            _ => return None,
        })
    }
}

pub const HEADER_LEN: usize = 8;
/// Frames never carry more than this; bigger writes are split.
pub const MAX_FRAME: usize = 64 * 1024;

/// Appends a frame to `out`.
pub fn encode(kind: FrameKind, payload: &[u8], out: &mut Vec<u8>) {
    for chunk in payload.chunks(MAX_FRAME).chain(payload.is_empty().then_some(&[][..])) {
        out.extend_from_slice(&[kind as u8, 0, 0, 0]);
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Splits complete frames off the front of `buffer`.
pub fn decode(buffer: &mut Vec<u8>) -> io::Result<Vec<(FrameKind, Vec<u8>)>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while buffer.len() - at >= HEADER_LEN {
        let header = &buffer[at..at + HEADER_LEN];
        let kind = FrameKind::from_byte(header[0])
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unknown frame kind {}", header[0])))?;
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes is too large")));
        }
        if buffer.len() - at - HEADER_LEN < len {
            break;
        }
        frames.push((kind, buffer[at + HEADER_LEN..at + HEADER_LEN + len].to_vec()));
        at += HEADER_LEN + len;
    }
    buffer.drain(..at);
    Ok(frames)
}

/// Reads one frame (blocking).
pub fn read_frame(reader: &mut impl Read) -> io::Result<Option<(FrameKind, Vec<u8>)>> {
    let mut header = [0u8; HEADER_LEN];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buffer = header.to_vec();
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes is too large")));
    }
    buffer.resize(HEADER_LEN + len, 0);
    reader.read_exact(&mut buffer[HEADER_LEN..])?;
    Ok(decode(&mut buffer)?.pop())
}

/// Writes a request line.
pub fn send_request(writer: &mut impl Write, request: &Request) -> io::Result<()> {
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split() {
        let mut wire = Vec::new();
        encode(FrameKind::Stdout, b"hello", &mut wire);
        encode(FrameKind::Stdin, b"", &mut wire);
        encode(FrameKind::Stderr, &vec![7u8; MAX_FRAME + 1], &mut wire);
        let mut partial = wire[..wire.len() - 1].to_vec();
        let frames = decode(&mut partial).unwrap();
        assert_eq!(frames.len(), 3, "the last frame is incomplete");
        assert_eq!(frames[0], (FrameKind::Stdout, b"hello".to_vec()));
        assert_eq!(frames[1], (FrameKind::Stdin, vec![]));
        assert_eq!(frames[2].1.len(), MAX_FRAME);
        assert_eq!(partial.len(), HEADER_LEN); // the 1-byte frame, minus its byte
        let mut reader = &wire[..];
        assert_eq!(read_frame(&mut reader).unwrap().unwrap().1, b"hello");
        assert!(decode(&mut vec![9, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn requests_are_json_lines() {
        let mut line = Vec::new();
        send_request(&mut line, &Request::Stop { signal: 15, timeout_secs: 10 }).unwrap();
        assert_eq!(line.last(), Some(&b'\n'));
        let parsed: Request = serde_json::from_slice(&line[..line.len() - 1]).unwrap();
        assert_eq!(parsed, Request::Stop { signal: 15, timeout_secs: 10 });
    }
}

/// Unix socket paths are limited to 108 bytes, and container directories are
/// deep: sockets are reached through `/proc/self/fd/<dir>/<name>`.
pub mod socket {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::Path;

    fn open_dir(dir: &Path) -> io::Result<File> {
        std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY).open(dir)
    }

    fn short_path(dir: &File, name: &str) -> String {
        format!("/proc/self/fd/{}/{name}", dir.as_raw_fd())
    }

    pub fn connect(path: &Path) -> io::Result<UnixStream> {
        let (dir, name) = split(path)?;
        let dir = open_dir(dir)?;
        UnixStream::connect(short_path(&dir, name))
    }

    /// Binds a fresh socket at `path` (a stale one is replaced), readable by root only.
    pub fn bind(path: &Path) -> io::Result<UnixListener> {
        let (dir, name) = split(path)?;
        let dir = open_dir(dir)?;
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(short_path(&dir, name))?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok(listener)
    }

    fn split(path: &Path) -> io::Result<(&Path, &str)> {
        let name = path.file_name().and_then(|n| n.to_str());
        match (path.parent(), name) {
            (Some(dir), Some(name)) => Ok((dir, name)),
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad socket path {}", path.display()))),
        }
    }

    #[cfg(test)]
    mod tests {
        use std::io::{Read, Write};

        #[test]
        fn long_paths_work() {
            let tmp = tempfile::tempdir().unwrap();
            let deep = tmp.path().join("d".repeat(100)).join("e".repeat(60));
            std::fs::create_dir_all(&deep).unwrap();
            let path = deep.join("control.sock");
            assert!(path.as_os_str().len() > 108);
            let listener = super::bind(&path).unwrap();
            let mut client = super::connect(&path).unwrap();
            client.write_all(b"hi").unwrap();
            let mut buf = [0u8; 2];
            listener.accept().unwrap().0.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hi");
        }
    }
}

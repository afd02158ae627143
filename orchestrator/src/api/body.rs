//! Streamed bodies (image and copy archives, in both directions) between the
//! async HTTP side and the blocking library side: a writer whose bytes become
//! a body's chunks, and a reader of a body's chunks. A failure on either end
//! travels as an error, so a cut-off archive is never taken for a whole one.

use std::io::{self, Read, Write};

use bytes::{Buf, Bytes};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

/// Chunks in flight between the two sides.
const CHUNKS: usize = 16;

/// The blocking end that produces a body: each write becomes a chunk.
#[derive(Debug)]
pub struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
}

impl ChannelWriter {
    /// Ends the body with an error (the receiving side sees the body fail).
    pub fn fail(self, error: io::Error) {
        let _ = self.sender.blocking_send(Err(error));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sender
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the other side went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer for blocking code and the stream of what it writes, for a body.
pub fn pipe() -> (ChannelWriter, impl Stream<Item = io::Result<Bytes>> + Send + 'static) {
    let (sender, receiver) = mpsc::channel(CHUNKS);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    (ChannelWriter { sender }, stream)
}

/// The blocking end that consumes a body.
#[derive(Debug)]
pub struct ChannelReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// A reader of `body` for blocking code; must be called on an async runtime,
/// which carries the chunks over.
pub fn reader<E: std::fmt::Display + Send + 'static>(
    body: impl Stream<Item = Result<Bytes, E>> + Send + 'static,
) -> ChannelReader {
    let (sender, receiver) = mpsc::channel(CHUNKS);
    tokio::spawn(async move {
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| io::Error::other(format!("the stream broke off: {e}")));
            let failed = chunk.is_err();
            if sender.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    ChannelReader { receiver, current: Bytes::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_and_failures_cross_over() {
        let (mut writer, stream) = pipe();
        let producer = tokio::task::spawn_blocking(move || {
            writer.write_all(b"hello ").unwrap();
            writer.write_all(b"world").unwrap();
            writer.fail(io::Error::other("disk on fire"));
        });
        let mut reader = reader(stream);
        let read = tokio::task::spawn_blocking(move || {
            let mut text = Vec::new();
            let error = reader.read_to_end(&mut text).unwrap_err();
            (String::from_utf8(text).unwrap(), error.to_string())
        });
        producer.await.unwrap();
        let (text, error) = read.await.unwrap();
        assert_eq!(text, "hello world");
        assert!(error.contains("disk on fire"), "{error}");
    }
}

//! The blocking half of a layer download: bytes arrive from the network task
//! through a channel, are written to the blob file (which hashes them) and at
//! the same time decompressed and unpacked. Download, verification and
//! unpacking overlap; nothing is trusted until the digests are checked.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use bytes::Bytes;
use tokio::sync::mpsc::Receiver;

use crate::image::content::BlobWriter;
use crate::image::error::ImageError;
use crate::image::unpack::{Unpacked, unpack};

const READ_BUFFER: usize = 256 * 1024;

/// Reads the chunks a channel delivers; EOF when the sender is dropped.
#[derive(Debug)]
pub struct ChannelReader {
    rx: Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: Receiver<Bytes>) -> Self {
        ChannelReader { rx, current: Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}

/// Copies everything read through it into a blob writer.
#[derive(Debug)]
pub struct Tee<R> {
    inner: R,
    sink: BlobWriter,
}

impl<R: Read> Tee<R> {
    pub fn new(inner: R, sink: BlobWriter) -> Self {
        Tee { inner, sink }
    }

    /// Reads what the decompressor left (trailers, padding) so the blob is whole.
    pub fn finish(mut self) -> io::Result<BlobWriter> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.sink)
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Unpacks a layer blob, compressed with gzip or zstd or not at all (told
/// by its first bytes, as Docker does, not by the media type alone).
pub fn unpack_blob<R: Read>(reader: R, dest: &Path) -> Result<Unpacked, ImageError> {
    let mut buffered = BufReader::with_capacity(READ_BUFFER, reader);
    let magic = buffered.fill_buf().map_err(|e| ImageError::Unpack(crate::image::unpack::UnpackError::Tar(e)))?;
    let unpacked = if magic.starts_with(&[0x1f, 0x8b]) {
        unpack(flate2::bufread::MultiGzDecoder::new(buffered), dest)?
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = zstd::stream::read::Decoder::with_buffer(buffered)
            .map_err(|e| ImageError::Unpack(crate::image::unpack::UnpackError::Tar(e)))?;
        unpack(decoder, dest)?
    } else {
        unpack(buffered, dest)?
    };
    Ok(unpacked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, "hello.txt", &b"hello"[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn every_compression_gives_the_same_diff_id() {
        let tar = layer();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&tar).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::encode_all(&tar[..], 1).unwrap();
        for blob in [&tar, &gzip, &zstd] {
            let dir = tempfile::tempdir().unwrap();
            let unpacked = unpack_blob(&blob[..], dir.path()).unwrap();
            assert_eq!(unpacked.diff_id, crate::image::Digest::of(&tar));
            assert_eq!(std::fs::read(dir.path().join("hello.txt")).unwrap(), b"hello");
        }
    }

    #[test]
    fn the_channel_reader_ends_when_the_sender_goes() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Bytes::from_static(b"ab")).unwrap();
        tx.try_send(Bytes::from_static(b"cd")).unwrap();
        drop(tx);
        let mut out = Vec::new();
        ChannelReader::new(rx).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
    }
}

//! Content digests (`sha256:<64 hex>`), the names of everything in the store.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A sha256 content digest, validated once at the edge. Other algorithms are
/// refused: every registry and image berth meets uses sha256, and the store
/// is laid out by sha256 (`<root>/content/sha256/<hex>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    Invalid(String),
    #[error("unsupported digest algorithm in {0:?}: berth supports sha256 only")]
    Algorithm(String),
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest { hex: hex::encode(Sha256::digest(bytes)) }
    }

    /// The 64 lowercase hex digits, as used for file and directory names.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Accepts the 64 hex digits alone (a file name in the store).
    pub fn from_hex(hex: &str) -> Result<Digest, DigestError> {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Digest { hex: hex.to_owned() })
        } else {
            Err(DigestError::Invalid(hex.to_owned()))
        }
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("sha256", hex)) => Digest::from_hex(hex).map_err(|_| DigestError::Invalid(s.to_owned())),
            Some((algorithm, _)) if !algorithm.is_empty() => Err(DigestError::Algorithm(s.to_owned())),
            _ => Err(DigestError::Invalid(s.to_owned())),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes a stream as it passes, for verifying what was read without a second pass.
#[derive(Debug, Default, Clone)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Hasher::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest { hex: hex::encode(self.inner.finalize()) }
    }
}

/// A reader that hashes everything read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: std::io::Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Hasher::new() }
    }

    /// The digest and length of everything read so far, and the inner reader.
    pub fn finish(self) -> (Digest, u64, R) {
        let len = self.hasher.len();
        (self.hasher.finish(), len, self.inner)
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse().unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.to_string(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn refuses_bad_digests() {
        assert!(matches!("sha256:abc".parse::<Digest>(), Err(DigestError::Invalid(_))));
        assert!(matches!("sha512:abc".parse::<Digest>(), Err(DigestError::Algorithm(_))));
        assert!(matches!("e3b0".parse::<Digest>(), Err(DigestError::Invalid(_))));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(upper.parse::<Digest>().is_err());
    }

    #[test]
    fn the_reader_hashes_what_passes() {
        let mut reader = HashingReader::new(&b"hello"[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        let (digest, len, _) = reader.finish();
        assert_eq!((digest, len), (Digest::of(b"hello"), 5));
    }
}

//! Container IDs: 64 lowercase hex digits, shown shortened to 12 (as Docker).

use std::fmt;
use std::io::Read;

/// A container's ID. Only valid IDs can be built, so paths derived from one
/// (`<root>/containers/<id>`) never escape their directory.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

/// The length of the short form `ps` prints.
pub const SHORT_LEN: usize = 12;

impl ContainerId {
    /// A fresh random ID from the kernel's CSPRNG. An all-digit ID is drawn again,
    /// as Docker does, so that its short form cannot be mistaken for a number.
    pub fn generate() -> std::io::Result<ContainerId> {
        let mut urandom = std::fs::File::open("/dev/urandom")?;
        loop {
            let mut bytes = [0u8; 32];
            urandom.read_exact(&mut bytes)?;
            let id = hex::encode(bytes);
            if id[..SHORT_LEN].bytes().any(|b| b.is_ascii_alphabetic()) {
                return Ok(ContainerId(id));
            }
        }
    }

    /// Parses a full 64-hex ID.
    pub fn parse(text: &str) -> Option<ContainerId> {
        (text.len() == 64 && is_lower_hex(text)).then(|| ContainerId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits.
    pub fn short(&self) -> &str {
        &self.0[..SHORT_LEN]
    }
}

/// True for a non-empty string of lowercase hex digits (a possible ID prefix).
pub fn is_lower_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContainerId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        ContainerId::parse(&value).ok_or_else(|| format!("invalid container ID {value:?}: want 64 hex digits"))
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_64_hex_and_unique() {
        let a = ContainerId::generate().unwrap();
        let b = ContainerId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(is_lower_hex(a.as_str()));
        assert_eq!(a.short(), &a.as_str()[..12]);
        assert!(a.short().bytes().any(|b| b.is_ascii_alphabetic()));
    }

    #[test]
    fn parse_accepts_only_full_lowercase_hex() {
        let full = "a".repeat(64);
        assert!(ContainerId::parse(&full).is_some());
        assert!(ContainerId::parse(&"A".repeat(64)).is_none());
        assert!(ContainerId::parse("abc").is_none());
        assert!(ContainerId::parse(&format!("../{}", "a".repeat(61))).is_none());
        let json = serde_json::to_string(&ContainerId::parse(&full).unwrap()).unwrap();
        assert!(serde_json::from_str::<ContainerId>("\"../etc\"").is_err());
        assert_eq!(serde_json::from_str::<ContainerId>(&json).unwrap().as_str(), full);
    }
}

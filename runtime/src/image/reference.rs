//! Image references, normalised as Docker does (`busybox` ->
//! `docker.io/library/busybox:latest`), following the grammar of
//! distribution's `reference` package.

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised reference: registry, repository, and a tag or a digest (or both).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid reference {input:?}: {reason}")]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

impl Reference {
    /// Parses `input`; a reference with neither tag nor digest gets `:latest`.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let error = |reason: &str| ReferenceError { input: input.to_owned(), reason: reason.to_owned() };
        if input.is_empty() {
            return Err(error("it is empty"));
        }
        let (rest, digest) = match input.rsplit_once('@') {
            Some((rest, digest)) => (rest, Some(digest.parse::<Digest>().map_err(|e| error(&e.to_string()))?)),
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(colon) => (&rest[..last_slash + colon], Some(&rest[last_slash + colon + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|reason| error(&reason))?;
        }
        let (registry, repository) = split_registry(name).map_err(|reason| error(&reason))?;
        if repository.len() + registry.len() + 1 > MAX_NAME_LEN {
            return Err(error("the repository name is longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (tag, _) => tag.map(str::to_owned),
        };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// The registry host (and port), `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, e.g. `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.to_owned()), digest: None, ..self.clone() }
    }

    /// The same repository by digest (and no tag).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { tag: None, digest: Some(digest), ..self.clone() }
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_owned(),
        }
    }

    /// The name as Docker shows it: `busybox`, `user/app`, `localhost:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository.strip_prefix("library/").unwrap_or(&self.repository).to_owned()
        } else {
            self.name()
        }
    }

    /// The familiar form with tag or digest: `busybox:latest`, `busybox@sha256:...`.
    pub fn familiar(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(tag), None) => format!("{}:{}", self.familiar_name(), tag),
            (None, Some(digest)) => format!("{}@{}", self.familiar_name(), digest),
            (Some(tag), Some(digest)) => format!("{}:{}@{}", self.familiar_name(), tag, digest),
            (None, None) => self.familiar_name(),
        }
    }
}

impl fmt::Display for Reference {
    /// The fully normalised form, e.g. `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// Splits off the registry as Docker does: the first component is a registry
/// when it has a `.` or `:`, is `localhost`, or has upper-case letters.
fn split_registry(name: &str) -> Result<(String, String), String> {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            check_registry(first)?;
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    let registry = if registry == "index.docker.io" { DOCKER_HUB.to_owned() } else { registry };
    check_path(&path)?;
    let path = if registry == DOCKER_HUB && !path.contains('/') { format!("library/{path}") } else { path };
    Ok((registry, path))
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        // An IPv6 literal: [::1]:5000.
        let (inner, after) = rest.split_once(']').ok_or("unclosed '[' in the registry address")?;
        if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(format!("invalid IPv6 address {inner:?} in the registry"));
        }
        (None, after.strip_prefix(':').map(Some).unwrap_or_else(|| (!after.is_empty()).then_some(after)))
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
                && !c.starts_with('-')
                && !c.ends_with('-')
        };
        if !host.split('.').all(valid_component) {
            return Err(format!("invalid registry host {host:?}"));
        }
    }
    if let Some(port) = port
        && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return Err(format!("invalid registry port {port:?}"));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository name is empty".to_owned());
    }
    if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a repository name cannot be 64 hexadecimal digits (that looks like an image ID)".to_owned());
    }
    for component in path.split('/') {
        check_component(component)?;
    }
    Ok(())
}

/// `[a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*`
fn check_component(component: &str) -> Result<(), String> {
    if component.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("repository names must be lowercase".to_owned());
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let bad = || format!("invalid repository name component {component:?}");
    if bytes.is_empty() || !alnum(bytes[0]) {
        return Err(bad());
    }
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let sep_len = match bytes[i] {
            b'.' => 1,
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[i..].iter().take_while(|&&b| b == b'-').count(),
            _ => return Err(bad()),
        };
        i += sep_len;
        if i >= bytes.len() || !alnum(bytes[i]) {
            return Err(bad());
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let ok =
        tag.len() <= MAX_TAG_LEN && chars.next().is_some_and(word) && chars.all(|c| word(c) || c == '.' || c == '-');
    if ok { Ok(()) } else { Err(format!("invalid tag {tag:?}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/ns/app:v1"), "localhost:5000/ns/app:v1");
        assert_eq!(norm("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(norm("[::1]:5000/app"), "[::1]:5000/app:latest");
        assert_eq!(norm(&format!("busybox@{D}")), format!("docker.io/library/busybox@{D}"));
        assert_eq!(norm(&format!("busybox:1@{D}")), format!("docker.io/library/busybox:1@{D}"));
        assert_eq!(norm("a__b-c---d/e.f_g"), "docker.io/a__b-c---d/e.f_g:latest");
    }

    #[test]
    fn familiar_forms() {
        assert_eq!(Reference::parse("busybox").unwrap().familiar(), "busybox:latest");
        assert_eq!(Reference::parse("docker.io/user/app:v1").unwrap().familiar(), "user/app:v1");
        assert_eq!(Reference::parse("localhost:5000/app").unwrap().familiar_name(), "localhost:5000/app");
    }

    #[test]
    fn splits_parts() {
        let r = Reference::parse(&format!("localhost:5000/ns/app:v1@{D}")).unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "ns/app");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.manifest_selector(), D);
        assert_eq!(Reference::parse("busybox").unwrap().manifest_selector(), "latest");
    }

    #[test]
    fn refuses_invalid_references() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            ":tag",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "busybox@sha256:abc",
            "busybox@md5:abc",
            "localhost:99999/a",
            "local_host:5000/a",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "a b",
        ] {
            let err = Reference::parse(bad).expect_err(bad);
            assert!(err.to_string().starts_with("invalid reference"), "{err}");
        }
        let long_tag = format!("a:{}", "t".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
        let long_name = "a".repeat(256);
        assert!(Reference::parse(&long_name).is_err());
    }

    #[test]
    fn errors_say_why() {
        let err = Reference::parse("Busybox").unwrap_err();
        assert_eq!(err.to_string(), "invalid reference \"Busybox\": repository names must be lowercase");
    }
}

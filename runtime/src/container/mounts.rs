//! Mounts a user asks for: `-v` (bind, named and anonymous volumes) and
//! `--tmpfs`, parsed with Docker's rules.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::options::OptionError;

/// One requested mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountRequest {
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
    pub kind: MountKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type", rename_all = "lowercase")]
pub enum MountKind {
    /// A host path. Created as a directory when missing, as `docker run -v` does.
    Bind {
        #[serde(rename = "Source")]
        source: PathBuf,
        /// `rprivate` unless asked otherwise.
        #[serde(rename = "Propagation")]
        propagation: Propagation,
    },
    /// A named volume under `<root>/volumes/<name>/_data`, or a fresh anonymous one.
    Volume {
        #[serde(rename = "Name")]
        name: Option<String>,
        /// `nocopy`: do not populate an empty volume from the image.
        #[serde(rename = "NoCopy")]
        no_copy: bool,
    },
    /// A tmpfs with these mount options (Docker's defaults are noexec,nosuid,nodev).
    Tmpfs {
        #[serde(rename = "Options")]
        options: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Shared,
    Rshared,
    Slave,
    Rslave,
    Private,
    #[default]
    Rprivate,
}

impl Propagation {
    const ALL: [Propagation; 6] = [
        Propagation::Shared,
        Propagation::Rshared,
        Propagation::Slave,
        Propagation::Rslave,
        Propagation::Private,
        Propagation::Rprivate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
        }
    }
}

/// Docker's rule for local volume names.
pub fn is_valid_volume_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn container_path(spec: &str, text: &str, what: &'static str) -> Result<PathBuf, OptionError> {
    let path = Path::new(text);
    if !path.is_absolute() {
        return Err(OptionError::new(what, spec, format!("the container path {text:?} must be absolute")));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(OptionError::new(what, spec, format!("the container path {text:?} must not contain \"..\"")));
    }
    if path.components().all(|c| c == Component::RootDir) {
        return Err(OptionError::new(what, spec, "the destination can't be '/'"));
    }
    Ok(path.components().collect())
}

impl MountRequest {
    /// Parses `-v [SOURCE:]TARGET[:OPTIONS]`.
    pub fn parse_volume(spec: &str) -> Result<MountRequest, OptionError> {
        const WHAT: &str = "-v";
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, target, options) = match parts.as_slice() {
            [target] => (None, *target, None),
            [source, target] => (Some(*source), *target, None),
            [source, target, options] => (Some(*source), *target, Some(*options)),
            _ => return Err(OptionError::new(WHAT, spec, "want [SOURCE:]TARGET[:OPTIONS]")),
        };
        if source == Some("") || target.is_empty() {
            return Err(OptionError::new(WHAT, spec, "an empty section"));
        }
        let target = container_path(spec, target, WHAT)?;
        let mut read_only = false;
        let mut no_copy = false;
        let mut propagation = None;
        for option in options.into_iter().flat_map(|o| o.split(',')) {
            match option {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "nocopy" => no_copy = true,
                // SELinux relabelling and macOS consistency hints have no effect here.
                "z" | "Z" | "consistent" | "cached" | "delegated" => {}
                other => match Propagation::ALL.into_iter().find(|p| p.name() == other) {
                    Some(found) => propagation = Some(found),
                    None => return Err(OptionError::new(WHAT, spec, format!("invalid mode: {other}"))),
                },
            }
        }
        let kind = match source {
            Some(source) if source.starts_with('/') => {
                if no_copy {
                    return Err(OptionError::new(WHAT, spec, "nocopy is only valid for volumes"));
                }
                MountKind::Bind { source: PathBuf::from(source), propagation: propagation.unwrap_or_default() }
            }
            Some(name) => {
                if !is_valid_volume_name(name) {
                    return Err(OptionError::new(
                        WHAT,
                        spec,
                        format!(
                            "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                        ),
                    ));
                }
                if propagation.is_some() {
                    return Err(OptionError::new(WHAT, spec, "propagation modes are only valid for bind mounts"));
                }
                MountKind::Volume { name: Some(name.to_owned()), no_copy }
            }
            None => {
                if propagation.is_some() {
                    return Err(OptionError::new(WHAT, spec, "propagation modes are only valid for bind mounts"));
                }
                MountKind::Volume { name: None, no_copy }
            }
        };
        Ok(MountRequest { target, read_only, kind })
    }

    /// Parses `--tmpfs TARGET[:OPTIONS]`.
    pub fn parse_tmpfs(spec: &str) -> Result<MountRequest, OptionError> {
        const WHAT: &str = "--tmpfs";
        let (target, options) = match spec.split_once(':') {
            Some((target, options)) => (target, options),
            None => (spec, ""),
        };
        let target = container_path(spec, target, WHAT)?;
        let mut read_only = false;
        let mut mount_options = vec!["noexec".to_string(), "nosuid".to_string(), "nodev".to_string()];
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let key = option.split_once('=').map_or(option, |(key, _)| key);
            match key {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev" => {
                    let base = key.strip_prefix("no").unwrap_or(key);
                    mount_options.retain(|o| o.strip_prefix("no").unwrap_or(o) != base);
                    mount_options.push(key.to_string());
                }
                "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" | "atime" | "noatime" | "relatime"
                | "strictatime" | "nodiratime" | "sync" | "async" => {
                    if key == "size" {
                        let value = option.split_once('=').map_or("", |(_, v)| v);
                        super::limits::parse_size(value).map_err(|reason| OptionError::new(WHAT, spec, reason))?;
                    }
                    mount_options.push(option.to_string());
                }
                _ => return Err(OptionError::new(WHAT, spec, format!("unknown tmpfs option {option:?}"))),
            }
        }
        Ok(MountRequest { target, read_only, kind: MountKind::Tmpfs { options: mount_options } })
    }
}

/// A mount as recorded with the container: anonymous volumes have their
/// generated name, so every start mounts the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    pub target: PathBuf,
    pub read_only: bool,
    pub source: MountSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type", rename_all = "lowercase")]
pub enum MountSource {
    Bind {
        #[serde(rename = "Source")]
        path: PathBuf,
        #[serde(rename = "Propagation")]
        propagation: Propagation,
    },
    Volume {
        #[serde(rename = "Name")]
        name: String,
        /// Created for this container alone; `rm -v` and `--rm` remove it.
        #[serde(rename = "Anonymous")]
        anonymous: bool,
        #[serde(rename = "NoCopy")]
        no_copy: bool,
    },
    Tmpfs {
        #[serde(rename = "Options")]
        options: Vec<String>,
    },
}

impl MountRequest {
    /// The recorded form; `new_volume_name` names an anonymous volume.
    pub fn resolve(self, new_volume_name: impl FnOnce() -> String) -> Mount {
        let source = match self.kind {
            MountKind::Bind { source, propagation } => MountSource::Bind { path: source, propagation },
            MountKind::Volume { name: Some(name), no_copy } => MountSource::Volume { name, anonymous: false, no_copy },
            MountKind::Volume { name: None, no_copy } => {
                MountSource::Volume { name: new_volume_name(), anonymous: true, no_copy }
            }
            MountKind::Tmpfs { options } => MountSource::Tmpfs { options },
        };
        Mount { target: self.target, read_only: self.read_only, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_named_and_anonymous_volumes() {
        let bind = MountRequest::parse_volume("/srv/data:/data:ro").unwrap();
        assert_eq!(bind.target, Path::new("/data"));
        assert!(bind.read_only);
        assert_eq!(bind.kind, MountKind::Bind { source: "/srv/data".into(), propagation: Propagation::Rprivate });

        let named = MountRequest::parse_volume("cache:/var/cache:nocopy").unwrap();
        assert_eq!(named.kind, MountKind::Volume { name: Some("cache".into()), no_copy: true });

        let anonymous = MountRequest::parse_volume("/scratch").unwrap();
        assert_eq!(anonymous.kind, MountKind::Volume { name: None, no_copy: false });

        let shared = MountRequest::parse_volume("/a:/b:rshared,rw").unwrap();
        assert_eq!(shared.kind, MountKind::Bind { source: "/a".into(), propagation: Propagation::Rshared });
    }

    #[test]
    fn bad_volume_specs_are_refused_with_the_reason() {
        let err = MountRequest::parse_volume("rel/dir:/x").unwrap_err().to_string();
        assert!(err.contains("invalid characters for a local volume name"), "{err}");
        assert!(MountRequest::parse_volume("/a:relative").unwrap_err().to_string().contains("must be absolute"));
        assert!(MountRequest::parse_volume("/a:/").unwrap_err().to_string().contains("can't be '/'"));
        assert!(MountRequest::parse_volume("/a:/b:bogus").unwrap_err().to_string().contains("invalid mode: bogus"));
        assert!(MountRequest::parse_volume("/a:/b/../c").is_err());
        assert!(MountRequest::parse_volume("a:b:c:d").is_err());
        assert!(MountRequest::parse_volume("x:/data").is_err(), "one-letter volume names are invalid");
    }

    #[test]
    fn tmpfs_options() {
        let tmpfs = MountRequest::parse_tmpfs("/run:size=64m,exec").unwrap();
        assert_eq!(tmpfs.target, Path::new("/run"));
        let MountKind::Tmpfs { options } = tmpfs.kind else { panic!("not a tmpfs") };
        assert_eq!(options, ["nosuid", "nodev", "size=64m", "exec"]);
        assert!(MountRequest::parse_tmpfs("/run:size=lots").is_err());
        assert!(MountRequest::parse_tmpfs("/run:bogus").is_err());
    }
}

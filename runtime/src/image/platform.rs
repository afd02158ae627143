//! Platforms (`linux/amd64`, `linux/arm64/v8`): the host's, `--platform`, and
//! the choice of a manifest from an image index.

use std::fmt;
use std::str::FromStr;

use super::error::ImageError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform berth runs on, in Go's (and so the registries') names.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform { os: "linux".into(), architecture: architecture.into(), variant: variant.map(str::to_owned) }
    }

    /// Whether an index entry for `os/architecture/variant` can serve this platform.
    pub fn matches(&self, os: &str, architecture: &str, variant: Option<&str>) -> bool {
        if self.os != os || self.architecture != normalise_arch(architecture) {
            return false;
        }
        let default_variant = |arch: &str| if arch == "arm64" { Some("v8") } else { None };
        let wanted = self.variant.as_deref().or(default_variant(&self.architecture));
        let offered = variant.filter(|v| !v.is_empty()).or(default_variant(&self.architecture));
        match (wanted, offered) {
            (Some(w), Some(o)) => w == o,
            // An entry without a variant serves any; a wish without one takes any.
            _ => true,
        }
    }
}

fn normalise_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl FromStr for Platform {
    type Err = ImageError;

    /// `os/arch[/variant]`, e.g. `linux/arm64` or `linux/arm/v7`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || ImageError::Platform(format!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"));
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid(p)) {
            return Err(bad());
        }
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: normalise_arch(&parts[1].to_ascii_lowercase()).to_owned(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let p: Platform = "linux/arm64".parse().unwrap();
        assert!(p.matches("linux", "arm64", Some("v8")));
        assert!(p.matches("linux", "arm64", None));
        assert!(!p.matches("linux", "amd64", None));
        let arm: Platform = "linux/arm/v7".parse().unwrap();
        assert!(!arm.matches("linux", "arm", Some("v6")));
        assert_eq!(arm.to_string(), "linux/arm/v7");
        assert_eq!("linux/x86_64".parse::<Platform>().unwrap().architecture, "amd64");
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_host_is_linux() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(host.matches("linux", &host.architecture.clone(), None));
    }
}

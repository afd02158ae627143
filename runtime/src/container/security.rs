//! Capabilities (`--cap-add`, `--cap-drop`) and `--security-opt`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::options::OptionError;

/// Every capability Linux defines, by bit number (`capabilities(7)`).
pub const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default set for unprivileged containers.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// One `--cap-add`/`--cap-drop` value: a capability or `ALL`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CapabilityArg {
    All,
    /// Normalised to `CAP_NAME`.
    One(String),
}

impl std::str::FromStr for CapabilityArg {
    type Err = OptionError;

    /// Accepts `NET_ADMIN`, `CAP_NET_ADMIN`, any case, and `ALL`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let upper = text.trim().to_ascii_uppercase();
        if upper == "ALL" {
            return Ok(CapabilityArg::All);
        }
        let name = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
        if ALL_CAPABILITIES.contains(&name.as_str()) {
            Ok(CapabilityArg::One(name))
        } else {
            Err(OptionError::new("capability", text, format!("unknown capability: {name:?}")))
        }
    }
}

impl TryFrom<String> for CapabilityArg {
    type Error = OptionError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<CapabilityArg> for String {
    fn from(value: CapabilityArg) -> String {
        match value {
            CapabilityArg::All => "ALL".into(),
            CapabilityArg::One(name) => name,
        }
    }
}

/// `--cap-add` and `--cap-drop`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capabilities {
    pub add: Vec<CapabilityArg>,
    pub drop: Vec<CapabilityArg>,
}

impl Capabilities {
    /// The capability set the container gets, as Docker computes it: with
    /// `--cap-add ALL` every capability `available` minus the dropped ones;
    /// with `--cap-drop ALL` only the added ones; otherwise the defaults minus
    /// the dropped plus the added. `available` is what berth itself holds:
    /// a capability outside it cannot be granted.
    pub fn resolve(&self, available: &BTreeSet<String>) -> Result<BTreeSet<String>, String> {
        let names = |args: &[CapabilityArg]| -> BTreeSet<String> {
            args.iter()
                .filter_map(|arg| match arg {
                    CapabilityArg::One(name) => Some(name.clone()),
                    CapabilityArg::All => None,
                })
                .collect()
        };
        let add_all = self.add.contains(&CapabilityArg::All);
        let drop_all = self.drop.contains(&CapabilityArg::All);
        let (adds, drops) = (names(&self.add), names(&self.drop));
        for name in &adds {
            if !available.contains(name) {
                return Err(format!(
                    "capability {name} cannot be granted: berth itself does not hold it on this machine"
                ));
            }
        }
        let base: BTreeSet<String> = if add_all {
            available.clone()
        } else if drop_all {
            BTreeSet::new()
        } else {
            DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).filter(|c| available.contains(c)).collect()
        };
        let mut caps: BTreeSet<String> = base.into_iter().filter(|c| !drops.contains(c)).collect();
        if !add_all {
            caps.extend(adds);
        }
        Ok(caps)
    }
}

/// The capabilities in this process's bounding set (`CapBnd` in /proc/self/status).
pub fn bounding_set() -> std::io::Result<BTreeSet<String>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| std::io::Error::other("no CapBnd line in /proc/self/status"))?;
    Ok(ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, name)| name.to_string())
        .collect())
}

/// Which seccomp filter the container gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// berth's equivalent of Docker's default profile.
    #[default]
    Default,
    /// `--security-opt seccomp=unconfined`
    Unconfined,
}

/// `--security-opt` values berth understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityOptions {
    pub seccomp: Seccomp,
    /// The kernel's no_new_privs bit: on by default in berth (Docker: opt-in).
    pub no_new_privileges: bool,
}

impl Default for SecurityOptions {
    fn default() -> Self {
        SecurityOptions { seccomp: Seccomp::Default, no_new_privileges: true }
    }
}

impl SecurityOptions {
    /// Applies one `--security-opt` value.
    pub fn apply(&mut self, option: &str) -> Result<(), OptionError> {
        let err = |reason: &str| OptionError::new("--security-opt", option, reason);
        let (key, value) = option.split_once(['=', ':']).unwrap_or((option, ""));
        match (key, value) {
            ("seccomp", "unconfined") => self.seccomp = Seccomp::Unconfined,
            ("seccomp", "default" | "builtin") => self.seccomp = Seccomp::Default,
            ("seccomp", _) => return Err(err("only seccomp=unconfined and seccomp=default are supported")),
            ("no-new-privileges", "" | "true") => self.no_new_privileges = true,
            ("no-new-privileges", "false") => self.no_new_privileges = false,
            ("no-new-privileges", _) => return Err(err("want no-new-privileges[=true|false]")),
            // No LSM is loaded on these machines: disabling one is already true.
            ("apparmor", "unconfined") | ("label", "disable") => {}
            _ => return Err(err("unknown or unsupported security option")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> BTreeSet<String> {
        ALL_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    }

    fn caps(add: &[&str], drop: &[&str]) -> Capabilities {
        Capabilities {
            add: add.iter().map(|c| c.parse().unwrap()).collect(),
            drop: drop.iter().map(|c| c.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn default_set_is_dockers() {
        let set = Capabilities::default().resolve(&all()).unwrap();
        assert_eq!(set.len(), 14);
        assert!(set.contains("CAP_NET_BIND_SERVICE"));
        assert!(!set.contains("CAP_SYS_ADMIN"));
    }

    #[test]
    fn add_and_drop_follow_docker() {
        let set = caps(&["net_admin"], &["CAP_CHOWN"]).resolve(&all()).unwrap();
        assert!(set.contains("CAP_NET_ADMIN") && !set.contains("CAP_CHOWN"));
        assert_eq!(set.len(), 14);

        let only = caps(&["NET_BIND_SERVICE"], &["ALL"]).resolve(&all()).unwrap();
        assert_eq!(only.into_iter().collect::<Vec<_>>(), ["CAP_NET_BIND_SERVICE"]);

        let mut available = all();
        available.remove("CAP_SYS_RESOURCE");
        let everything = caps(&["ALL"], &["MKNOD"]).resolve(&available).unwrap();
        assert_eq!(everything.len(), 39);
        assert!(!everything.contains("CAP_SYS_RESOURCE") && !everything.contains("CAP_MKNOD"));

        let err = caps(&["SYS_RESOURCE"], &[]).resolve(&available).unwrap_err();
        assert!(err.contains("CAP_SYS_RESOURCE cannot be granted"), "{err}");
        assert!("CAP_NOPE".parse::<CapabilityArg>().unwrap_err().to_string().contains("unknown capability"));
    }

    #[test]
    fn this_process_has_a_bounding_set() {
        let set = bounding_set().unwrap();
        assert!(set.iter().all(|c| ALL_CAPABILITIES.contains(&c.as_str())));
    }

    #[test]
    fn security_options() {
        let mut options = SecurityOptions::default();
        assert!(options.no_new_privileges);
        options.apply("seccomp=unconfined").unwrap();
        assert_eq!(options.seccomp, Seccomp::Unconfined);
        options.apply("no-new-privileges=false").unwrap();
        assert!(!options.no_new_privileges);
        options.apply("no-new-privileges:true").unwrap();
        assert!(options.no_new_privileges);
        assert!(options.apply("seccomp=/some/profile.json").is_err());
        assert!(options.apply("bogus").is_err());
    }
}

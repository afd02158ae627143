//! What a caller asks for when creating a container, typed. Strings from the
//! command line are parsed here once (`FromStr`), with Docker's syntax and
//! messages, so the library only ever sees valid values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::id::ContainerId;
use super::limits::{Resources, Ulimit};
use super::mounts::MountRequest;
use super::security::{Capabilities, SecurityOptions};

/// An option value that could not be parsed: `what` names the flag or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct OptionError {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

impl OptionError {
    pub fn new(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> OptionError {
        OptionError { what, value: value.into(), reason: reason.into() }
    }
}

/// Everything `create` takes besides the image. `Default` is `docker create IMAGE`.
/// Serializable: the CLI sends it to the daemon as it is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateOptions {
    /// The ID to give the container; generated when absent. A caller that
    /// prepares state keyed by the ID first (its network namespace) sets it.
    pub id: Option<ContainerId>,
    /// `--name`; a name is generated when absent.
    pub name: Option<String>,
    /// Arguments after the image; `None` keeps the image's Cmd.
    pub cmd: Option<Vec<String>>,
    /// `--entrypoint`; `Some(vec![])` (from `--entrypoint ""`) clears the image's.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` pairs from `-e` and `--env-file`, in order (later wins).
    pub env: Vec<String>,
    /// `-w`
    pub working_dir: Option<String>,
    /// `-u user[:group]`, names or numbers.
    pub user: Option<String>,
    /// `-h`; defaults to the short ID.
    pub hostname: Option<String>,
    /// `-t`
    pub tty: bool,
    /// `-i`: keep stdin open and pass it to the container.
    pub open_stdin: bool,
    pub labels: BTreeMap<String, String>,
    /// `-v`, `--tmpfs`
    pub mounts: Vec<MountRequest>,
    /// `--read-only`
    pub read_only: bool,
    /// `--init`
    pub init: bool,
    pub resources: Resources,
    pub capabilities: Capabilities,
    pub ulimits: Vec<Ulimit>,
    pub security: SecurityOptions,
    pub restart: RestartPolicy,
    pub network: NetworkMode,
    /// The network the namespace of [`NetworkMode::Path`] was made for (the
    /// first one joined): what `inspect` shows as HostConfig.NetworkMode.
    #[serde(default)]
    pub network_name: Option<String>,
    /// Contents of /etc/hosts and /etc/resolv.conf; defaults when absent.
    pub etc: EtcFiles,
    /// `--stop-signal`; the image's StopSignal, else SIGTERM.
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds; 10 when absent.
    pub stop_timeout: Option<u32>,
    /// `--rm`
    pub auto_remove: bool,
    /// `--log-opt max-size=...,max-file=...`
    pub log: super::config::LogConfig,
    /// `-p` as given (`127.0.0.1:8080:80/tcp`): recorded for `inspect`; the
    /// network manager publishes them at every start. The runtime does not read them.
    pub port_bindings: Vec<String>,
}

/// How the container is networked. The network manager prepares a namespace
/// file per container and passes it as `Path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A private namespace with only loopback (`--network none`).
    #[default]
    None,
    /// The host's namespace (`--network host`).
    Host,
    /// Join an existing namespace, e.g. `<run>/netns/<id>`.
    Path(PathBuf),
}

impl std::str::FromStr for NetworkMode {
    type Err = OptionError;

    /// The modes the runtime knows by name; networks by name are the network manager's.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            _ => Err(OptionError::new("--network", text, "only \"none\" and \"host\" are supported here")),
        }
    }
}

impl NetworkMode {
    /// The name `inspect` shows as HostConfig.NetworkMode.
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Path(path) => format!("ns:{}", path.display()),
        }
    }
}

/// `--restart`: what happens when the container's process exits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
}

impl std::str::FromStr for RestartPolicy {
    type Err = OptionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| OptionError::new("--restart", text, reason);
        let (name, count) = match text.split_once(':') {
            Some((name, count)) => (name, Some(count)),
            None => (text, None),
        };
        let policy = match name {
            "" | "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => {
                let max_retries = match count {
                    None => 0,
                    Some(count) => count.parse().map_err(|_| err("the retry count must be a number"))?,
                };
                return Ok(RestartPolicy::OnFailure { max_retries });
            }
            _ => return Err(err("want no, always, unless-stopped or on-failure[:max-retries]")),
        };
        if count.is_some() {
            return Err(err("a maximum retry count is only valid with on-failure"));
        }
        Ok(policy)
    }
}

impl RestartPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }

    /// Whether a container that exited with `exit_code` after `restarts` restarts
    /// should run again. A stop asked for by the user never restarts.
    pub fn should_restart(&self, exit_code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                exit_code != 0 && (*max_retries == 0 || restarts < *max_retries)
            }
        }
    }
}

/// The files berth writes into the container's directory and bind-mounts over
/// the image's. `None` means berth's default (see [`super::etc`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcFiles {
    pub hosts: Option<String>,
    pub resolv_conf: Option<String>,
}

/// Reads a Docker `--env-file`: `KEY=VALUE` lines taken as they are (no quote
/// processing), `KEY` alone takes the value from `lookup` (dropped when unset),
/// blank lines and `#` comments skipped.
pub fn parse_env_file(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, OptionError> {
    let mut env = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (line.trim_end(), None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(OptionError::new(
                "--env-file",
                line,
                format!("line {}: variable name must not be empty or contain whitespace", index + 1),
            ));
        }
        match value {
            Some(value) => env.push(format!("{key}={value}")),
            None => {
                if let Some(value) = lookup(key) {
                    env.push(format!("{key}={value}"));
                }
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_like_docker() {
        assert_eq!("no".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert_eq!("always".parse::<RestartPolicy>().unwrap(), RestartPolicy::Always);
        assert_eq!("unless-stopped".parse::<RestartPolicy>().unwrap(), RestartPolicy::UnlessStopped);
        assert_eq!("on-failure".parse::<RestartPolicy>().unwrap(), RestartPolicy::OnFailure { max_retries: 0 });
        assert_eq!("on-failure:3".parse::<RestartPolicy>().unwrap(), RestartPolicy::OnFailure { max_retries: 3 });
        assert!("always:3".parse::<RestartPolicy>().is_err());
        assert!("sometimes".parse::<RestartPolicy>().unwrap_err().to_string().contains("--restart"));
    }

    #[test]
    fn restart_decisions() {
        let on_failure = RestartPolicy::OnFailure { max_retries: 2 };
        assert!(on_failure.should_restart(1, 0, false));
        assert!(on_failure.should_restart(1, 1, false));
        assert!(!on_failure.should_restart(1, 2, false));
        assert!(!on_failure.should_restart(0, 0, false));
        assert!(RestartPolicy::Always.should_restart(0, 100, false));
        assert!(!RestartPolicy::Always.should_restart(0, 0, true));
        assert!(!RestartPolicy::No.should_restart(1, 0, false));
    }

    #[test]
    fn env_files_follow_docker() {
        let text = "# comment\nA=1\n  B=two \nC\nD\n\nE=x=y\n";
        let env = parse_env_file(text, |key| (key == "C").then(|| "from-host".to_string())).unwrap();
        assert_eq!(env, ["A=1", "B=two ", "C=from-host", "E=x=y"]);
        assert!(parse_env_file("=oops", |_| None).unwrap_err().to_string().contains("line 1"));
        assert!(parse_env_file("A\nB = two", |_| None).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn network_modes() {
        assert_eq!("none".parse::<NetworkMode>().unwrap(), NetworkMode::None);
        assert_eq!("host".parse::<NetworkMode>().unwrap(), NetworkMode::Host);
        assert!("bridge".parse::<NetworkMode>().is_err());
    }
}

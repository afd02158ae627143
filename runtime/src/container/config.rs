//! A container's configuration as recorded at create: the image's config and
//! the user's options merged once, with Docker's rules, so every later start
//! (by the CLI, the daemon or a restart) runs the same thing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::id::ContainerId;
use super::limits::{Resources, Ulimit};
use super::mounts::Mount;
use super::options::{CreateOptions, NetworkMode, OptionError, RestartPolicy};
use super::security::{Capabilities, SecurityOptions};
use super::signal::parse_signal;
use crate::image::Image;

/// Docker's PATH for containers whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Seconds `stop` waits for the stop signal to work before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;

/// The json-file log's rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    /// Rotate when the current file reaches this many bytes.
    pub max_size: u64,
    /// Files kept, the current one included.
    pub max_files: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { max_size: 10 * 1024 * 1024, max_files: 3 }
    }
}

/// Everything needed to run the container, as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The image as the user named it.
    pub image: String,
    /// `sha256:...`
    pub image_id: String,
    /// The image's unpacked layers, lowest first.
    pub layer_dirs: Vec<PathBuf>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// The user's variables, then the image's that the user did not set.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<Mount>,
    pub read_only: bool,
    pub init: bool,
    pub resources: Resources,
    pub capabilities: Capabilities,
    pub ulimits: Vec<Ulimit>,
    pub security: SecurityOptions,
    pub restart: RestartPolicy,
    pub network: NetworkMode,
    /// The network's name for `inspect` (see `CreateOptions::network_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_name: Option<String>,
    /// e.g. `SIGTERM`
    pub stop_signal: String,
    pub stop_timeout: u32,
    pub auto_remove: bool,
    pub log: LogConfig,
    /// `-p` as given; published by the network manager at each start.
    #[serde(default)]
    pub port_bindings: Vec<String>,
}

impl ContainerConfig {
    /// The command the container runs: entrypoint then cmd.
    pub fn command(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }

    /// Merges `image` and `options` as Docker does. `new_volume_name` names the
    /// anonymous volumes (the image's VOLUMEs and `-v /path`).
    pub fn merge(
        id: &ContainerId,
        reference: &str,
        image: &Image,
        options: &CreateOptions,
        mut new_volume_name: impl FnMut() -> String,
    ) -> Result<ContainerConfig, OptionError> {
        let image_config = image.config.config().clone().unwrap_or_default();

        // An --entrypoint replaces the image's and drops its Cmd; without one,
        // arguments replace the image's Cmd.
        let (entrypoint, cmd) = match &options.entrypoint {
            Some(entrypoint) => {
                let entrypoint: Vec<String> = entrypoint.iter().filter(|a| !a.is_empty()).cloned().collect();
                (entrypoint, options.cmd.clone().unwrap_or_default())
            }
            None => (
                image_config.entrypoint().clone().unwrap_or_default(),
                match &options.cmd {
                    Some(cmd) if !cmd.is_empty() => cmd.clone(),
                    _ => image_config.cmd().clone().unwrap_or_default(),
                },
            ),
        };
        if entrypoint.is_empty() && cmd.is_empty() {
            return Err(OptionError::new("command", "", "no command specified"));
        }

        let mut env = Vec::new();
        for pair in &options.env {
            match pair.split_once('=') {
                Some((key, _)) if !key.is_empty() => env.push(pair.clone()),
                _ => return Err(OptionError::new("-e", pair.as_str(), "want KEY=VALUE")),
            }
        }
        for pair in image_config.env().iter().flatten() {
            let key = env_key(pair);
            if !env.iter().any(|own| env_key(own) == key) {
                env.push(pair.clone());
            }
        }

        let working_dir = match options.working_dir.as_deref().or(image_config.working_dir().as_deref()) {
            None | Some("") => "/".to_string(),
            Some(dir) if Path::new(dir).is_absolute() => dir.to_string(),
            Some(dir) => {
                return Err(OptionError::new(
                    "-w",
                    dir,
                    format!("the working directory '{dir}' is invalid, it needs to be an absolute path"),
                ));
            }
        };

        let stop_signal = match options.stop_signal.as_deref().or(image_config.stop_signal().as_deref()) {
            Some(text) => parse_signal(text).map_err(|reason| OptionError::new("--stop-signal", text, reason))?,
            None => nix::sys::signal::Signal::SIGTERM,
        };

        let mut labels: BTreeMap<String, String> =
            image_config.labels().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.extend(options.labels.clone());

        let mut mounts: Vec<Mount> = Vec::new();
        for request in &options.mounts {
            if mounts.iter().any(|m| m.target == request.target) {
                return Err(OptionError::new("-v", request.target.display().to_string(), "Duplicate mount point"));
            }
            mounts.push(request.clone().resolve(&mut new_volume_name));
        }
        // The image's VOLUMEs become anonymous volumes unless something is mounted there.
        for target in image_config.volumes().iter().flatten() {
            let target = PathBuf::from(target);
            if target.is_absolute() && !mounts.iter().any(|m| m.target == target) {
                mounts.push(
                    super::mounts::MountRequest {
                        target,
                        read_only: false,
                        kind: super::mounts::MountKind::Volume { name: None, no_copy: false },
                    }
                    .resolve(&mut new_volume_name),
                );
            }
        }

        let hostname = match (&options.hostname, &options.network) {
            (Some(hostname), _) => validate_hostname(hostname)?,
            (None, NetworkMode::Host) => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| id.short().to_owned()),
            (None, _) => id.short().to_owned(),
        };

        Ok(ContainerConfig {
            image: reference.to_owned(),
            image_id: image.id.clone(),
            layer_dirs: image.layer_dirs.clone(),
            entrypoint,
            cmd,
            env,
            working_dir,
            user: options.user.clone().or_else(|| image_config.user().clone()).unwrap_or_default(),
            hostname,
            tty: options.tty,
            open_stdin: options.open_stdin,
            labels,
            mounts,
            read_only: options.read_only,
            init: options.init,
            resources: options.resources.clone(),
            capabilities: options.capabilities.clone(),
            ulimits: options.ulimits.clone(),
            security: options.security,
            restart: options.restart,
            network: options.network.clone(),
            network_name: options.network_name.clone(),
            stop_signal: stop_signal.as_str().to_owned(),
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            auto_remove: options.auto_remove,
            log: options.log,
            port_bindings: options.port_bindings.clone(),
        })
    }
}

/// The name part of `KEY=VALUE`.
pub fn env_key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(key, _)| key)
}

/// RFC 1123 host names, as `docker run -h` accepts them.
fn validate_hostname(hostname: &str) -> Result<String, OptionError> {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if hostname.len() <= 253 && hostname.split('.').all(valid_label) {
        Ok(hostname.to_owned())
    } else {
        Err(OptionError::new("--hostname", hostname, "not a valid RFC 1123 host name"))
    }
}

/// Docker's rule for container names.
pub fn validate_name(name: &str) -> Result<&str, OptionError> {
    let name = name.strip_prefix('/').unwrap_or(name);
    let mut bytes = name.bytes();
    let valid = name.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(name)
    } else {
        Err(OptionError::new("container name", name, "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::mounts::{MountRequest, MountSource};

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> Image {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut config = oci_spec::image::Config::default();
        config.set_entrypoint(entrypoint.map(strings));
        config.set_cmd(cmd.map(strings));
        config.set_env(Some(strings(&["PATH=/image/bin", "LANG=C"])));
        config.set_volumes(Some(strings(&["/data"])));
        config.set_stop_signal(Some("SIGQUIT".into()));
        let mut configuration = oci_spec::image::ImageConfiguration::default();
        configuration.set_config(Some(config));
        Image { id: "sha256:abc".into(), config: configuration, layer_dirs: vec!["/l1".into()], references: vec![] }
    }

    fn merge(image: &Image, options: &CreateOptions) -> Result<ContainerConfig, OptionError> {
        let id = ContainerId::parse(&"ab".repeat(32)).unwrap();
        let mut n = 0;
        ContainerConfig::merge(&id, "busybox", image, options, || {
            n += 1;
            format!("anon{n}")
        })
    }

    #[test]
    fn cmd_and_entrypoint_follow_docker() {
        let with_both = image(Some(&["/entry"]), Some(&["default"]));
        let plain = merge(&with_both, &CreateOptions::default()).unwrap();
        assert_eq!(plain.command(), ["/entry", "default"]);

        let args = CreateOptions { cmd: Some(vec!["x".into()]), ..Default::default() };
        assert_eq!(merge(&with_both, &args).unwrap().command(), ["/entry", "x"]);

        let new_entry = CreateOptions { entrypoint: Some(vec!["/bin/ls".into()]), ..Default::default() };
        assert_eq!(merge(&with_both, &new_entry).unwrap().command(), ["/bin/ls"], "the image's Cmd is dropped");

        let cleared = CreateOptions {
            entrypoint: Some(vec![String::new()]),
            cmd: Some(vec!["echo".into(), "hi".into()]),
            ..Default::default()
        };
        assert_eq!(merge(&with_both, &cleared).unwrap().command(), ["echo", "hi"]);

        let nothing = image(None, None);
        assert_eq!(merge(&nothing, &CreateOptions::default()).unwrap_err().reason, "no command specified");
    }

    #[test]
    fn env_user_wins_and_keeps_order() {
        let options = CreateOptions { env: vec!["LANG=fr".into(), "A=1".into()], ..Default::default() };
        let config = merge(&image(None, Some(&["sh"])), &options).unwrap();
        assert_eq!(config.env, ["LANG=fr", "A=1", "PATH=/image/bin"]);
        let bad = CreateOptions { env: vec!["=x".into()], ..Default::default() };
        assert!(merge(&image(None, Some(&["sh"])), &bad).is_err());
    }

    #[test]
    fn defaults_and_image_settings() {
        let config = merge(&image(None, Some(&["sh"])), &CreateOptions::default()).unwrap();
        assert_eq!(config.working_dir, "/");
        assert_eq!(config.hostname, "abababababab");
        assert_eq!(config.stop_signal, "SIGQUIT");
        assert_eq!(config.stop_timeout, 10);
        assert_eq!(config.mounts.len(), 1, "the image's VOLUME is an anonymous volume");
        assert!(
            matches!(&config.mounts[0].source, MountSource::Volume { name, anonymous: true, .. } if name == "anon1")
        );

        let relative = CreateOptions { working_dir: Some("rel".into()), ..Default::default() };
        assert!(merge(&image(None, Some(&["sh"])), &relative).unwrap_err().reason.contains("absolute path"));
    }

    #[test]
    fn user_mounts_cover_image_volumes_and_duplicates_are_refused() {
        let options =
            CreateOptions { mounts: vec![MountRequest::parse_volume("named:/data").unwrap()], ..Default::default() };
        let config = merge(&image(None, Some(&["sh"])), &options).unwrap();
        assert_eq!(config.mounts.len(), 1);
        let twice = CreateOptions {
            mounts: vec![MountRequest::parse_volume("/a:/x").unwrap(), MountRequest::parse_volume("/b:/x").unwrap()],
            ..Default::default()
        };
        assert!(merge(&image(None, Some(&["sh"])), &twice).unwrap_err().reason.contains("Duplicate mount point"));
    }

    #[test]
    fn names_and_hostnames() {
        assert_eq!(validate_name("/web-1").unwrap(), "web-1");
        assert!(validate_name("a").is_err());
        assert!(validate_name("bad name").is_err());
        assert!(validate_hostname("db.local").is_ok());
        assert!(validate_hostname("-bad").is_err());
    }
}

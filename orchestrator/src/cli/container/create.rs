//! `create` and `run`: the flags Docker has, turned into the library's typed options.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use berth_runtime::container::limits::{parse_cpus, parse_size};
use berth_runtime::container::mounts::MountRequest;
use berth_runtime::container::options::{OptionError, parse_env_file};
use berth_runtime::container::security::CapabilityArg;
use berth_runtime::container::{Containers, CreateOptions, NetworkMode, RestartPolicy};
use berth_runtime::image::{Event, Image, ImageStore, LayerState, PullOptions, Reference};
use clap::Args;

use super::{exit_for, open, print_error};

/// The flags `create` and `run` share.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from this environment).
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long)]
    pub env_file: Vec<std::path::PathBuf>,
    /// Bind mount a volume: [HOST-DIR|NAME:]CONTAINER-DIR[:OPTIONS].
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs directory: CONTAINER-DIR[:OPTIONS].
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container and its anonymous volumes when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Overwrite the default ENTRYPOINT of the image ("" clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy: no, always, unless-stopped, on-failure[:max-retries].
    #[arg(long, default_value = "no")]
    pub restart: RestartPolicy,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Add Linux capabilities.
    #[arg(long)]
    pub cap_add: Vec<CapabilityArg>,
    /// Drop Linux capabilities.
    #[arg(long)]
    pub cap_drop: Vec<CapabilityArg>,
    /// Ulimit options: name=soft[:hard].
    #[arg(long)]
    pub ulimit: Vec<berth_runtime::container::limits::Ulimit>,
    /// Set meta data on a container (KEY=VALUE).
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Security options: seccomp=unconfined, no-new-privileges[=false].
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Connect the container to a network: none or host.
    #[arg(long, alias = "net", default_value = "none")]
    pub network: NetworkMode,
    /// Signal to stop the container.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Log driver options: max-size=SIZE, max-file=N.
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Print help (`-h` is --hostname, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image to run.
    pub image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn invalid(flag: &'static str, value: &str, reason: impl Into<String>) -> anyhow::Error {
    OptionError::new(flag, value, reason).into()
}

impl CreateArgs {
    /// The library's options; `-e KEY` and `--env-file` read this process's environment.
    pub fn options(&self) -> anyhow::Result<CreateOptions> {
        let lookup = |key: &str| std::env::var(key).ok();
        let mut env = Vec::new();
        for file in &self.env_file {
            let text =
                std::fs::read_to_string(file).with_context(|| format!("cannot read --env-file {}", file.display()))?;
            env.extend(parse_env_file(&text, lookup).with_context(|| format!("in {}", file.display()))?);
        }
        for pair in &self.env {
            match pair.split_once('=') {
                Some(_) => env.push(pair.clone()),
                None => {
                    if let Some(value) = lookup(pair) {
                        env.push(format!("{pair}={value}"));
                    }
                }
            }
        }
        let mut mounts = Vec::new();
        for spec in &self.volume {
            mounts.push(MountRequest::parse_volume(spec)?);
        }
        for spec in &self.tmpfs {
            mounts.push(MountRequest::parse_tmpfs(spec)?);
        }
        let mut labels = BTreeMap::new();
        for pair in &self.label {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            labels.insert(key.to_owned(), value.to_owned());
        }
        let mut security = berth_runtime::container::security::SecurityOptions::default();
        for option in &self.security_opt {
            security.apply(option)?;
        }
        let size = |flag: &'static str, value: &str| parse_size(value).map_err(|reason| invalid(flag, value, reason));
        let memory = self.memory.as_deref().map(|m| size("--memory", m)).transpose()?;
        let memory_swap = match self.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            Some(value) => Some(size("--memory-swap", value)? as i64),
            None => None,
        };
        let mut log = berth_runtime::container::config::LogConfig::default();
        for option in &self.log_opt {
            match option.split_once('=') {
                Some(("max-size", value)) => log.max_size = size("--log-opt", value)?.max(1),
                Some(("max-file", value)) => {
                    log.max_files = value
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid("--log-opt", option, "max-file wants a positive number"))?
                }
                _ => return Err(invalid("--log-opt", option, "supported: max-size=SIZE, max-file=N")),
            }
        }
        let options = CreateOptions {
            id: None,
            name: self.name.clone(),
            cmd: (!self.command.is_empty()).then(|| self.command.clone()),
            entrypoint: self.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
            env,
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            tty: self.tty,
            open_stdin: self.interactive,
            labels,
            mounts,
            read_only: self.read_only,
            init: self.init,
            resources: berth_runtime::container::limits::Resources {
                memory,
                memory_swap,
                nano_cpus: self.cpus.as_deref().map(parse_cpus).transpose()?,
                cpu_shares: self.cpu_shares,
                pids_limit: self.pids_limit,
            },
            capabilities: berth_runtime::container::security::Capabilities {
                add: self.cap_add.clone(),
                drop: self.cap_drop.clone(),
            },
            ulimits: self.ulimit.clone(),
            security,
            restart: self.restart,
            network: self.network.clone(),
            etc: Default::default(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            auto_remove: self.rm,
            log,
            port_bindings: Vec::new(),
        };
        Ok(options)
    }
}

/// The local image, pulled first if it is missing (as `docker run` does).
fn image(reference: &str) -> anyhow::Result<Image> {
    let root = berth_runtime::store::Root::from_env();
    let store = ImageStore::open(&root).context("cannot open the image store")?;
    if let Ok(image) = store.resolve(reference) {
        return Ok(image);
    }
    let parsed = Reference::parse(reference)?;
    eprintln!("Unable to find image '{}' locally", parsed.familiar());
    let options = PullOptions { platform: None, registry: Default::default() };
    let progress = |event: Event| {
        if let Event::Layer { digest, state: LayerState::Complete } = event {
            eprintln!("{}: Pull complete", &digest.hex()[..12]);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    let pulled = runtime.block_on(store.pull(&parsed, &options, &progress))?;
    eprintln!("Digest: {}", pulled.digest);
    eprintln!("Status: Downloaded newer image for {}", parsed.familiar());
    Ok(store.resolve(reference)?)
}

/// Creates the container; errors are printed, with Docker's exit code.
pub(super) fn create_container(args: &CreateArgs) -> Result<(Containers, String), ExitCode> {
    let prepared = args.options().and_then(|options| {
        let image = image(&args.image)?;
        let mut containers = open()?;
        let record = containers.create(&image, &args.image, &options)?;
        Ok((containers, record.id.to_string()))
    });
    prepared.map_err(|error| {
        print_error(&error);
        exit_for(&error)
    })
}

/// `berth create`
pub fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    match create_container(&args) {
        Ok((_, id)) => {
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

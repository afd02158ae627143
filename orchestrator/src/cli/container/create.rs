//! `create` and `run`: the flags Docker has, turned into the library's typed options.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use berth_runtime::container::limits::{parse_cpus, parse_size};
use berth_runtime::container::mounts::MountRequest;
use berth_runtime::container::options::{OptionError, parse_env_file};
use berth_runtime::container::security::CapabilityArg;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use berth_network::{ConnectOptions, ContainerLink, DEFAULT_NETWORK, PortMapping, Protocol, ResolvOptions};
use berth_runtime::container::{CreateOptions, NetworkMode, RestartPolicy};
use berth_runtime::image::{Event, LayerState, Reference};
use clap::Args;
use hyper::StatusCode;

use super::{exit_for, print_error};
use crate::api::client::{Client, ClientError};
use crate::api::containers::Created;
use crate::api::images::NameQuery;
use crate::api::query;
use crate::cli::image::{RegistryArgs, pull_image};
use crate::cli::remote::with_client;
use crate::engine::{NetworkChoice, RunRequest};
use crate::reconcile::container_spec::NetworkJoin;

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
    /// Connect the container to a network: bridge (the default), a network's
    /// name (repeat for several; the first gives the default route), host or none.
    #[arg(long, alias = "net")]
    pub network: Vec<String>,
    /// Add a network-scoped alias for the container (on its first network).
    #[arg(long, alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address on the first network (e.g. 172.30.100.104).
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// IPv6 address on the first network (e.g. fd89:6272:7468::10); it must have IPv6.
    #[arg(long)]
    pub ip6: Option<Ipv6Addr>,
    /// Publish a container's port(s) to the host: [IP:][HOST-PORT:]CONTAINER-PORT[/PROTO].
    #[arg(short, long)]
    pub publish: Vec<PortMapping>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Add link to another container: NAME[:ALIAS].
    #[arg(long)]
    pub link: Vec<String>,
    /// Add a custom host-to-IP mapping (HOST:IP).
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    pub dns: Vec<IpAddr>,
    /// Set custom DNS search domains.
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long, alias = "dns-opt")]
    pub dns_option: Vec<String>,
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
            // The engine sets these from the request's network choice.
            network: NetworkMode::None,
            network_name: None,
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

impl CreateArgs {
    /// The daemon's create request: the options and the network around them;
    /// `exposed`: the image's exposed ports (`80/tcp`), published by `-P`.
    pub fn request(&self, exposed: &[String]) -> anyhow::Result<RunRequest> {
        let create = self.options()?;
        let mut names = self.network.iter().map(String::as_str).collect::<Vec<_>>();
        if names.is_empty() {
            names.push(DEFAULT_NETWORK);
        }
        let network = match names.as_slice() {
            ["none"] => NetworkChoice::None,
            ["host"] => NetworkChoice::Host,
            many if many.iter().any(|n| matches!(*n, "none" | "host")) => {
                return Err(invalid("--network", &many.join(","), "host and none cannot be combined with networks"));
            }
            many => {
                let mut links = Vec::new();
                for link in &self.link {
                    let (name, alias) = link.split_once(':').unwrap_or((link, link));
                    if name.is_empty() || alias.is_empty() {
                        return Err(invalid("--link", link, "expected NAME[:ALIAS]"));
                    }
                    links.push(ContainerLink { name: name.to_owned(), alias: alias.to_owned() });
                }
                let first = ConnectOptions {
                    ip: self.ip,
                    ip6: self.ip6,
                    aliases: self.network_alias.clone(),
                    links,
                    dns_servers: self.dns.clone(),
                    ..ConnectOptions::default()
                };
                let joins = many.iter().enumerate().map(|(i, name)| NetworkJoin {
                    network: (*name).to_owned(),
                    options: if i == 0 {
                        first.clone()
                    } else {
                        ConnectOptions { dns_servers: self.dns.clone(), ..ConnectOptions::default() }
                    },
                });
                NetworkChoice::Networks(joins.collect())
            }
        };
        let mut ports = self.publish.clone();
        if self.publish_all {
            for exposed in exposed {
                let (port, protocol) = exposed.split_once('/').unwrap_or((exposed, "tcp"));
                let parsed = port.parse().ok().zip(protocol.parse::<Protocol>().ok());
                let Some((port, protocol)) = parsed else {
                    return Err(invalid("--publish-all", exposed, "the image exposes a port berth cannot read"));
                };
                ports.push(PortMapping::ephemeral(port, protocol));
            }
        }
        let mut extra_hosts = Vec::new();
        for entry in &self.add_host {
            let (host, ip) = entry
                .split_once('=')
                .or_else(|| entry.split_once(':'))
                .ok_or_else(|| invalid("--add-host", entry, "expected HOST:IP"))?;
            let ip: IpAddr =
                ip.parse().map_err(|_| invalid("--add-host", entry, format!("invalid IP address {ip:?}")))?;
            extra_hosts.push((host.to_owned(), ip));
        }
        let resolv = ResolvOptions {
            servers: self.dns.clone(),
            search: self.dns_search.clone(),
            options: self.dns_option.clone(),
        };
        Ok(RunRequest { image: self.image.clone(), create, network, ports, extra_hosts, resolv })
    }
}

/// The image as the daemon inspects it; `None` if it has no such image.
async fn inspect_image(client: &Client, reference: &str) -> anyhow::Result<Option<serde_json::Value>> {
    let path = format!("/images/inspect{}", query(&NameQuery { name: reference.to_owned() }));
    match client.get(&path).await {
        Ok(inspected) => Ok(Some(inspected)),
        Err(ClientError::Api { status: StatusCode::NOT_FOUND, .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// Pulls a missing image through the daemon, saying so as `docker run` does.
async fn pull_missing(client: &Client, reference: &str) -> anyhow::Result<()> {
    let parsed = Reference::parse(reference)?;
    eprintln!("Unable to find image '{}' locally", parsed.familiar());
    let (digest, _) = pull_image(client, &parsed, None, &RegistryArgs::default(), |event| {
        if let Event::Layer { digest, state: LayerState::Complete } = event {
            eprintln!("{}: Pull complete", &digest.hex()[..12]);
        }
    })
    .await?;
    eprintln!("Digest: {digest}");
    eprintln!("Status: Downloaded newer image for {}", parsed.familiar());
    Ok(())
}

/// The image's exposed ports (for `-P`), the image pulled first if it is missing.
async fn exposed_ports(client: &Client, reference: &str) -> anyhow::Result<Vec<String>> {
    let inspected = match inspect_image(client, reference).await? {
        Some(inspected) => inspected,
        None => {
            pull_missing(client, reference).await?;
            inspect_image(client, reference).await?.ok_or_else(|| anyhow::anyhow!("No such image: {reference}"))?
        }
    };
    let exposed = inspected["Config"]["ExposedPorts"].as_object();
    Ok(exposed.map(|ports| ports.keys().cloned().collect()).unwrap_or_default())
}

/// The request that creates the container `args` describe (`-P` looks up the
/// image's exposed ports first).
pub(super) async fn run_request(client: &Client, args: &CreateArgs) -> anyhow::Result<RunRequest> {
    let exposed = if args.publish_all { exposed_ports(client, &args.image).await? } else { Vec::new() };
    args.request(&exposed)
}

/// `send`s; when the daemon has no such image, pulls it (as `docker run` and
/// `docker create` do) and sends again. The image is looked up only then.
pub(super) async fn pulling_if_missing<T>(
    client: &Client,
    image: &str,
    send: impl AsyncFn() -> Result<T, ClientError>,
) -> anyhow::Result<T> {
    match send().await {
        Err(ClientError::Api { status: StatusCode::NOT_FOUND, .. })
            if inspect_image(client, image).await?.is_none() =>
        {
            pull_missing(client, image).await?;
            Ok(send().await?)
        }
        sent => Ok(sent?),
    }
}

/// Creates the container through the daemon; errors are printed, with Docker's exit code.
pub(super) fn create_container(args: &CreateArgs) -> Result<String, ExitCode> {
    let created = args.options().and_then(|_| {
        with_client(|client| async move {
            let request = run_request(&client, args).await?;
            pulling_if_missing(&client, &args.image, async || client.post::<_, Created>("/containers", &request).await)
                .await
        })
    });
    created.map(|created| created.id).map_err(|error| {
        print_error(&error);
        exit_for(&error)
    })
}

/// `berth create`
pub fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    match create_container(&args) {
        Ok(id) => {
            println!("{id}");
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

//! `berth network create|ls|inspect|rm|prune|connect|disconnect`, and the
//! hidden `__dns-server` the network manager starts the embedded DNS with.
//! Parsing and printing only; the daemon does the work (in `berth_network`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;

use anyhow::{Context, bail};
use berth_network::{ContainerLink, IpNet, Network, NetworkDetails, NetworkSpec};
use clap::{Args, Subcommand};

use crate::api::networks::{ConnectRequest, DisconnectRequest, PruneRequest, RemoveRequest};
use crate::cli::remote::{get_each, with_client};

/// `berth network ...`
#[derive(Debug, Args)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks.
    Inspect(InspectArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the network (only `bridge`).
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR form, one per family (taken from the pools when absent).
    #[arg(long)]
    pub subnet: Vec<IpNet>,
    /// Gateway of the subnet of its family.
    #[arg(long)]
    pub gateway: Vec<IpAddr>,
    /// Allocate container addresses from this sub-range of the subnet of its family.
    #[arg(long = "ip-range")]
    pub ip_range: Vec<IpNet>,
    /// Enable IPv6 networking (an IPv6 subnet too: --subnet, or a /64 of the IPv6 pool).
    #[arg(long)]
    pub ipv6: bool,
    /// Restrict external access to the network.
    #[arg(long)]
    pub internal: bool,
    /// No embedded DNS on this network (containers get the host's resolvers).
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// Set metadata on the network (KEY or KEY=VALUE).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Driver options: `mtu=N` (also `com.docker.network.driver.mtu=N`).
    #[arg(short = 'o', long = "opt", value_name = "OPTION")]
    pub options: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter: `name=TEXT`, `id=PREFIX`, `label=KEY[=VALUE]`.
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Disconnect attached containers first.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Only networks with these labels (`label=KEY[=VALUE]`).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// IPv4 address on the network.
    #[arg(long)]
    pub ip: Option<Ipv4Addr>,
    /// IPv6 address on the network (it must have IPv6).
    #[arg(long)]
    pub ip6: Option<Ipv6Addr>,
    /// Network-scoped alias for the container.
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// Link to another container (NAME:ALIAS).
    #[arg(long = "link")]
    pub links: Vec<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Accepted for Docker compatibility.
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

/// `berth __dns-server serve --dir DIR [--detach]`: everything after the subcommand.
#[derive(Debug, Args)]
pub struct DnsServerArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

pub fn dns_server(args: DnsServerArgs) -> anyhow::Result<ExitCode> {
    // Answering queries touches few pages; starting up and loading the
    // tables touched many (berth_runtime::memory): give them back, and again
    // now and then.
    let _ = std::thread::Builder::new().name("release-pages".into()).stack_size(64 * 1024).spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(2));
        loop {
            berth_runtime::memory::release_file_pages();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    });
    berth_network::dns::serve_main(&args.args)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: NetworkArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        NetworkCommand::Create(args) => create(args),
        NetworkCommand::Ls(args) => ls(args),
        NetworkCommand::Inspect(args) => inspect(args),
        NetworkCommand::Rm(args) => rm(args),
        NetworkCommand::Prune(args) => prune(args),
        NetworkCommand::Connect(args) => connect(args),
        NetworkCommand::Disconnect(args) => disconnect(args),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    if args.driver != "bridge" {
        bail!("--driver {}: only the bridge driver is supported", args.driver);
    }
    let mut spec = NetworkSpec::named(&args.name);
    let (subnet, subnet6) = per_family("--subnet", &args.subnet, |net| match net {
        IpNet::V4(net) => Family::V4(*net),
        IpNet::V6(net) => Family::V6(*net),
    })?;
    let (gateway, gateway6) = per_family("--gateway", &args.gateway, |ip| match ip {
        IpAddr::V4(ip) => Family::V4(*ip),
        IpAddr::V6(ip) => Family::V6(*ip),
    })?;
    let (ip_range, ip_range6) = per_family("--ip-range", &args.ip_range, |net| match net {
        IpNet::V4(net) => Family::V4(*net),
        IpNet::V6(net) => Family::V6(*net),
    })?;
    (spec.subnet, spec.gateway, spec.ip_range) = (subnet, gateway, ip_range);
    (spec.subnet6, spec.gateway6, spec.ip_range6) = (subnet6, gateway6, ip_range6);
    spec.ipv6 = args.ipv6;
    spec.internal = args.internal;
    spec.dns = !args.disable_dns;
    spec.labels = parse_labels(&args.labels);
    for option in &args.options {
        match option.split_once('=') {
            Some(("mtu" | "com.docker.network.driver.mtu", value)) => {
                spec.mtu = Some(value.parse().with_context(|| format!("--opt {option}: the MTU must be a number"))?);
            }
            _ => bail!("--opt {option}: unknown driver option (known: mtu=N)"),
        }
    }
    let network: Network = with_client(|client| async move { Ok(client.post("/networks", &spec).await?) })?;
    println!("{}", network.id);
    Ok(ExitCode::SUCCESS)
}

/// A value of either family, split.
enum Family<A, B> {
    V4(A),
    V6(B),
}

/// `--subnet` and its kin, given at most once per family (as many as berth's
/// networks have: one IPv4 and one IPv6 subnet).
fn per_family<T: std::fmt::Display, A, B>(
    flag: &str,
    values: &[T],
    split: impl Fn(&T) -> Family<A, B>,
) -> anyhow::Result<(Option<A>, Option<B>)> {
    let (mut v4, mut v6) = (None, None);
    for value in values {
        let twice = match split(value) {
            Family::V4(a) => v4.replace(a).is_some(),
            Family::V6(b) => v6.replace(b).is_some(),
        };
        if twice {
            bail!("{flag} {value}: a network has one IPv4 and one IPv6 {flag} at most");
        }
    }
    Ok((v4, v6))
}

fn parse_labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn matches(network: &Network, filter: &str) -> anyhow::Result<bool> {
    Ok(match filter.split_once('=') {
        Some(("name", text)) => network.name.contains(text),
        Some(("id", prefix)) => network.id.starts_with(prefix),
        Some(("label", label)) => match label.split_once('=') {
            Some((k, v)) => network.labels.get(k).is_some_and(|have| have == v),
            None => network.labels.contains_key(label),
        },
        _ => bail!("--filter {filter}: use name=TEXT, id=PREFIX or label=KEY[=VALUE]"),
    })
}

fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let networks: Vec<Network> = with_client(|client| async move { Ok(client.get("/networks").await?) })?;
    let mut shown = Vec::new();
    for network in networks {
        let mut keep = true;
        for filter in &args.filters {
            keep &= matches(&network, filter)?;
        }
        if keep {
            shown.push(network);
        }
    }
    let id = |n: &Network| if args.no_trunc { n.id.clone() } else { n.id[..12].to_string() };
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for network in &shown {
            writeln!(out, "{}", id(network))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let width = shown.iter().map(|n| n.name.len()).max().unwrap_or(0).max("NAME".len());
    let id_width = if args.no_trunc { 64 } else { 12 };
    writeln!(out, "{:<id_width$}   {:<width$}   {:<8}   {:<6}   SUBNET", "NETWORK ID", "NAME", "DRIVER", "SCOPE")?;
    for network in &shown {
        writeln!(
            out,
            "{:<id_width$}   {:<width$}   {:<8}   {:<6}   {}",
            id(network),
            network.name,
            "bridge",
            "local",
            network.subnet
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's shape, so that `jq '.[0].IPAM.Config[0].Subnet'` works the same.
fn docker_json(details: &NetworkDetails) -> serde_json::Value {
    let n = &details.network;
    let containers: serde_json::Map<String, serde_json::Value> = details
        .containers
        .iter()
        .map(|a| {
            let value = serde_json::json!({
                "Name": a.container_name,
                "MacAddress": a.mac,
                "IPv4Address": format!("{}/{}", a.ipv4, a.prefix_len),
                "IPv6Address": a.ipv6.map(|ip| format!("{ip}/{}", a.ipv6_prefix_len)).unwrap_or_default(),
                "Interface": a.interface,
                "HostInterface": a.host_interface,
                "Aliases": a.aliases,
            });
            (a.container_id.clone(), value)
        })
        .collect();
    let config = |subnet: String, gateway: String, range: Option<String>| {
        let mut config = serde_json::json!({ "Subnet": subnet, "Gateway": gateway });
        if let Some(range) = range {
            config["IPRange"] = range.into();
        }
        config
    };
    let mut ipam = vec![config(n.subnet.to_string(), n.gateway.to_string(), n.ip_range.map(|r| r.to_string()))];
    if let Some(v6) = n.ipv6 {
        ipam.push(config(v6.subnet.to_string(), v6.gateway.to_string(), v6.ip_range.map(|r| r.to_string())));
    }
    serde_json::json!({
        "Name": n.name,
        "Id": n.id,
        "Created": chrono::DateTime::from_timestamp(n.created, 0).map(|t| t.to_rfc3339()),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv4": true,
        "EnableIPv6": n.ipv6.is_some(),
        "IPAM": { "Driver": "default", "Config": ipam },
        "Internal": n.internal,
        "Containers": containers,
        "Options": {
            "com.docker.network.bridge.name": n.bridge,
            "com.docker.network.driver.mtu": n.mtu.to_string(),
            "berth.dns": n.dns.to_string(),
        },
        "Labels": n.labels,
    })
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let paths = args.networks.iter().map(|reference| format!("/networks/{reference}")).collect();
    let (networks, failed): (Vec<NetworkDetails>, bool) = get_each(paths, "error: ")?;
    let found: Vec<serde_json::Value> = networks.iter().map(docker_json).collect();
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn rm(args: RmArgs) -> anyhow::Result<ExitCode> {
    let (references, request) = (&args.networks, RemoveRequest { force: args.force });
    with_client(|client| async move {
        let mut failed = false;
        for reference in references {
            match client.post::<_, ()>(&format!("/networks/{reference}/remove"), &request).await {
                Ok(()) => println!("{reference}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let mut labels = Vec::new();
    for filter in &args.filters {
        match filter.strip_prefix("label=") {
            Some(label) => labels.push(label.to_string()),
            None => bail!("--filter {filter}: prune filters by label=KEY[=VALUE] only"),
        }
    }
    if !args.force {
        eprint!(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let request = PruneRequest { labels };
    let removed: Vec<String> =
        with_client(|client| async move { Ok(client.post("/networks/prune", &request).await?) })?;
    if !removed.is_empty() {
        println!("Deleted Networks:");
        for name in removed {
            println!("{name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn connect(args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let mut links = Vec::new();
    for link in &args.links {
        let (target, alias) = link.split_once(':').unwrap_or((link, link));
        links.push(ContainerLink { name: target.trim_start_matches('/').to_string(), alias: alias.to_string() });
    }
    let path = format!("/networks/{}/connect", args.network);
    let request =
        ConnectRequest { container: args.container, ip: args.ip, ip6: args.ip6, aliases: args.aliases, links };
    with_client(|client| async move { Ok(client.post::<_, ()>(&path, &request).await?) })?;
    Ok(ExitCode::SUCCESS)
}

fn disconnect(args: DisconnectArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/networks/{}/disconnect", args.network);
    let request = DisconnectRequest { container: args.container };
    with_client(|client| async move { Ok(client.post::<_, ()>(&path, &request).await?) })?;
    Ok(ExitCode::SUCCESS)
}

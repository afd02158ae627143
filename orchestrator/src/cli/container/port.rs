//! `port`: the container's published ports, from the daemon (which published them).

use std::process::ExitCode;

use berth_network::{Protocol, PublishedPort};
use clap::Args;

use crate::api::client::Client;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]: only this port's mappings.
    pub port: Option<String>,
}

/// The container's published ports, asked of the daemon.
pub(super) async fn published(client: &Client, reference: &str) -> anyhow::Result<Vec<PublishedPort>> {
    Ok(client.get(&format!("/containers/{reference}/ports")).await?)
}

pub fn port(args: PortArgs) -> anyhow::Result<ExitCode> {
    let wanted = match &args.port {
        Some(spec) => {
            let (number, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
            let number: u16 =
                number.parse().map_err(|_| anyhow::anyhow!("invalid port {spec:?}: not a port number"))?;
            let protocol: Protocol = protocol.parse().map_err(|e| anyhow::anyhow!("invalid port {spec:?}: {e}"))?;
            Some((number, protocol))
        }
        None => None,
    };
    let reference = args.container.clone();
    let ports = with_client(|client| async move { published(&client, &reference).await })?;
    match wanted {
        Some((number, protocol)) => {
            let matching: Vec<_> =
                ports.iter().filter(|p| p.container_port == number && p.protocol == protocol).collect();
            if matching.is_empty() {
                anyhow::bail!("no public port '{number}/{protocol}' published for {}", args.container);
            }
            matching.iter().for_each(|p| println!("{}", p.host()));
        }
        None => ports.iter().for_each(|p| println!("{p}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// `0.0.0.0:8080->80/tcp, ...` as `docker ps` shows ports.
pub(super) fn column(ports: &[PublishedPort]) -> String {
    let shown: Vec<String> =
        ports.iter().map(|p| format!("{}->{}/{}", p.host(), p.container_port, p.protocol)).collect();
    shown.join(", ")
}

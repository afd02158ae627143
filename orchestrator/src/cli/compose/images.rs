//! `berth compose pull|push|images|port|wait`: the small commands, answered
//! from the images endpoints and from `ps`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::ComposeArgs;
use super::progress::Printer;
use crate::api::compose::{ImagesRequest, Progress, PsEntry};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (default: all).
    services: Vec<String>,
}

/// `pull` or `push` of the services' images.
pub fn transfer(compose: &ComposeArgs, verb: &str, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let project = compose.load(true)?.project;
    let request = ImagesRequest { project: project.clone(), services: args.services.clone() };
    with_client(|client| async move {
        let mut printer = Printer::new(false);
        client
            .stream(&format!("/projects/{}/{verb}", project.name), &request, |line: Progress| printer.show(line))
            .await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub(super) fn ps(compose: &ComposeArgs) -> anyhow::Result<Vec<PsEntry>> {
    let (name, _) = compose.project_or_name()?;
    with_client(|client| async move { Ok(client.get(&format!("/projects/{name}/ps?all=true")).await?) })
}

/// `images`: the images the project's containers use.
pub fn images(compose: &ComposeArgs, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    println!("{:<28} {:<40}", "CONTAINER", "IMAGE");
    for entry in ps(compose)?.iter().filter(|e| args.services.is_empty() || args.services.contains(&e.service)) {
        println!("{:<28} {:<40}", entry.name, entry.image);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    protocol: String,
    /// Index of the container if the service has several replicas.
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    private_port: u16,
}

/// `port`: the public address of a service's container port.
pub fn port(compose: &ComposeArgs, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let entries = ps(compose)?;
    let entry = entries
        .iter()
        .find(|e| e.service == args.service && e.number == args.index)
        .with_context(|| format!("no container for service {} (index {})", args.service, args.index))?;
    let wanted = format!("->{}/{}", args.private_port, args.protocol);
    for publisher in entry.publishers.iter().filter(|p| p.ends_with(&wanted)) {
        println!("{}", publisher.trim_end_matches(&wanted));
    }
    Ok(ExitCode::SUCCESS)
}

/// `wait`: blocks until the services' containers stop; prints their exit codes.
pub fn wait(compose: &ComposeArgs, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    loop {
        let entries = ps(compose)?;
        let selected: Vec<&PsEntry> =
            entries.iter().filter(|e| args.services.is_empty() || args.services.contains(&e.service)).collect();
        if selected.is_empty() {
            bail!("no containers to wait for");
        }
        if selected.iter().all(|e| e.state == "exited" || e.state == "dead") {
            selected.iter().for_each(|e| println!("{}", e.exit_code));
            return Ok(ExitCode::from(u8::try_from(selected[0].exit_code).unwrap_or(1)));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

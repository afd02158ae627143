//! `berth compose up`: send the desired state to the daemon and show its progress.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::ComposeArgs;
use super::progress::Printer;
use super::wait::wait_ready;
use crate::api::compose::{Progress, PullPolicy, UpRequest};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Detached mode: run containers in the background.
    #[arg(short, long)]
    detach: bool,
    /// Wait for services to be running and healthy (implies --detach).
    #[arg(long)]
    wait: bool,
    /// Maximum seconds to wait with --wait.
    #[arg(long, value_name = "SECONDS")]
    wait_timeout: Option<u64>,
    /// Pull images: always, missing (default) or never.
    #[arg(long, value_enum, default_value = "missing")]
    pull: PullPolicy,
    /// Recreate containers even if their configuration and image have not changed.
    #[arg(long, conflicts_with = "no_recreate")]
    force_recreate: bool,
    /// If containers already exist, do not recreate them.
    #[arg(long)]
    no_recreate: bool,
    /// Do not start linked services.
    #[arg(long)]
    no_deps: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long)]
    remove_orphans: bool,
    /// Scale SERVICE to NUM instances (overrides `scale` and `deploy.replicas`).
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    /// Seconds to wait for containers to stop when recreating them.
    #[arg(short, long, value_name = "SECONDS")]
    timeout: Option<u32>,
    /// Print the plan (what would be created, recreated, started, and why) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Services to start (default: all).
    services: Vec<String>,
}

fn parse_scale(entries: &[String]) -> anyhow::Result<BTreeMap<String, u32>> {
    entries
        .iter()
        .map(|entry| {
            let (service, count) =
                entry.split_once('=').with_context(|| format!("--scale {entry}: expected SERVICE=NUM"))?;
            let count = count.parse().with_context(|| format!("--scale {entry}: {count:?} is not a number"))?;
            Ok((service.to_string(), count))
        })
        .collect()
}

pub fn run(compose: &ComposeArgs, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let loaded = compose.load(true)?;
    let project = loaded.project;
    let scale = parse_scale(&args.scale)?;
    for service in args.services.iter().chain(scale.keys()) {
        if !project.services.contains_key(service) {
            bail!("no such service: {service}");
        }
    }
    if !args.detach && !args.wait && !args.dry_run {
        bail!("berth compose up runs detached for now: add -d (or --wait)");
    }
    let request = UpRequest {
        working_dir: loaded.project_dir.display().to_string(),
        config_files: loaded.files.iter().map(|f| f.display().to_string()).collect(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_deps: args.no_deps,
        services: args.services.clone(),
        remove_orphans: args.remove_orphans,
        scale,
        pull: args.pull,
        dry_run: args.dry_run,
        timeout: args.timeout,
        project: project.clone(),
    };
    let name = project.name.clone();
    with_client(|client| async move {
        let mut printer = Printer::new(args.dry_run);
        client.stream(&format!("/projects/{name}/up"), &request, |line: Progress| printer.show(line)).await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        if args.wait && !args.dry_run {
            wait_ready(&client, &name, &args.services, args.wait_timeout).await?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

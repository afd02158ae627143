//! `berth compose up`: send the desired state to the daemon and show its progress.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::ComposeArgs;
use super::logs::{LogPrinter, stream_logs};
use super::progress::Printer;
use super::wait::wait_ready;
use crate::api::client::Client;
use crate::api::compose::{Progress, PsEntry, PullPolicy, ServicesRequest, UpRequest};
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
    /// Stop all containers if any container exits (foreground mode).
    #[arg(long, conflicts_with = "detach")]
    abort_on_container_exit: bool,
    /// Return the exit code of this service's container (implies --abort-on-container-exit).
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    exit_code_from: Option<String>,
    /// Produce monochrome output.
    #[arg(long)]
    no_color: bool,
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
    if let Some(service) = &args.exit_code_from
        && !project.services.contains_key(service)
    {
        bail!("--exit-code-from {service}: no such service");
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
        run: None,
        project: project.clone(),
    };
    let name = project.name.clone();
    with_client(|client| async move {
        let mut printer = Printer::new(args.dry_run);
        client.stream(&format!("/projects/{name}/up"), &request, |line: Progress| printer.show(line)).await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
        if args.wait {
            wait_ready(&client, &name, &args.services, args.wait_timeout).await?;
        }
        if args.detach || args.wait {
            return Ok(ExitCode::SUCCESS);
        }
        foreground(&client, &name, args).await
    })
}

/// Attached `up`: the services' logs until Ctrl-C (or, with
/// `--abort-on-container-exit`, until a container exits), then the stack is stopped.
async fn foreground(client: &Client, name: &str, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let mut printer = LogPrinter::new(!args.no_color, true, false);
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let code = tokio::select! {
        result = stream_logs(client, name, &args.services, true, "all", &mut printer) => {
            result?;
            None
        }
        exited = first_exit(client, name), if abort => Some(exited?),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            None
        }
    };
    let stop = ServicesRequest { services: Vec::new(), timeout: args.timeout, signal: None };
    let mut stopping = Printer::new(false);
    let stop_path = format!("/projects/{name}/stop");
    tokio::select! {
        result = client.stream(&stop_path, &stop, |line: Progress| stopping.show(line)) => result?,
        _ = tokio::signal::ctrl_c() => {
            let kill = ServicesRequest { signal: Some("SIGKILL".into()), ..stop };
            client.stream(&format!("/projects/{name}/kill"), &kill, |line: Progress| stopping.show(line)).await?;
        }
    }
    let code = match (&args.exit_code_from, code) {
        (Some(service), _) => {
            let entries: Vec<PsEntry> = client.get(&format!("/projects/{name}/ps?all=true")).await?;
            entries.iter().find(|e| &e.service == service).map_or(0, |e| e.exit_code)
        }
        (None, Some(code)) => code,
        (None, None) => 0,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Waits until a container of the project has exited; its exit code.
async fn first_exit(client: &Client, name: &str) -> anyhow::Result<i32> {
    loop {
        let entries: Vec<PsEntry> = client.get(&format!("/projects/{name}/ps?all=true")).await?;
        if let Some(exited) = entries.iter().find(|e| e.state == "exited") {
            eprintln!("{} exited with code {}", exited.name, exited.exit_code);
            return Ok(exited.exit_code);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

//! `berth compose down`: stop and remove the project's containers and networks.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::ComposeArgs;
use super::progress::Printer;
use crate::api::compose::{DownRequest, Progress};
use crate::cli::remote::with_client;
use crate::reconcile::rmi::RemoveImages;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the `volumes` section and anonymous volumes of the containers.
    #[arg(short, long)]
    volumes: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long)]
    remove_orphans: bool,
    /// Seconds to wait for containers to stop before killing them.
    #[arg(short, long, value_name = "SECONDS")]
    timeout: Option<u32>,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Remove images used by services: "local" only those without a custom tag, "all" every one.
    #[arg(long, value_enum, value_name = "TYPE")]
    rmi: Option<RemoveImages>,
}

pub fn run(compose: &ComposeArgs, args: &DownArgs) -> anyhow::Result<ExitCode> {
    let (name, project) = compose.project_or_name()?;
    let request = DownRequest {
        project,
        volumes: args.volumes,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout,
        dry_run: args.dry_run,
        rmi: args.rmi,
    };
    with_client(|client| async move {
        let mut printer = Printer::new(args.dry_run);
        client.stream(&format!("/projects/{name}/down"), &request, |line: Progress| printer.show(line)).await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

//! `berth rmi` and `berth image prune`

use std::io::{BufRead, Write};
use std::process::ExitCode;

use berth_runtime::image::Removed;
use clap::Args;

use super::format::size;
use crate::api::images::{PruneRequest, Pruned, RemoveRequest};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove names even of images containers use (their data stays until the containers go),
    /// and images with names in several repositories when given by ID.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(args: RmiArgs) -> anyhow::Result<ExitCode> {
    let (images, force) = (&args.images, args.force);
    with_client(|client| async move {
        let mut failed = false;
        for image in images {
            let request = RemoveRequest { name: image.clone(), force };
            match client.post::<_, Vec<Removed>>("/images/remove", &request).await {
                Ok(done) => done.iter().for_each(|line| println!("{line}")),
                Err(error) => {
                    eprintln!("error: {error}");
                    failed = true;
                }
            }
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all images no container uses, not only dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

pub fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let request = PruneRequest { all: args.all };
    let report: Pruned = with_client(|client| async move { Ok(client.post("/images/prune", &request).await?) })?;
    if !report.removed.is_empty() {
        println!("Deleted Images:");
        for line in &report.removed {
            match line {
                Removed::Untagged(name) => println!("untagged: {name}"),
                Removed::Deleted(id) => println!("deleted: {id}"),
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", size(report.reclaimed));
    Ok(ExitCode::SUCCESS)
}

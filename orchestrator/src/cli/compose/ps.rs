//! `berth compose ps` and `berth compose ls`.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::ComposeArgs;
use crate::api::compose::{ProjectSummary, PsEntry};
use crate::cli::remote::with_client;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, stopped ones too.
    #[arg(short, long)]
    all: bool,
    /// Only display IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Display services.
    #[arg(long)]
    services: bool,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Only these services.
    service: Vec<String>,
}

pub fn ps(compose: &ComposeArgs, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let (name, _) = compose.project_or_name()?;
    let entries: Vec<PsEntry> = with_client(|client| async move {
        // As compose: `-a` lists the one-off containers of `compose run` too.
        Ok(client.get(&format!("/projects/{name}/ps?all={0}&oneoff={0}", args.all)).await?)
    })?;
    let entries: Vec<PsEntry> =
        entries.into_iter().filter(|e| args.service.is_empty() || args.service.contains(&e.service)).collect();
    if args.quiet {
        entries.iter().for_each(|e| println!("{}", e.id));
    } else if args.services {
        let mut services: Vec<&str> = entries.iter().map(|e| e.service.as_str()).collect();
        services.dedup();
        services.iter().for_each(|s| println!("{s}"));
    } else {
        match args.format {
            Format::Json => println!("{}", serde_json::to_string(&entries)?),
            Format::Table => {
                println!("{:<28} {:<28} {:<12} {:<30} PORTS", "NAME", "IMAGE", "SERVICE", "STATUS");
                for e in &entries {
                    println!(
                        "{:<28} {:<28} {:<12} {:<30} {}",
                        e.name,
                        e.image,
                        e.service,
                        e.status,
                        e.publishers.join(", ")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Only display project names.
    #[arg(short, long)]
    quiet: bool,
}

pub fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    let projects: Vec<ProjectSummary> = with_client(|client| async move { Ok(client.get("/projects").await?) })?;
    if args.quiet {
        projects.iter().for_each(|p| println!("{}", p.name));
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&projects)?),
        Format::Table => {
            println!("{:<24} {:<24} CONFIG FILES", "NAME", "STATUS");
            for p in &projects {
                println!("{:<24} {:<24} {}", p.name, p.status, p.config_files);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

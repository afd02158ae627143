//! `berth compose config`: the normalised model, as `docker compose config` prints it.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::ComposeArgs;
use crate::compose::{hash, render};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "yaml")]
    format: Format,
    /// Print the service names, one per line.
    #[arg(long)]
    services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    volumes: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    profiles: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    images: bool,
    /// Print the config hash of the given services ("*" for all) as `service hash`.
    #[arg(long, value_name = "SERVICE")]
    hash: Option<String>,
    /// Only validate the configuration, print nothing.
    #[arg(short, long)]
    quiet: bool,
    /// Do not interpolate environment variables.
    #[arg(long)]
    no_interpolate: bool,
}

pub fn run(compose: &ComposeArgs, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = compose.load(!args.no_interpolate)?;
    let project = &loaded.project;
    let lines: Option<Vec<String>> = if args.services {
        Some(project.services.keys().cloned().collect())
    } else if args.volumes {
        Some(project.volumes.keys().cloned().collect())
    } else if args.profiles {
        Some(loaded.all_profiles.iter().cloned().collect())
    } else if args.images {
        Some(project.services.iter().map(|(name, service)| service.image_name(&project.name, name)).collect())
    } else if let Some(selected) = &args.hash {
        let mut lines = Vec::new();
        for (name, service) in &project.services {
            if selected == "*" || selected.split(',').any(|s| s == name) {
                lines.push(format!("{name} {}", hash::service_hash(service)));
            }
        }
        if lines.is_empty() {
            anyhow::bail!("no such service: {selected}");
        }
        Some(lines)
    } else {
        None
    };
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    match lines {
        Some(lines) => lines.iter().for_each(|line| println!("{line}")),
        None => match args.format {
            Format::Yaml => print!("{}", render::to_yaml_string(&loaded)),
            Format::Json => println!("{}", render::to_json_string(&loaded)),
        },
    }
    Ok(ExitCode::SUCCESS)
}

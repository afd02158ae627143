//! `inspect`: a JSON array, or `-f TEMPLATE` per container; the daemon adds
//! each container's NetworkSettings.

use std::process::ExitCode;

use clap::Args;

use super::format::render;
use crate::cli::remote::get_each;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a template such as '{{.State.Status}}' or '{{json .Config}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let paths = args.containers.iter().map(|reference| format!("/containers/{reference}/json")).collect();
    let (documents, failed): (Vec<serde_json::Value>, bool) = get_each(paths, "Error: ")?;
    match &args.format {
        Some(template) => {
            for document in &documents {
                println!("{}", render(template, document).map_err(anyhow::Error::msg)?);
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&documents)?),
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

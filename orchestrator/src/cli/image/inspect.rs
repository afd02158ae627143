//! `berth image inspect`

use std::process::ExitCode;

use clap::Args;

use crate::api::images::NameQuery;
use crate::api::query;
use crate::cli::remote::get_each;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Prints a JSON array of what was found; names not found are reported and make the exit status 1.
pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let paths = args.images.iter().map(|name| format!("/images/inspect{}", query(&NameQuery { name: name.clone() })));
    let (found, failed): (Vec<serde_json::Value>, bool) = get_each(paths.collect(), "error: ")?;
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

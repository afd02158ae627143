//! `berth image inspect`

use std::process::ExitCode;

use clap::Args;

use crate::api::images::NameQuery;
use crate::api::query;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Prints a JSON array of what was found; names not found are reported and make the exit status 1.
pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let images = &args.images;
    let (found, failed) = with_client(|client| async move {
        let mut found: Vec<serde_json::Value> = Vec::new();
        let mut failed = false;
        for image in images {
            match client.get(&format!("/images/inspect{}", query(&NameQuery { name: image.clone() }))).await {
                Ok(value) => found.push(value),
                Err(error) => {
                    eprintln!("error: {error}");
                    failed = true;
                }
            }
        }
        Ok((found, failed))
    })?;
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

//! `berth image inspect`

use std::process::ExitCode;

use clap::Args;

use super::open_store;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Images: references or IDs.
    #[arg(required = true)]
    pub images: Vec<String>,
}

/// Prints a JSON array of what was found; names not found are reported and make the exit status 1.
pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let store = open_store()?;
    let mut found = Vec::new();
    let mut failed = false;
    for image in &args.images {
        match store.inspect(image) {
            Ok(value) => found.push(value),
            Err(error) => {
                eprintln!("error: {error}");
                failed = true;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

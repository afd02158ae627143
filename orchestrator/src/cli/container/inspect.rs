//! `inspect`: a JSON array, or `-f TEMPLATE` per container.

use std::process::ExitCode;

use clap::Args;

use super::format::render;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a template such as '{{.State.Status}}' or '{{json .Config}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let references = &args.containers;
    let (documents, failed) = with_client(|client| async move {
        let mut documents: Vec<serde_json::Value> = Vec::new();
        let mut failed = false;
        for reference in references {
            match client.get(&format!("/containers/{reference}/json")).await {
                Ok(document) => documents.push(document),
                Err(error) => {
                    eprintln!("Error: {error}");
                    failed = true;
                }
            }
        }
        Ok((documents, failed))
    })?;
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

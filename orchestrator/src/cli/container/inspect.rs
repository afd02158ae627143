//! `inspect`: a JSON array, or `-f TEMPLATE` per container; the network
//! manager adds each container's NetworkSettings.

use std::process::ExitCode;

use anyhow::Context;
use berth_network::NetworkManager;
use berth_runtime::store::Root;
use clap::Args;

use super::format::render;
use super::open;
use crate::engine::network_settings;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using a template such as '{{.State.Status}}' or '{{json .Config}}'.
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let containers = open()?;
    let network = crate::engine::network_config(&Root::from_env())
        .map_err(anyhow::Error::from)
        .and_then(|config| NetworkManager::open(config).context("cannot open the network state"))?;
    let mut documents = Vec::new();
    let mut failed = false;
    for reference in &args.containers {
        match containers.inspect(reference) {
            Ok(document) => {
                let attachments = network.attachments(&document.id)?;
                let ports = network.ports(&document.id)?;
                let sandbox = (!attachments.is_empty()).then(|| network.netns_path(&document.id));
                let mut value = serde_json::to_value(document)?;
                value["NetworkSettings"] = network_settings(&attachments, &ports, sandbox.as_deref());
                documents.push(value);
            }
            Err(error) => {
                eprintln!("Error: {error}");
                failed = true;
            }
        }
    }
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

//! `berth compose events`: the project's events as they happen.

use std::process::ExitCode;

use clap::Args;

use super::ComposeArgs;
use crate::cli::remote::with_client;
use crate::daemon::Event;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Output events as a stream of JSON objects.
    #[arg(long)]
    json: bool,
    /// Only these services.
    services: Vec<String>,
}

pub fn run(compose: &ComposeArgs, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let (name, _) = compose.project_or_name()?;
    with_client(|client| async move {
        let print = |event: Event| {
            if !args.services.is_empty() && !args.services.contains(&event.service) {
                return;
            }
            if args.json {
                println!("{}", serde_json::to_string(&event).expect("events serialize"));
            } else {
                let attributes: Vec<String> = event.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!("{} {} {} {} ({})", event.time, event.kind, event.action, event.id, attributes.join(", "));
            }
        };
        let path = format!("/projects/{name}/events");
        tokio::select! {
            result = client.stream_get(&path, print) => result?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

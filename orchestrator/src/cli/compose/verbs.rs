//! `berth compose stop|start|restart|kill|rm|pause|unpause`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::ComposeArgs;
use super::progress::Printer;
use crate::api::compose::{Progress, ServicesRequest};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct VerbArgs {
    /// Seconds to wait for a container to stop before killing it (stop, restart).
    #[arg(short, long, value_name = "SECONDS")]
    timeout: Option<u32>,
    /// The signal to send (kill; default SIGKILL).
    #[arg(short, long)]
    signal: Option<String>,
    /// Services (default: all).
    services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Services (default: all).
    services: Vec<String>,
}

/// `pause` or `unpause` of the selected services.
pub fn pause(compose: &ComposeArgs, verb: &str, args: &PauseArgs) -> anyhow::Result<ExitCode> {
    send(compose, verb, ServicesRequest { services: args.services.clone(), ..ServicesRequest::default() })
}

pub fn run(compose: &ComposeArgs, verb: &str, args: &VerbArgs) -> anyhow::Result<ExitCode> {
    let request =
        ServicesRequest { services: args.services.clone(), timeout: args.timeout, signal: args.signal.clone() };
    send(compose, verb, request)
}

/// Sends `verb` (the API path's last part) for the selected services and shows the progress.
fn send(compose: &ComposeArgs, verb: &str, request: ServicesRequest) -> anyhow::Result<ExitCode> {
    let (name, _) = compose.project_or_name()?;
    with_client(|client| async move {
        let mut printer = Printer::new(false);
        client.stream(&format!("/projects/{name}/{verb}"), &request, |line: Progress| printer.show(line)).await?;
        if let Some(error) = printer.error {
            bail!("{error}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

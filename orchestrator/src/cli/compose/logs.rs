//! `berth compose logs`: the project's logs, each line prefixed with its
//! container (colored per service on a terminal), as compose prints them.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;

use super::ComposeArgs;
use crate::api::client::Client;
use crate::api::compose::LogLine;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs of each container ("all" for everything).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Do not prefix lines with the container name.
    #[arg(long)]
    no_log_prefix: bool,
    /// Produce monochrome output.
    #[arg(long)]
    no_color: bool,
    /// Only these services.
    services: Vec<String>,
}

/// Colors compose cycles through, one per service.
const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints log lines with aligned, colored container prefixes.
#[derive(Debug)]
pub struct LogPrinter {
    color: bool,
    prefix: bool,
    timestamps: bool,
    colors: HashMap<String, &'static str>,
    width: usize,
}

impl LogPrinter {
    pub fn new(color: bool, prefix: bool, timestamps: bool) -> Self {
        LogPrinter {
            color: color && std::io::stdout().is_terminal(),
            prefix,
            timestamps,
            colors: HashMap::new(),
            width: 0,
        }
    }

    pub fn print(&mut self, line: &LogLine) {
        let mut out = std::io::stdout().lock();
        if self.prefix {
            self.width = self.width.max(line.container.len());
            let next = COLORS[self.colors.len() % COLORS.len()];
            let color = *self.colors.entry(line.service.clone()).or_insert(next);
            let name = format!("{:<width$} |", line.container, width = self.width);
            if self.color {
                let _ = write!(out, "\x1b[{color}m{name}\x1b[0m ");
            } else {
                let _ = write!(out, "{name} ");
            }
        }
        if self.timestamps {
            let _ = write!(out, "{} ", line.time);
        }
        let _ = write!(out, "{}", line.log);
        if !line.log.ends_with('\n') {
            let _ = writeln!(out);
        }
        let _ = out.flush();
    }
}

/// Streams the project's logs until they end (every container stopped, with `follow`).
pub async fn stream_logs(
    client: &Client,
    project: &str,
    services: &[String],
    follow: bool,
    tail: &str,
    printer: &mut LogPrinter,
) -> anyhow::Result<()> {
    let path = format!("/projects/{project}/logs?follow={follow}&tail={tail}&services={}", services.join(","));
    client.stream_get(&path, |line: LogLine| printer.print(&line)).await?;
    Ok(())
}

pub fn run(compose: &ComposeArgs, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let (name, _) = compose.project_or_name()?;
    let mut printer = LogPrinter::new(!args.no_color, !args.no_log_prefix, args.timestamps);
    with_client(|client| async move {
        tokio::select! {
            result = stream_logs(&client, &name, &args.services, args.follow, &args.tail, &mut printer) => result?,
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(ExitCode::SUCCESS)
    })
}

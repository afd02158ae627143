//! `stats`: one table (`--no-stream`) or a refreshing one.

use std::process::ExitCode;
use std::time::Duration;

use berth_runtime::container::stats::Stats;
use clap::Args;
use serde_json::json;

use super::format::{binary_size, decimal_size, render, table};
use crate::api::client::Client;
use crate::api::containers::StatsRequest;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table, json, or a template.
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

fn fields(stats: &Stats, no_trunc: bool) -> serde_json::Value {
    json!({
        "Container": if no_trunc { stats.id.clone() } else { stats.id[..12].to_owned() },
        "ID": if no_trunc { stats.id.clone() } else { stats.id[..12].to_owned() },
        "Name": stats.name,
        "CPUPerc": format!("{:.2}%", stats.cpu_percent),
        "MemUsage": format!("{} / {}", binary_size(stats.memory_usage), binary_size(stats.memory_limit)),
        "MemPerc": format!("{:.2}%", stats.memory_percent),
        "NetIO": format!("{} / {}", decimal_size(stats.net_rx), decimal_size(stats.net_tx)),
        "BlockIO": format!("{} / {}", decimal_size(stats.block_read), decimal_size(stats.block_write)),
        "PIDs": stats.pids.to_string(),
    })
}

pub fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let request = StatsRequest { containers: args.containers.clone(), all: args.all };
    with_client(|client| async move { show(&client, &args, &request).await })
}

/// One table, or (without `--no-stream`) one after the other, a reading each.
async fn show(client: &Client, args: &StatsArgs, request: &StatsRequest) -> anyhow::Result<ExitCode> {
    loop {
        let readings: Vec<Stats> = client.post("/containers/stats", request).await?;
        let rows: Vec<serde_json::Value> = readings.iter().map(|s| fields(s, args.no_trunc)).collect();
        let mut out = String::new();
        match args.format.as_deref() {
            Some("json") => rows.iter().for_each(|row| out.push_str(&format!("{row}\n"))),
            Some(template) if template != "table" => {
                for row in &rows {
                    out.push_str(&render(template, row).map_err(anyhow::Error::msg)?);
                    out.push('\n');
                }
            }
            _ => {
                let keys = ["Container", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"];
                let cells: Vec<Vec<String>> = rows
                    .iter()
                    .map(|row| keys.iter().map(|k| row[*k].as_str().unwrap_or_default().to_owned()).collect())
                    .collect();
                out = table(
                    &["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
                    &cells,
                );
            }
        }
        if args.no_stream {
            print!("{out}");
            return Ok(ExitCode::SUCCESS);
        }
        // Clear the screen and draw again, as Docker does on a terminal.
        print!("\x1b[2J\x1b[H{out}");
        std::io::Write::flush(&mut std::io::stdout())?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

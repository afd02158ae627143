//! `ps`: Docker's columns, `-a`, `-q`, `--filter`, `--format json|table|TEMPLATE`, `--no-trunc`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use berth_runtime::container::list::{Filter, Summary};
use berth_runtime::container::times::human_duration;
use clap::Args;
use serde_json::json;

use super::format::{render, table};
use super::port::column;
use crate::api::containers::{ContainerRow, ListQuery};
use crate::api::query;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (id, name, label, status, exited, ancestor).
    #[arg(short, long)]
    pub filter: Vec<Filter>,
    /// Format output: table, json, or a template such as '{{.Names}}'.
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Show the n last created containers (includes all states).
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    pub latest: bool,
}

/// Docker's quoted, shortened command column.
fn command_column(command: &str, no_trunc: bool) -> String {
    let shown = if no_trunc || command.chars().count() <= 20 {
        command.to_owned()
    } else {
        format!("{}…", command.chars().take(19).collect::<String>())
    };
    format!("\"{shown}\"")
}

/// The fields `--format` sees, named as Docker's.
fn fields(summary: &Summary, ports: &str, no_trunc: bool) -> serde_json::Value {
    let now = chrono::Utc::now();
    let labels: Vec<String> = summary.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Command": command_column(&summary.command, no_trunc),
        "CreatedAt": summary.created.format("%Y-%m-%d %H:%M:%S %z UTC").to_string(),
        "ID": if no_trunc { summary.id.clone() } else { summary.id[..12].to_owned() },
        "Image": summary.image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Names": summary.names.join(","),
        "Networks": "",
        "Ports": ports,
        "RunningFor": format!("{} ago", human_duration(now - summary.created)),
        "Size": "",
        "State": summary.state,
        "Status": summary.status,
    })
}

pub fn ps(args: PsArgs) -> anyhow::Result<ExitCode> {
    let all = args.all || args.last.is_some() || args.latest;
    let path = format!("/containers{}", query(&ListQuery::new(all, &args.filter)));
    let mut rows: Vec<ContainerRow> = with_client(|client| async move { Ok(client.get(&path).await?) })?;
    if let Some(last) = args.last.or(args.latest.then_some(1)) {
        rows.truncate(last);
    }
    // What each publishes now (the daemon's network state: running containers only).
    let ports: BTreeMap<String, String> = rows.iter().map(|row| (row.summary.id.clone(), column(&row.ports))).collect();
    let summaries: Vec<Summary> = rows.into_iter().map(|row| row.summary).collect();
    if args.quiet {
        for summary in &summaries {
            println!("{}", if args.no_trunc { &summary.id[..] } else { &summary.id[..12] });
        }
        return Ok(ExitCode::SUCCESS);
    }
    let row_fields =
        |summary: &Summary| fields(summary, ports.get(summary.id.as_str()).map_or("", String::as_str), args.no_trunc);
    match args.format.as_deref() {
        Some("json") => {
            for summary in &summaries {
                println!("{}", row_fields(summary));
            }
        }
        Some(template) if template != "table" => {
            let (header, template) = match template.strip_prefix("table ") {
                Some(rest) => (true, rest),
                None => (false, template),
            };
            if header {
                let names: String = template.replace("{{.", "").replace("}}", "").to_uppercase();
                println!("{}", names.replace("\\t", "\t"));
            }
            for summary in &summaries {
                println!("{}", render(template, &row_fields(summary)).map_err(anyhow::Error::msg)?);
            }
        }
        _ => {
            let rows: Vec<Vec<String>> = summaries
                .iter()
                .map(|summary| {
                    let row = row_fields(summary);
                    ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
                        .iter()
                        .map(|key| row[*key].as_str().unwrap_or_default().to_owned())
                        .collect()
                })
                .collect();
            print!("{}", table(&["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_cut_like_docker() {
        assert_eq!(command_column("sleep 1000", false), "\"sleep 1000\"");
        assert_eq!(command_column("sh -c 'while true; do sleep 1; done'", false), "\"sh -c 'while true; …\"");
        assert_eq!(
            command_column("sh -c 'while true; do sleep 1; done'", true),
            "\"sh -c 'while true; do sleep 1; done'\""
        );
    }
}

//! `logs`: `-f`, `--tail`, `--since`, `--until`, `-t`.

use std::io::Write;
use std::process::ExitCode;

use berth_runtime::container::logfile::Stream;
use berth_runtime::container::times::parse_time;
use clap::Args;

use crate::api::containers::{LogMessage, LogsQuery};
use crate::api::query as query_string;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time.
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let now = chrono::Utc::now();
    let time =
        |value: &Option<String>| value.as_deref().map(|v| parse_time(v, now)).transpose().map_err(anyhow::Error::msg);
    let tail = match args.tail.as_str() {
        "all" => None,
        n => Some(n.parse().map_err(|_| anyhow::anyhow!("invalid --tail {n:?}: want a number or \"all\""))?),
    };
    let query = LogsQuery { follow: args.follow, tail, since: time(&args.since)?, until: time(&args.until)? };
    let path = format!("/containers/{}/logs{}", args.container, query_string(&query));
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut failed = None;
    let (failure, timestamps) = (&mut failed, args.timestamps);
    with_client(|client| async move {
        Ok(client
            .get_lines(&path, |message: LogMessage| {
                let entry = match message {
                    LogMessage::Entry(entry) => entry,
                    LogMessage::Error(error) => {
                        *failure = Some(error);
                        return Ok(());
                    }
                };
                let out: &mut dyn Write = match entry.stream {
                    Stream::Stdout => &mut stdout,
                    Stream::Stderr => &mut stderr,
                };
                if timestamps {
                    write!(out, "{} ", entry.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))?;
                }
                out.write_all(entry.log.as_bytes())?;
                out.flush()
            })
            .await?)
    })?;
    match failed {
        Some(error) => Err(anyhow::anyhow!(error)),
        None => Ok(ExitCode::SUCCESS),
    }
}

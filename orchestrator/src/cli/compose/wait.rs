//! `up --wait`: poll `ps` until every container of the selected services runs
//! (and is healthy, if it has a healthcheck), or say why not.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::api::client::Client;
use crate::api::compose::PsEntry;

const POLL: Duration = Duration::from_millis(100);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn wait_ready(
    client: &Client,
    project: &str,
    services: &[String],
    timeout: Option<u64>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    loop {
        let entries: Vec<PsEntry> = client.get(&format!("/projects/{project}/ps?all=true")).await?;
        let selected: Vec<&PsEntry> =
            entries.iter().filter(|e| services.is_empty() || services.contains(&e.service)).collect();
        let mut ready = !selected.is_empty();
        for entry in &selected {
            match (entry.state.as_str(), entry.health.as_str()) {
                ("running", "" | "healthy") => {}
                ("running", "unhealthy") => bail!("container {} is unhealthy", entry.name),
                ("exited" | "dead", _) => bail!("container {} exited ({})", entry.name, entry.exit_code),
                _ => ready = false,
            }
        }
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("timed out waiting for the services to be running and healthy");
        }
        tokio::time::sleep(POLL).await;
    }
}

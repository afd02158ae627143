//! Talking to the daemon from the CLI: a small async runtime per command and a
//! client that starts the daemon when none answers.

use std::future::Future;

use anyhow::Context;

use serde::de::DeserializeOwned;

use crate::api::client::Client;

/// Runs `work` with a client of the daemon on `$BERTH_RUN/berth.sock`.
pub fn with_client<T, F, Fut>(work: F) -> anyhow::Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = Client::connect_or_start().await?;
        work(client).await
    })
}

/// GETs each of `paths` over one client: what was found, and whether anything
/// was not (each failure printed as `{prefix}{error}`, as `inspect` does).
pub fn get_each<T: DeserializeOwned>(paths: Vec<String>, prefix: &str) -> anyhow::Result<(Vec<T>, bool)> {
    with_client(|client| async move {
        let mut found = Vec::new();
        let mut failed = false;
        for path in &paths {
            match client.get(path).await {
                Ok(value) => found.push(value),
                Err(error) => {
                    eprintln!("{prefix}{error}");
                    failed = true;
                }
            }
        }
        Ok((found, failed))
    })
}

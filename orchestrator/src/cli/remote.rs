//! Talking to the daemon from the CLI: a small async runtime per command and a
//! client that starts the daemon when none answers.

use std::future::Future;

use anyhow::Context;

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

//! `berth pull`

use std::process::ExitCode;

use berth_runtime::image::{Digest, Event, Platform, Reference};
use clap::Args;
use hyper::Method;

use super::RegistryArgs;
use super::auth::auth_headers;
use super::progress::{Display, Verb};
use crate::api::client::{Client, json_body, read_lines};
use crate::api::images::{PullRequest, PushRequest, Transfer};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image: NAME[:TAG|@DIGEST], e.g. busybox or localhost:5000/app:v1.
    pub reference: String,
    /// Pull the image for this platform from a multi-platform index (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Print only the image name.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// How a pull or push through the daemon ended.
pub(crate) enum Done {
    Pulled { digest: Digest, changed: bool },
    Pushed { digest: Digest, size: usize },
}

/// Sends a pull or push to the daemon with this user's credentials for the
/// registry, handing its progress to `on_event` as it comes.
pub(crate) async fn transfer(
    client: &Client,
    path: &str,
    registry: &str,
    body: &impl serde::Serialize,
    mut on_event: impl FnMut(Event),
) -> anyhow::Result<Done> {
    let response = client.request(Method::POST, path, &auth_headers(registry)?, json_body(body)?).await?;
    let mut last = None;
    read_lines(response, |line: Transfer| match line {
        Transfer::Progress(event) => on_event(event),
        other => last = Some(other),
    })
    .await?;
    match last {
        Some(Transfer::Pulled { digest, changed }) => Ok(Done::Pulled { digest, changed }),
        Some(Transfer::Pushed { digest, size }) => Ok(Done::Pushed { digest, size }),
        Some(Transfer::Failed(message)) => Err(anyhow::anyhow!(message)),
        Some(Transfer::Progress(_)) | None => anyhow::bail!("the berth daemon stopped before the transfer ended"),
    }
}

/// Pulls `reference` through the daemon; the digest it resolved to, and whether anything changed.
pub(crate) async fn pull_image(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    registry: &RegistryArgs,
    on_event: impl FnMut(Event),
) -> anyhow::Result<(Digest, bool)> {
    let request = PullRequest {
        reference: reference.to_string(),
        platform: platform.map(ToString::to_string),
        insecure: registry.insecure.clone(),
    };
    match transfer(client, "/images/pull", reference.registry(), &request, on_event).await? {
        Done::Pulled { digest, changed } => Ok((digest, changed)),
        Done::Pushed { .. } => anyhow::bail!("the berth daemon answered a pull with a push"),
    }
}

/// Pushes `reference` through the daemon; the manifest's digest and size.
pub(crate) async fn push_image(
    client: &Client,
    reference: &Reference,
    registry: &RegistryArgs,
    on_event: impl FnMut(Event),
) -> anyhow::Result<(Digest, usize)> {
    let request = PushRequest { reference: reference.to_string(), insecure: registry.insecure.clone() };
    match transfer(client, "/images/push", reference.registry(), &request, on_event).await? {
        Done::Pushed { digest, size } => Ok((digest, size)),
        Done::Pulled { .. } => anyhow::bail!("the berth daemon answered a push with a pull"),
    }
}

pub fn run(args: PullArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let display = Display::new(Verb::Pull, args.quiet);
    display.line(&format!(
        "{}: Pulling from {}",
        reference.tag().map_or_else(|| reference.manifest_selector(), str::to_owned),
        reference.repository()
    ));
    let (target, shown) = (&reference, &display);
    let (digest, changed) = with_client(|client| async move {
        pull_image(&client, target, args.platform.as_ref(), &args.registry, |event| shown.event(event)).await
    })?;
    display.line(&format!("Digest: {digest}"));
    display.line(&if changed {
        format!("Status: Downloaded newer image for {}", reference.familiar())
    } else {
        format!("Status: Image is up to date for {}", reference.familiar())
    });
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}

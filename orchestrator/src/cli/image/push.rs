//! `berth push`

use std::process::ExitCode;

use berth_runtime::image::Reference;
use clap::Args;

use super::RegistryArgs;
use super::progress::{Display, Verb};
use super::pull::push_image;
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The local image name to push: NAME[:TAG], e.g. localhost:5000/app:v1.
    pub reference: String,
    /// Print only the pushed digest.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let display = Display::new(Verb::Push, args.quiet);
    display.line(&format!("The push refers to repository [{}]", reference.name()));
    let (target, shown, registry) = (&reference, &display, &args.registry);
    let (digest, size) =
        with_client(|client| async move { push_image(&client, target, registry, |event| shown.event(event)).await })?;
    if args.quiet {
        println!("{digest}");
    } else {
        let label = reference.tag().map_or_else(|| reference.manifest_selector(), str::to_owned);
        display.line(&format!("{label}: digest: {digest} size: {size}"));
    }
    Ok(ExitCode::SUCCESS)
}

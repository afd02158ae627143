//! `berth pull`

use std::process::ExitCode;

use berth_runtime::image::{Platform, PullOptions, Reference};
use clap::Args;

use super::progress::{Display, Verb};
use super::{RegistryArgs, block_on, open_store};

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

pub fn run(args: PullArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let store = open_store()?;
    let display = Display::new(Verb::Pull, args.quiet);
    display.line(&format!(
        "{}: Pulling from {}",
        reference.tag().map_or_else(|| reference.manifest_selector(), str::to_owned),
        reference.repository()
    ));
    let options = PullOptions { platform: args.platform, registry: args.registry.options() };
    let pulled = block_on(store.pull(&reference, &options, &display))??;
    display.line(&format!("Digest: {}", pulled.digest));
    display.line(&if pulled.changed {
        format!("Status: Downloaded newer image for {}", reference.familiar())
    } else {
        format!("Status: Image is up to date for {}", reference.familiar())
    });
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}

//! `berth push`

use std::process::ExitCode;

use berth_runtime::image::Reference;
use clap::Args;

use super::progress::{Display, Verb};
use super::{RegistryArgs, block_on, open_store};

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
    let store = open_store()?;
    let display = Display::new(Verb::Push, args.quiet);
    display.line(&format!("The push refers to repository [{}]", reference.name()));
    let pushed = block_on(store.push(&reference, &args.registry.options(), &display))??;
    if args.quiet {
        println!("{}", pushed.digest);
    } else {
        let label = reference.tag().map_or_else(|| reference.manifest_selector(), str::to_owned);
        display.line(&format!("{label}: digest: {} size: {}", pushed.digest, pushed.size));
    }
    Ok(ExitCode::SUCCESS)
}

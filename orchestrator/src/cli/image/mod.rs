//! The image commands: pull, push, images, tag, rmi, image (inspect, prune,
//! ls, pull, push, rm, tag, save, load, import), save, load, import, login, logout. Parsing
//! and printing only; the daemon does the work (in `berth_runtime::image`). Credentials
//! and the files named on the command line stay with the user.

mod auth;
mod format;
mod import;
mod inspect;
mod list;
mod progress;
mod pull;
mod push;
mod remove;
mod transfer;

use std::process::ExitCode;

use anyhow::Context;
use berth_runtime::image::RegistryOptions;
use clap::{Args, Subcommand};

pub use auth::{LoginArgs, LogoutArgs, login, logout};
pub use import::{ImportArgs, run as import};
pub use list::{ImagesArgs, run as images};
pub(crate) use pull::pull_image;
pub use pull::{PullArgs, run as pull};
pub use push::{PushArgs, run as push};
pub use remove::{PruneArgs, RmiArgs, run as rmi};
pub use transfer::{LoadArgs, SaveArgs, load, save};

use crate::api::images::TagRequest;
use crate::cli::remote::with_client;

/// `berth image ...`
#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Display detailed information on one or more images.
    Inspect(inspect::InspectArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// List images.
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// Remove one or more images.
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Save one or more images to a tar archive.
    Save(SaveArgs),
    /// Load images from a tar archive.
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
}

pub fn run_image(args: ImageArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ImageCommand::Inspect(args) => inspect::run(args),
        ImageCommand::Prune(args) => remove::prune(args),
        ImageCommand::Ls(args) => list::run(args),
        ImageCommand::Pull(args) => pull::run(args),
        ImageCommand::Push(args) => push::run(args),
        ImageCommand::Rm(args) => remove::run(args),
        ImageCommand::Tag(args) => tag(args),
        ImageCommand::Save(args) => transfer::save(args),
        ImageCommand::Load(args) => transfer::load(args),
        ImageCommand::Import(args) => import::run(args),
    }
}

/// `berth tag SOURCE TARGET`
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to name: a reference or an ID.
    pub source: String,
    /// The new name, e.g. localhost:5000/app:v1.
    pub target: String,
}

pub fn tag(args: TagArgs) -> anyhow::Result<ExitCode> {
    let request = TagRequest { source: args.source, target: args.target };
    with_client(|client| async move { Ok(client.post::<_, ()>("/images/tag", &request).await?) })?;
    Ok(ExitCode::SUCCESS)
}

/// Registry reach, shared by pull, push and login.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Reach this registry (host:port) over plain http; localhost and 127.0.0.0/8 always are.
    #[arg(
        long = "insecure-registry",
        value_name = "HOST:PORT",
        env = "BERTH_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure: Vec<String>,
}

impl RegistryArgs {
    fn options(&self) -> RegistryOptions {
        RegistryOptions { insecure: self.insecure.clone(), config_path: None }
    }
}

/// Async library calls (login's check of the registry) run on a runtime of their own.
fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    Ok(runtime.block_on(future))
}

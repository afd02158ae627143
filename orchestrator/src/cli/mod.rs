//! Command-line interface: argument parsing and printing only; the work is in the library.

mod compose;
mod container;
mod daemon;
mod image;
mod network;
mod remote;

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "A container engine and declarative multi-container orchestrator")]
pub struct Cli {
    /// More log output: --verbose info, twice debug, three times trace (BERTH_LOG overrides, e.g. BERTH_LOG=berth=debug).
    /// Long only: `-v` is Docker's `--volume` (run, create) and `--volumes` (rm).
    #[arg(long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Define and run multi-container applications.
    Compose(compose::ComposeArgs),
    /// Run the berth daemon (the CLI starts it in the background when needed).
    Daemon(daemon::DaemonArgs),
    /// Show the berth version of this CLI and of the daemon (started if none runs).
    Version(daemon::VersionArgs),
    /// Download an image from a registry.
    Pull(image::PullArgs),
    /// Upload an image to a registry.
    Push(image::PushArgs),
    /// List images.
    Images(image::ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(image::TagArgs),
    /// Remove one or more images.
    Rmi(image::RmiArgs),
    /// Manage images.
    Image(image::ImageArgs),
    /// Save one or more images to a tar archive.
    Save(image::SaveArgs),
    /// Load images from a tar archive.
    Load(image::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(image::ImportArgs),
    /// Log in to a registry.
    Login(image::LoginArgs),
    /// Log out from a registry.
    Logout(image::LogoutArgs),
    /// Manage networks.
    Network(network::NetworkArgs),
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(container::RunArgs),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(container::CreateArgs),
    /// Start one or more stopped containers.
    Start(container::StartArgs),
    /// List containers.
    Ps(container::PsArgs),
    /// Fetch the logs of a container.
    Logs(container::LogsArgs),
    /// Execute a command in a running container.
    Exec(container::ExecArgs),
    /// Stop one or more running containers.
    Stop(container::StopArgs),
    /// Kill one or more running containers.
    Kill(container::KillArgs),
    /// Restart one or more containers.
    Restart(container::RestartArgs),
    /// Remove one or more containers.
    Rm(container::RmArgs),
    /// Pause all processes within one or more containers.
    Pause(container::PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(container::PauseArgs),
    /// Display detailed information on one or more containers.
    Inspect(container::InspectArgs),
    /// Display the running processes of a container.
    Top(container::TopArgs),
    /// List port mappings or a specific mapping for the container.
    Port(container::PortArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(container::WaitArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(container::CpArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(container::StatsArgs),
    /// Rename a container.
    Rename(container::RenameArgs),
    /// Manage containers.
    Container(container::ContainerArgs),
    /// The embedded DNS server process (started by berth itself).
    #[command(name = "__dns-server", hide = true)]
    DnsServer(network::DnsServerArgs),
}

/// Logs go to stderr; warnings are on by default, as compose prints them.
/// `timestamps` for processes whose stderr is a log file (the daemon, the
/// monitors), not for a command's output on a terminal.
pub fn init_logging(verbose: u8, timestamps: bool) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let format = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if timestamps {
        format.init();
    } else {
        format.without_time().init();
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Compose(args) => compose::run(args),
        Command::Daemon(args) => daemon::run(args),
        Command::Version(args) => daemon::version(args),
        Command::Pull(args) => image::pull(args),
        Command::Push(args) => image::push(args),
        Command::Images(args) => image::images(args),
        Command::Tag(args) => image::tag(args),
        Command::Rmi(args) => image::rmi(args),
        Command::Image(args) => image::run_image(args),
        Command::Save(args) => image::save(args),
        Command::Load(args) => image::load(args),
        Command::Import(args) => image::import(args),
        Command::Login(args) => image::login(args),
        Command::Logout(args) => image::logout(args),
        Command::Network(args) => network::run(args),
        Command::Run(args) => container::run(args),
        Command::Create(args) => container::create(args),
        Command::Start(args) => container::start(args),
        Command::Ps(args) => container::ps(args),
        Command::Logs(args) => container::logs(args),
        Command::Exec(args) => container::exec(args),
        Command::Stop(args) => container::stop(args),
        Command::Kill(args) => container::kill(args),
        Command::Restart(args) => container::restart(args),
        Command::Rm(args) => container::rm(args),
        Command::Pause(args) => container::pause(args),
        Command::Unpause(args) => container::unpause(args),
        Command::Inspect(args) => container::inspect(args),
        Command::Top(args) => container::top(args),
        Command::Port(args) => container::port(args),
        Command::Wait(args) => container::wait(args),
        Command::Cp(args) => container::cp(args),
        Command::Stats(args) => container::stats(args),
        Command::Rename(args) => container::rename(args),
        Command::Container(args) => container::container(args),
        Command::DnsServer(args) => network::dns_server(args),
    }
}

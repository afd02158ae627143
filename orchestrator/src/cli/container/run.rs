//! `run`, `start` and `attach`-style sessions: stdio between this terminal
//! and the container, its exit code as ours.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::process::ExitCode;

use berth_runtime::container::{AttachStreams, Containers, Events, Pump, Reply, Started};
use clap::Args;
use nix::sys::signal::Signal;

use super::create::{CreateArgs, create_container};
use super::terminal::{RawMode, Signals, window_size};
use super::{exit_for, print_error};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the container in the background and print its ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process (non-TTY mode only).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `berth run`
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.create.tty && args.create.interactive && !args.detach && !std::io::stdin().is_terminal() {
        eprintln!("berth: the input device is not a TTY");
        return Ok(ExitCode::FAILURE);
    }
    let (containers, id) = match create_container(&args.create) {
        Ok(created) => created,
        Err(code) => return Ok(code),
    };
    if args.detach {
        return Ok(match containers.start(&id, None) {
            Ok(_) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                let error = anyhow::Error::from(error);
                print_error(&error);
                exit_for(&error)
            }
        });
    }
    let streams = AttachStreams { stdin: args.create.interactive, stdout: true, stderr: true };
    Ok(session(&containers, &id, streams, args.create.tty, args.sig_proxy && !args.create.tty))
}

/// Starts the container attached and relays until it exits; the exit code is the container's.
pub(super) fn session(containers: &Containers, id: &str, streams: AttachStreams, tty: bool, proxy: bool) -> ExitCode {
    let raw = if tty && streams.stdin { RawMode::enter() } else { Ok(None) };
    let signals = Signals::block(proxy);
    let started = containers.start(id, Some(streams));
    let result = match (started, raw, signals) {
        (Ok(started), Ok(raw), Ok(signals)) => relay(containers, id, started, streams, tty, signals, raw),
        (Err(error), ..) => Err(error.into()),
        (_, Err(error), _) | (.., Err(error)) => Err(error),
    };
    match result {
        Ok(Reply::Exited(status)) => ExitCode::from(status.exit_code.clamp(0, 255) as u8),
        Ok(Reply::Error(message)) => {
            eprintln!("berth: {message}");
            ExitCode::from(125)
        }
        Ok(Reply::Done) => ExitCode::SUCCESS,
        Err(error) => {
            print_error(&error);
            exit_for(&error)
        }
    }
}

fn relay(
    containers: &Containers,
    id: &str,
    started: Started,
    streams: AttachStreams,
    tty: bool,
    mut signals: Signals,
    raw: Option<RawMode>,
) -> anyhow::Result<Reply> {
    let mut attach = started.attach.ok_or_else(|| anyhow::anyhow!("the monitor gave no attach stream"))?;
    if tty && let Some((rows, cols)) = window_size() {
        attach.resize(rows, cols)?;
    }
    let signal_fd = signals.fd.as_fd().try_clone_to_owned()?;
    let mut handle = || -> Option<(u16, u16)> {
        let mut size = None;
        for signal in signals.pending() {
            if signal == Signal::SIGWINCH {
                size = if tty { window_size() } else { None };
            } else if let Err(error) = containers.kill(id, signal) {
                tracing::warn!(%error, "cannot pass {signal} on to the container");
            }
        }
        size
    };
    let stdin = std::io::stdin();
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let reply = attach.pump(Pump {
        stdin: streams.stdin.then(|| stdin.as_fd()),
        stdout: &mut stdout,
        stderr: &mut stderr,
        events: Some(Events { fd: signal_fd.as_fd(), handle: &mut handle }),
    })?;
    drop(raw);
    Ok(reply)
}

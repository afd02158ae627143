//! `run`, `start` and `attach`-style sessions: stdio between this terminal
//! and the container, its exit code as ours.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::process::ExitCode;

use berth_runtime::container::{AttachStream, AttachStreams, Events, Pump, Reply};
use clap::Args;
use nix::sys::signal::Signal;

use super::create::{CreateArgs, create_container};
use super::terminal::{RawMode, Signals, window_size};
use super::{exit_for, print_error};
use crate::api::containers::{KillRequest, attach_path};
use crate::cli::remote::with_client;

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
    let id = match create_container(&args.create) {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    if args.detach {
        let path = format!("/containers/{id}/start");
        return Ok(match with_client(|client| async move { Ok(client.post::<_, ()>(&path, &()).await?) }) {
            Ok(()) => {
                println!("{id}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                print_error(&error);
                exit_for(&error)
            }
        });
    }
    let streams = AttachStreams { stdin: args.create.interactive, stdout: true, stderr: true };
    let proxy = (args.sig_proxy && !args.create.tty).then_some(id.as_str());
    Ok(session(attach_path(&id, streams.stdin), &(), streams, args.create.tty, proxy))
}

/// Upgrades a POST of `body` to `path` (an attached start, an exec) and relays
/// between this terminal and the daemon, which relays the container's side,
/// until the process exits; its exit code is ours. Signals go on to the
/// container `proxy` names (`--sig-proxy`).
pub(crate) fn session<B: serde::Serialize>(
    path: String,
    body: &B,
    streams: AttachStreams,
    tty: bool,
    proxy: Option<&str>,
) -> ExitCode {
    let raw = if tty && streams.stdin { RawMode::enter() } else { Ok(None) };
    let signals = Signals::block(proxy.is_some());
    let started = with_client(|client| async move { Ok(client.attach(&path, body).await?) });
    let result = match (started, raw, signals) {
        (Ok((socket, pending)), Ok(raw), Ok(signals)) => {
            relay(proxy, AttachStream::relayed(socket, pending), streams, tty, signals, raw)
        }
        (Err(error), ..) | (_, Err(error), _) | (.., Err(error)) => Err(error),
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
    proxy: Option<&str>,
    mut attach: AttachStream,
    streams: AttachStreams,
    tty: bool,
    mut signals: Signals,
    raw: Option<RawMode>,
) -> anyhow::Result<Reply> {
    if tty && let Some((rows, cols)) = window_size() {
        attach.resize(rows, cols)?;
    }
    let signal_fd = signals.fd.as_fd().try_clone_to_owned()?;
    let mut handle = || -> Option<(u16, u16)> {
        let mut size = None;
        for signal in signals.pending() {
            if signal == Signal::SIGWINCH {
                size = if tty { window_size() } else { None };
            } else if let Some(id) = proxy {
                let path = format!("/containers/{id}/kill");
                let request = KillRequest { signal: signal.as_str().to_owned() };
                let sent = with_client(|client| async move { Ok(client.post::<_, ()>(&path, &request).await?) });
                if let Err(error) = sent {
                    tracing::warn!(%error, "cannot pass {signal} on to the container");
                }
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

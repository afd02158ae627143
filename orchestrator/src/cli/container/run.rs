//! `run`, `start` and `attach`-style sessions: stdio between this terminal
//! and the container, its exit code as ours.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::process::ExitCode;

use berth_runtime::container::{AttachStream, AttachStreams, Events, Pump, Reply};
use clap::Args;
use nix::sys::signal::Signal;

use super::create::{CreateArgs, pulling_if_missing, run_request};
use super::terminal::{RawMode, Signals, window_size};
use super::{exit_for, print_error};
use crate::api::client::{Attached, Client};
use crate::api::containers::{Created, KillRequest, run_path};
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
    if let Err(error) = args.create.options() {
        print_error(&error);
        return Ok(exit_for(&error));
    }
    let create = &args.create;
    // One request: the daemon creates the container and starts it (attached,
    // unless detached); an image it does not have is pulled first, as Docker does.
    if args.detach {
        let path = run_path(false, true);
        let created = with_client(|client| async move {
            let request = run_request(&client, create).await?;
            pulling_if_missing(&client, &create.image, async || client.post::<_, Created>(&path, &request).await).await
        });
        return Ok(match created {
            Ok(created) => {
                println!("{}", created.id);
                ExitCode::SUCCESS
            }
            Err(error) => {
                print_error(&error);
                exit_for(&error)
            }
        });
    }
    let streams = AttachStreams { stdin: create.interactive, stdout: true, stderr: true };
    let path = run_path(streams.stdin, false);
    let proxy = args.sig_proxy && !create.tty;
    Ok(session(
        |client| async move {
            let request = run_request(&client, create).await?;
            pulling_if_missing(&client, &create.image, async || client.attach(&path, &request).await).await
        },
        streams,
        create.tty,
        proxy,
    ))
}

/// Upgrades a connection (what `start` sends: an attached start, run, exec)
/// and relays between this terminal and the daemon, which relays the
/// container's side, until the process exits; its exit code is ours. With
/// `proxy` (`--sig-proxy`), signals go on to the container the daemon named.
pub(crate) fn session<F, Fut>(start: F, streams: AttachStreams, tty: bool, proxy: bool) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Attached>>,
{
    let raw = if tty && streams.stdin { RawMode::enter() } else { Ok(None) };
    let signals = Signals::block(proxy);
    let started = with_client(start);
    let result = match (started, raw, signals) {
        (Ok(attached), Ok(raw), Ok(signals)) => {
            let proxy = attached.container.as_deref().filter(|_| proxy).map(str::to_owned);
            let stream = AttachStream::relayed(attached.socket, attached.pending);
            relay(proxy.as_deref(), stream, streams, tty, signals, raw)
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

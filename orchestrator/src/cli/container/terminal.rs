//! The local terminal during `run -it`, `start -a` and `exec -it`: raw mode,
//! window size, and the signals berth passes on to the container.

use std::io::IsTerminal;
use std::os::fd::AsFd;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};

/// Puts stdin in raw mode while it lives (keys go to the container's terminal untranslated).
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode if stdin is a terminal; `None` otherwise.
    pub fn enter() -> anyhow::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

/// The size of the terminal on stdout (or stdin): rows, columns.
pub fn window_size() -> Option<(u16, u16)> {
    let stdout = std::io::stdout();
    let size = rustix::termios::tcgetwinsize(stdout.as_fd())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin().as_fd()))
        .ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// Signals read from a descriptor instead of acting on berth: SIGWINCH, and
/// (for `--sig-proxy`) the ones Docker passes on to the container.
pub struct Signals {
    pub fd: SignalFd,
}

/// What `docker run --sig-proxy` forwards.
pub const PROXIED: [Signal; 6] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

impl Signals {
    pub fn block(proxy: bool) -> anyhow::Result<Signals> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGWINCH);
        if proxy {
            for signal in PROXIED {
                mask.add(signal);
            }
        }
        mask.thread_block()?;
        Ok(Signals { fd: SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)? })
    }

    /// The signals that arrived since the last call.
    pub fn pending(&mut self) -> Vec<Signal> {
        let mut signals = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                signals.push(signal);
            }
        }
        signals
    }
}

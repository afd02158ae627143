//! The embedded DNS server as its own small binary, for the network suite: the
//! `DnsLauncher` the tests give the manager (the `berth` binary does the same
//! through a hidden subcommand).

use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match berth_network::dns::serve_main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-test-dns: {e}");
            ExitCode::FAILURE
        }
    }
}

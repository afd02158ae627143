//! Signal names as `docker kill -s` and `--stop-signal` accept them.

use nix::sys::signal::Signal;

/// Parses `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| format!("invalid signal: {text}"));
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<Signal>().map_err(|_| format!("invalid signal: {text}"))
}

/// The exit code a shell (and Docker) reports for a process killed by `signal`.
pub fn exit_code_for(signal: Signal) -> i32 {
    128 + signal as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_case() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse_signal("nope").unwrap_err(), "invalid signal: nope");
        assert!(parse_signal("999").is_err());
        assert_eq!(exit_code_for(Signal::SIGKILL), 137);
    }
}

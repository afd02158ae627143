//! What runs in the container's process right before the command replaces
//! it: Docker's (runc's) messages for a command that cannot be found or run, a
//! clean signal state, and the container's seccomp filter, compiled once
//! ([`CompiledFilter`]; libcontainer would compile the profile in every process).

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal};
use oci_spec::runtime::Spec;

use super::seccomp::bpf::CompiledFilter;

/// berth's [`Executor`].
#[derive(Clone, Debug, Default)]
pub struct BerthExecutor {
    /// Loaded just before exec (the spec libcontainer reads has none).
    pub seccomp: Option<CompiledFilter>,
}

fn args(spec: &Spec) -> Option<&Vec<String>> {
    spec.process().as_ref()?.args().as_ref().filter(|args| !args.is_empty())
}

fn env_path(spec: &Spec) -> Option<String> {
    spec.process().as_ref()?.env().as_ref()?.iter().find_map(|pair| pair.strip_prefix("PATH=")).map(str::to_owned)
}

/// Finds the program as execvp would, with runc's messages when it cannot.
pub fn resolve_command(command: &str, path_var: Option<&str>) -> Result<PathBuf, String> {
    let check = |candidate: &Path| -> Result<(), String> {
        let meta = std::fs::metadata(candidate)
            .map_err(|e| format!("exec: {command:?}: stat {}: {}", candidate.display(), describe(&e)))?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("exec: {command:?}: permission denied"));
        }
        Ok(())
    };
    if command.contains('/') {
        let path = PathBuf::from(command);
        return check(&path).map(|()| path);
    }
    for dir in path_var.unwrap_or("").split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(command);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return Ok(candidate);
        }
    }
    Err(format!("exec: {command:?}: executable file not found in $PATH"))
}

/// An I/O error as Go (and so Docker) words it: "no such file or directory".
fn describe(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => lower_first(nix::errno::Errno::from_raw(code).desc()),
        None => error.to_string(),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// The container must not inherit the monitor's blocked signals or Rust's
/// ignored SIGPIPE: both survive exec.
fn reset_signals() -> Result<(), nix::Error> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    default_sigpipe()
}

#[allow(unsafe_code)]
fn default_sigpipe() -> Result<(), nix::Error> {
    // SAFETY: SIG_DFL installs no handler, so no Rust code can run in signal
    // context; this process is single-threaded and about to exec.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map(drop)
}

impl Executor for BerthExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let args = args(spec).ok_or_else(|| ExecutorValidationError::ArgValidationError("no command".into()))?;
        resolve_command(&args[0], env_path(spec).as_deref())
            .map(drop)
            .map_err(ExecutorValidationError::ArgValidationError)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let args = args(spec).ok_or(ExecutorError::InvalidArg)?;
        reset_signals().map_err(|e| ExecutorError::Other(format!("cannot reset signals: {e}")))?;
        if let Some(filter) = &self.seccomp {
            filter.load().map_err(|e| ExecutorError::Other(format!("cannot load the seccomp filter: {e}")))?;
        }
        let program = resolve_command(&args[0], env_path(spec).as_deref()).map_err(ExecutorError::Other)?;
        let program =
            CString::new(program.into_os_string().into_encoded_bytes()).map_err(|_| ExecutorError::InvalidArg)?;
        let argv: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| ExecutorError::InvalidArg)?;
        let errno = nix::unistd::execv(&program, &argv).unwrap_err();
        Err(ExecutorError::Other(format!("exec: {:?}: {}", args[0], lower_first(errno.desc()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_runc() {
        assert_eq!(resolve_command("sh", Some("/nonexistent:/bin")).unwrap(), Path::new("/bin/sh"));
        assert_eq!(
            resolve_command("no-such-command", Some("/bin")).unwrap_err(),
            "exec: \"no-such-command\": executable file not found in $PATH"
        );
        assert_eq!(
            resolve_command("/no/such", None).unwrap_err(),
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        assert_eq!(resolve_command("/etc", None).unwrap_err(), "exec: \"/etc\": permission denied");
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "not a program").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let plain = plain.to_str().unwrap();
        assert_eq!(resolve_command(plain, None).unwrap_err(), format!("exec: {plain:?}: permission denied"));
    }
}

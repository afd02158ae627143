//! Starting early the wait that every container's first cgroup migration makes.
//!
//! Moving a process between cgroups takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, and a writer first waits for an
//! RCU grace period (`rcu_sync_enter`): 7–20 ms on these machines, the
//! largest single cost of a container start (libcontainer moves the
//! container's first process into its cgroups). Writers that come within
//! about one grace period after another one left do not wait again. So when a
//! start is on its way, [`MigrationPrimer::prime`] has a thread of ours write
//! our own PID to our own cgroup's `cgroup.procs` (a move to where we are,
//! which changes nothing) and pay the wait while the daemon, the spawner and
//! the monitor prepare the container, then again every few milliseconds for
//! a while (each such write is cheap), so that the container's migration
//! finds the way open. If the timing misses, it waits as it would have.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long after a poke the way is kept open: a start takes well under this.
const KEEP_OPEN: Duration = Duration::from_millis(60);
/// How often a write renews it (shorter than any grace period seen: ~7 ms).
const RENEW_EVERY: Duration = Duration::from_millis(3);

/// A thread that makes no-op cgroup migrations when poked.
#[derive(Debug)]
pub struct MigrationPrimer {
    /// Until when to keep the way open.
    until: Arc<(Mutex<Option<Instant>>, Condvar)>,
}

impl MigrationPrimer {
    /// The primer of this process, if it can write its own `cgroup.procs`.
    pub fn start() -> Option<MigrationPrimer> {
        let procs = super::cgroup::own_procs_file()?;
        let until = Arc::new((Mutex::new(None), Condvar::new()));
        let shared = Arc::clone(&until);
        std::thread::Builder::new()
            .name("cgroup-primer".into())
            .stack_size(64 * 1024)
            .spawn(move || keep_open_on_request(&procs, &shared))
            .ok()?;
        Some(MigrationPrimer { until })
    }

    /// A container is about to start: begin the wait now. Never blocks.
    pub fn prime(&self) {
        let (until, wake) = &*self.until;
        *until.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now() + KEEP_OPEN);
        wake.notify_one();
    }
}

fn keep_open_on_request(procs: &PathBuf, until: &(Mutex<Option<Instant>>, Condvar)) {
    let (deadline, wake) = until;
    loop {
        {
            let mut deadline = deadline.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            while !deadline.is_some_and(|d| Instant::now() < d) {
                *deadline = None;
                deadline = wake.wait(deadline).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
        if let Err(error) = move_nowhere(procs) {
            tracing::debug!(%error, procs = %procs.display(), "cannot prime cgroup migrations");
            return;
        }
        std::thread::sleep(RENEW_EVERY);
    }
}

/// Writes this process's PID to `procs`, its own cgroup's.
fn move_nowhere(procs: &PathBuf) -> std::io::Result<()> {
    std::fs::write(procs, std::process::id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priming_moves_this_process_nowhere() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("priming_moves_this_process_nowhere: SKIPPED, needs root");
            return;
        }
        let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let procs = crate::container::cgroup::own_procs_file().expect("this machine has a cgroup hierarchy");
        move_nowhere(&procs).unwrap();
        assert_eq!(std::fs::read_to_string("/proc/self/cgroup").unwrap(), before);
        let pid = std::process::id().to_string();
        assert!(std::fs::read_to_string(&procs).unwrap().lines().any(|line| line == pid));
    }
}
